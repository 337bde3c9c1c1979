"""The model of ``--mode jvp|hvp`` (issue 25): each path's result along each direction, a matrix's
report, a run's and a sweep's. pipeline/modes.py fills them; render/modes.py and render/mode_sweep.py
show them, reading nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from svdgrad_cli.model import RunReport, tensor_names, unmatched_patterns
from svdgrad_cli.numerics.differentiated import DerivativeMode
from svdgrad_cli.sweep_model import Family
from svdgrad_cli.verdicts import FAILING, BackendVerdict, MatrixVerdict, verdicts_present, worst


@dataclass(frozen=True)
class PathResult:
    """One path of one backend along one direction, judged."""

    backend: str
    path: str
    verdict: BackendVerdict
    error: float | None = None  # |JVP - L'(A;E)| or ||HVP - H[E]||_F
    relative_error: float | None = None  # error / the budget's scale
    budget: float | None = None  # relative budget
    value: float | None = None  # the JVP itself (jvp mode)
    message: str = ""


@dataclass(frozen=True)
class DirectionResult:
    """One direction E: the reference and every path's result."""

    index: int
    reference: str  # what the reference is, or why there is none
    defined: bool
    unique: bool
    value: float | None = None  # jvp: L'(A; E)
    interval: tuple[float, float] | None = None  # jvp at a non-unique gradient: [low, high]
    norm: float | None = None  # hvp: ||H(A)[E]||_F
    results: list[PathResult] = field(default_factory=list)


@dataclass(frozen=True)
class ModeReport:
    """One matrix checked in one mode."""

    label: str
    shape: tuple[int, int]
    mode: DerivativeMode
    loss: str
    dtype: str
    directions: list[DirectionResult]

    @property
    def source(self) -> str:
        """What the progress bar names."""
        return self.label

    @property
    def answered(self) -> set[str]:
        """The backends that answered on some path (their unsupported paths are not news)."""
        return {
            r.backend for d in self.directions for r in d.results if r.verdict != BackendVerdict.UNSUPPORTED
        }

    @property
    def verdicts(self) -> frozenset[MatrixVerdict]:
        """Every matrix verdict true of this matrix (--fail-on reads them all); a backend's
        unsupported path counts only if none of its paths answered."""
        answered = self.answered
        counted = [
            r.verdict
            for d in self.directions
            for r in d.results
            if r.verdict != BackendVerdict.UNSUPPORTED or r.backend not in answered
        ]
        unique, defined = all(d.unique for d in self.directions), all(d.defined for d in self.directions)
        return verdicts_present(counted, unique, defined)

    @property
    def verdict(self) -> MatrixVerdict:
        """The worst news."""
        return worst(self.verdicts)

    def rows(self):
        """(direction, path result) of every path along every direction."""
        return ((d, r) for d in self.directions for r in d.results)


def judged_exit_code(backend_verdicts, matrix_verdicts, failing, unchecked: bool) -> int:
    """2 if something was not checked (``unchecked``: an input, a --select that matched nothing), a
    backend failed or nothing was judged; else 1 if a matrix has a verdict of --fail-on (default:
    wrong, non-finite); else 0. ``matrix_verdicts``: each matrix's set of verdicts."""
    verdicts = list(backend_verdicts)
    judged = [v for v in verdicts if v not in {BackendVerdict.UNSUPPORTED, BackendVerdict.FAILED}]
    if unchecked or BackendVerdict.FAILED in verdicts or not judged:
        return 2
    return 1 if any(failing & present for present in matrix_verdicts) else 0


def _exit_code(run: ModeRun) -> int:
    """judged_exit_code of every path (an interrupted run's code is its RunReport's: run_loop.py)."""
    verdicts = [r.verdict for report in run.reports for _, r in report.rows()]
    unchecked = bool(run.errors or run.unmatched)
    return judged_exit_code(verdicts, (r.verdicts for r in run.reports), run.failing, unchecked)


@dataclass
class Interruptible:
    """What a run and a sweep in a mode share: the run loop's record (run_loop.py), which says
    whether it was interrupted, and then the exit code (130, or 143 by SIGTERM)."""

    run: RunReport | None = field(default=None, kw_only=True)

    @property
    def interrupted(self) -> bool:
        return self.run is not None and self.run.interrupted

    @property
    def exit_code(self) -> int:
        if self.run is not None and self.run.interrupted:
            return self.run.exit_code
        return self.judged_code()

    def judged_code(self) -> int:
        """The exit code of what was judged (the run was not interrupted)."""
        raise NotImplementedError


@dataclass
class CheckedRun(Interruptible):
    """What a check of paths outside the SVD pipeline keeps besides its reports (--mode jvp|hvp,
    --decomposition eigh): the --select patterns, every input met and, in a shard's run
    (judged_session.py), each report's and each error's position in the unsharded run."""

    select: tuple[str, ...] = field(default=(), kw_only=True)  # a pattern matching no tensor: an error
    sources: list[str] = field(
        default_factory=list, kw_only=True
    )  # every input met: judged, refused, skipped
    positions: list[tuple[int, ...]] = field(default_factory=list, kw_only=True)  # of reports (shards)
    error_positions: list[tuple[int, ...]] = field(default_factory=list, kw_only=True)  # of errors

    @property
    def unmatched(self) -> tuple[str, ...]:
        """The --select patterns that matched no tensor met (none where no tensor was met); not said
        of one shard, whose part may hold none of the tensors a pattern names."""
        if self.interrupted or (self.run is not None and self.run.shard is not None):
            return ()
        return unmatched_patterns(self.select, tensor_names(self.sources))


@dataclass
class ModeRun(CheckedRun):
    """Every matrix's report in one mode, and the inputs that could not be checked."""

    mode: DerivativeMode
    reports: list[ModeReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per input that was not checked
    failing: frozenset[str] = frozenset(FAILING)  # the matrix verdicts that exit 1 (--fail-on)

    def judged_code(self) -> int:
        return _exit_code(self)


@dataclass(frozen=True)
class ModePoint:
    """One point of a sweep in one mode: its label, its parameter x and its report."""

    label: str
    parameter: float
    report: ModeReport

    @property
    def source(self) -> str:
        return self.label


@dataclass
class ModeSweep(Interruptible):
    """A swept family and each point's report in one mode."""

    family: Family
    mode: DerivativeMode
    points: list[ModePoint] = field(default_factory=list)

    def judged_code(self) -> int:
        """As a run's, but a sweep's undecided points are not an error: 1 on a finding, 2 where a
        backend failed (a plug-in that exited, crashed or hung: not checked), else 0."""
        verdicts = [r.verdict for p in self.points for _, r in p.report.rows()]
        if any(v.is_finding for v in verdicts):
            return 1
        return 2 if BackendVerdict.FAILED in verdicts else 0
