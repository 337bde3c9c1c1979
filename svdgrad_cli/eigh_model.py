"""The model of ``--decomposition eigh`` (issue 27): each backend's judged gradient, a matrix's report
and a run's. pipeline/eigh_check.py fills them; render/eigh_report.py shows them, reading nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from svdgrad_cli.model import RunReport
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict, matrix_verdict

FINDINGS = {BackendVerdict.WRONG, BackendVerdict.NON_FINITE}
UNJUDGED = {BackendVerdict.UNSUPPORTED, BackendVerdict.FAILED}


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

    @property
    def source(self) -> str:
        """What the progress bar names."""
        return self.label

    @property
    def verdict(self) -> MatrixVerdict:
        return matrix_verdict((r.verdict for r in self.results), self.unique, self.defined)


@dataclass
class EighRun:
    """Every matrix's report, and the inputs that could not be checked (one line each)."""

    reports: list[EighReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    run: RunReport | None = None  # the run loop's record (run_loop.py): whether it was interrupted
    swept: str | None = None  # a sweep's parameter ("gap", "scale"); None for a check
    parameters: list[float] = field(default_factory=list)  # a sweep's: each report's gap or exponent

    @property
    def interrupted(self) -> bool:
        return self.run is not None and self.run.interrupted

    @property
    def verdicts(self) -> list[BackendVerdict]:
        return [r.verdict for report in self.reports for r in report.results]

    @property
    def exit_code(self) -> int:
        """1 on a finding (wrong, non-finite); else 2 if a backend failed, or, for a check, if an
        input was not checked or nothing was judged; else 0 (an interrupted run's is its RunReport's)."""
        if self.run is not None and self.run.interrupted:
            return self.run.exit_code
        verdicts = self.verdicts
        if any(v in FINDINGS for v in verdicts):
            return 1
        if self.swept is not None:  # a sweep's undecided or undefined points are what it measures
            return 2 if BackendVerdict.FAILED in verdicts else 0
        judged = [v for v in verdicts if v not in UNJUDGED]
        return 2 if self.errors or BackendVerdict.FAILED in verdicts or not judged else 0
