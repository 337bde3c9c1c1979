"""The model of ``--decomposition eigh`` (issue 27): each backend's judged gradient, a matrix's report
and a run's. pipeline/eigh_check.py fills them; render/eigh_report.py shows them, reading nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from svdgrad_cli.mode_model import CheckedRun, judged_exit_code
from svdgrad_cli.verdicts import FAILING, BackendVerdict, MatrixVerdict, verdicts_present, worst


@dataclass(frozen=True)
class EighResult:
    """One backend's gradient of one matrix, judged."""

    backend: str
    verdict: BackendVerdict
    error: float | None = None  # ||sym(G_b) - G||_F, or the distance to the gradient set
    relative_error: float | None = None  # error / ||G||_F
    budget: float | None = None  # the relative budget
    asymmetry: float | None = None  # ||G_b - G_b^T||_F / 2 / ||G||_F: which triangle it reads
    message: str = ""
    forward: str = ""  # for a finding: whether its own eigendecomposition or its backward is off


@dataclass(frozen=True)
class EighReport:
    """One symmetric matrix checked under --decomposition eigh."""

    label: str
    shape: tuple[int, int]
    dtype: str
    loss: str
    eigenvalues: tuple[float, ...]
    reference: str  # how the reference was found, or why the loss has no gradient here
    defined: bool
    unique: bool
    results: list[EighResult] = field(default_factory=list)
    symmetrized: float | None = None  # ||A - A^T||_F / ||A||_F removed by --symmetrize
    precision: str = "float64"  # the reference's: "float64", or "mpmath, N digits" (eigh_highprec.py)

    @property
    def source(self) -> str:
        """What the progress bar names."""
        return self.label

    @property
    def verdicts(self) -> frozenset[MatrixVerdict]:
        """Every matrix verdict true of this matrix (--fail-on reads them all)."""
        return verdicts_present((r.verdict for r in self.results), self.unique, self.defined)

    @property
    def verdict(self) -> MatrixVerdict:
        return worst(self.verdicts)


@dataclass
class EighRun(CheckedRun):
    """Every matrix's report, and the inputs that could not be checked (one line each)."""

    reports: list[EighReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failing: frozenset[str] = frozenset(FAILING)  # the matrix verdicts that exit 1 (--fail-on)
    swept: str | None = None  # a sweep's parameter ("gap", "scale"); None for a check
    parameters: list[float] = field(default_factory=list)  # a sweep's: each report's gap or exponent

    @property
    def verdicts(self) -> list[BackendVerdict]:
        return [r.verdict for report in self.reports for r in report.results]

    def judged_code(self) -> int:
        """mode_model.judged_exit_code (2 where an input or a point was not checked, a backend failed
        or, for a check, nothing was judged; else 1 on a verdict of --fail-on); a sweep's undecided or
        undefined points are what it measures, so judging none of them is not an error."""
        reports = [r.verdicts for r in self.reports]
        if self.swept is not None and not self.errors and BackendVerdict.FAILED not in self.verdicts:
            return 1 if any(self.failing & present for present in reports) else 0
        return judged_exit_code(self.verdicts, reports, self.failing, bool(self.errors or self.unmatched))
