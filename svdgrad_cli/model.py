"""The report model: frozen dataclasses that every renderer reads and nothing else builds."""

from __future__ import annotations

import math
import re
import signal
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

import numpy as np

from svdgrad_cli.backends.protocol import BUILT_IN
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.parts import ShardInfo
from svdgrad_cli.interrupts import NAMES, exit_code
from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET, Target
from svdgrad_cli.numerics.error_parts import ErrorParts
from svdgrad_cli.numerics.field import CONJUGATED
from svdgrad_cli.numerics.forward import ForwardCheck
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import Reference
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.verdicts import (
    SEVERITY,
    BackendStatus,
    BackendVerdict,
    MatrixStatus,
    MatrixVerdict,
    verdicts_present,
)

# ``file.npz:member``, ``model.safetensors:tensor.name`` (any container suffix), or ``-:member`` for
# a container on standard input: the file is the part before.
ARCHIVE_MEMBER = re.compile(
    r"(-|.*?\.(?:npz|safetensors|pt|pth|bin|h5|hdf5|keras)):", re.IGNORECASE | re.DOTALL
)


def source_file(source: str) -> str | None:
    """The file a source was read from, without an archive member or checkpoint tensor; None for
    standard input."""
    match = ARCHIVE_MEMBER.match(source)
    path = match.group(1) if match else source
    return None if path == "-" else path


def tensor_names(sources: list[str]) -> list[str]:
    """The names of the tensors of archives and checkpoints among ``sources``, once each."""
    return list(dict.fromkeys(m.string[m.end() :] for m in map(ARCHIVE_MEMBER.match, sources) if m))


def unmatched_patterns(patterns: tuple[str, ...], names: list[str]) -> tuple[str, ...]:
    """The --select (or --skip) ``patterns`` that match none of the tensor ``names`` (none where
    no tensor was met)."""
    return tuple(p for p in patterns if names and not any(fnmatchcase(n, p) for n in names))


WARNING, NOTE = "warning", "note"
REFERENCE_FAILED = "reference-check"  # the code of the warning that the reference failed its own check


def unmatched_text(option: str, pattern: str, origin: str = "") -> str:
    """What every format says of a --select (or --skip) pattern that matched no tensor; ``origin``
    names where it was set when not on the command line."""
    return f"{option} {pattern!r}{origin} matched no tensor of any archive or checkpoint"


# Why an error is shown as a bound (BackendResult.error_is_bound): every format says it with this.
BOUND_NOTE = (
    "<= error, >= digits: the difference from the float64 reference is within that reference's own "
    "error, so it is not the backend's error; the true error is at most the bound shown "
    "(--reference high measures it)"
)


@dataclass(frozen=True)
class Finding:
    """A warning about the spectrum or the numerics, with the 1-based indices it concerns. A ``note``
    is information that cannot change the verdict (a near tie the loss does not separate); only
    warnings count for --fail-on warning."""

    code: str
    message: str
    indices: tuple[int, ...] = ()
    level: str = WARNING


@dataclass(frozen=True)
class BackendResult:
    """What one backend returned for one matrix, and how it was judged."""

    name: str
    status: BackendStatus
    message: str | None = None
    singular_values: np.ndarray | None = None
    gradient: np.ndarray | None = None
    verdict: BackendVerdict | None = BackendVerdict.FAILED  # None: not judged yet, or undecidable
    error: float | None = None  # Frobenius distance to the reference gradient or set
    budget: float | None = None  # the error this backend's dtype and the conditioning allow
    gradient_norm: float | None = None  # ||G||_F, kept when the arrays are dropped from a long run
    digits: float | None = None  # -log10(relative error): the digits it got right
    justified_digits: float | None = None  # -log10(relative budget): the digits the data justify
    u: np.ndarray | None = None  # the backend's own forward SVD (when its call computed vectors)
    v: np.ndarray | None = None
    forward: ForwardCheck | None = None  # how accurate that forward SVD is
    origin: str = BUILT_IN  # or where a plug-in came from (a spec, an entry point, register_backend)
    convention: str | None = None  # complex input: how the framework's gradient was mapped (field.py)
    error_parts: ErrorParts | None = None  # a wrong or inaccurate gradient's error by part (error_parts.py)
    # The difference from the reference lies within the reference's own error: ``error`` is then an
    # upper bound on the backend's error (that difference plus the reference's error), ``digits`` a
    # lower bound (judge.py).
    error_is_bound: bool = False
    trace: tuple[str, ...] = ()  # a failed call: its last frames, "file:line in function: source"

    @property
    def conjugated(self) -> bool:
        """Whether svdgrad conjugated what the framework returned (complex input; field.py)."""
        return self.convention is not None and self.convention.startswith(CONJUGATED)

    @property
    def relative_budget(self) -> float | None:
        """budget / the gradient's scale, read off the error and its digits (both relative to that
        scale); the data's part alone (10^-justified_digits) where the error is 0 or absent."""
        if self.budget is None or self.justified_digits is None:
            return None
        if self.error and self.digits is not None and math.isfinite(self.digits):
            return self.budget / self.error * 10.0**-self.digits
        return 10.0**-self.justified_digits if math.isfinite(self.justified_digits) else None

    @property
    def bound_marks(self) -> tuple[str, str]:
        """('<=', '>=') to put before the error and the digits where they are bounds, else ('', '')."""
        return ("<=", ">=") if self.error_is_bound else ("", "")

    @property
    def built_in(self) -> bool:
        """Whether the backend is one of svdgrad's own (not a plug-in nor register_backend's)."""
        return self.origin == BUILT_IN

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", BackendStatus(self.status))
        if self.verdict is not None:
            object.__setattr__(self, "verdict", BackendVerdict(self.verdict))
        if self.gradient is not None and self.gradient_norm is None:
            object.__setattr__(self, "gradient_norm", frobenius(self.gradient))

    @property
    def budget_multiple(self) -> float | None:
        """error / budget; inf for any error against a zero budget (--rtol 0 --atol 0)."""
        if self.error is None or self.budget is None:
            return None
        if self.budget == 0:
            return 0.0 if self.error == 0 else math.inf
        return self.error / self.budget


@dataclass(frozen=True)
class PairDiff:
    """Entrywise difference between two backends' gradients."""

    first: str
    second: str
    max_abs_diff: float | None  # None when either gradient is missing or non-finite
    relative: float | None  # max_abs_diff / max |entry| of the two gradients


@dataclass(frozen=True)
class MatrixReport:
    """Everything svdgrad says about one matrix (or about one input that could not be read)."""

    source: str
    index: tuple[int, ...]
    shape: tuple[int, ...]
    dtype: str | None
    status: MatrixStatus
    verdict: MatrixVerdict
    explanation: str
    error: str | None = None
    backends: tuple[BackendResult, ...] = ()
    reference: Reference | None = None
    warnings: tuple[Finding, ...] = ()
    pairs: tuple[PairDiff, ...] = ()
    loss_weights: dict[str, np.ndarray] = field(default_factory=dict)  # the weights a U/V loss drew
    stored_dtype: str | None = None  # the file's dtype where the backends computed in another (float16)
    reshaped: str | None = None  # a checkpoint's kernel read as one matrix: how (inputs/kernels.py)
    matrix: np.ndarray | None = None  # the matrix as the backends saw it (dropped from long runs)
    position: tuple[int, ...] | None = field(default=None, compare=False)  # a shard's (inputs/shards.py)
    target: Target = DEFAULT_TARGET  # what was differentiated and judged (numerics/differentiated.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", MatrixStatus(self.status))
        object.__setattr__(self, "verdict", MatrixVerdict(self.verdict))

    @property
    def checked_reference(self) -> Reference:
        """The reference of a checked matrix (renderers of checked reports read it; an input that
        could not be read has none)."""
        if self.reference is None:
            raise ValueError(f"{self.source}: no reference (the matrix was not checked)")
        return self.reference

    @property
    def label(self) -> str:
        return MatrixCase(self.source, self.index, np.empty(0)).label

    def without_arrays(self) -> MatrixReport:
        """The same report without gradient matrices, so a long run holds only what it prints."""
        held = [self.matrix, self.reference and self.reference.gradient, *self.loss_weights.values()]
        held += [array for b in self.backends for array in (b.gradient, b.u, b.v)]
        if all(array is None for array in held):  # dropped already (in a worker)
            return self
        backends = tuple(replace(b, gradient=None, u=None, v=None) for b in self.backends)
        reference = None if self.reference is None else replace(self.reference, gradient=None)
        return replace(self, backends=backends, reference=reference, loss_weights={}, matrix=None)

    @property
    def verdicts(self) -> frozenset[MatrixVerdict]:
        """Every matrix verdict true of this matrix, its own (the worst) included (verdicts.py)."""
        if self.status is not MatrixStatus.CHECKED:
            return frozenset({self.verdict})
        reference = self.reference
        unique, defined = (True, True) if reference is None else (reference.unique, reference.defined)
        return verdicts_present((b.verdict for b in self.backends), unique, defined) | {self.verdict}

    @property
    def max_abs_diff(self) -> float | None:
        values = [p.max_abs_diff for p in self.pairs if p.max_abs_diff is not None]
        return max(values) if values else None

    @property
    def max_relative_diff(self) -> float | None:
        """The largest difference between two backends relative to their gradients' largest entry."""
        values = [p.relative for p in self.pairs if p.relative is not None]
        return max(values) if values else None


@dataclass
class RunReport:
    """All matrix reports of a run, in input order, with the settings and the exit code."""

    settings: Settings
    results: list[MatrixReport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # files and tensors passed over, with why
    options: RunOptions = field(default_factory=RunOptions)
    interrupted: bool = False  # Ctrl-C or SIGTERM ended the run early; results hold what was checked
    interrupted_by: int = signal.SIGINT  # the signal that did (read only when interrupted)
    versions: dict[str, str | None] = field(default_factory=dict)  # svdgrad, numpy, the backends
    shard: ShardInfo | None = None  # --shard K/N: which part of a larger run this is (inputs/shards.py)
    config: str | None = None  # the pyproject.toml whose [tool.svdgrad] applied, if any (config.py)

    def record(self, item: MatrixReport | Skipped) -> None:
        """Add one item of a run: a matrix's report, or a tensor passed over."""
        if isinstance(item, Skipped):
            self.skipped.append(item)
        else:
            self.results.append(item)

    @property
    def checked(self) -> int:
        """How many matrices were checked (the results that are not input errors)."""
        return sum(1 for r in self.results if r.status is MatrixStatus.CHECKED)

    @property
    def unreadable(self) -> int:
        """How many inputs could not be read (files, archive members, matrices refused)."""
        return len(self.results) - self.checked

    def verdict_counts(self) -> dict[MatrixVerdict, int]:
        """Checked matrices per verdict, every verdict listed (input errors are not matrices)."""
        counts = dict.fromkeys(SEVERITY, 0)
        for result in self.results:
            if result.status is MatrixStatus.CHECKED:
                counts[result.verdict] += 1
        return counts

    def hidden_counts(self) -> dict[MatrixVerdict, int]:
        """Matrices per verdict that decides the exit code (an error, or one --fail-on names) but is
        not the one they are reported under: a failed backend beside a wrong one."""
        deciding = self.settings.failing | {MatrixVerdict.ERROR}
        counts = dict.fromkeys(SEVERITY, 0)
        for result in self.results:
            for verdict in result.verdicts - {result.verdict}:
                counts[verdict] += verdict in deciding
        return {verdict: n for verdict, n in counts.items() if n}

    def warning_counts(self) -> dict[str, int]:
        """Matrices per warning code (notes excluded)."""
        counts: dict[str, int] = {}
        for result in self.results:
            for code in {f.code for f in result.warnings if f.level == WARNING}:
                counts[code] = counts.get(code, 0) + 1
        return counts

    def fails(self, report: MatrixReport) -> bool:
        """Whether this matrix makes the run exit 1 (per --fail-on and --fail-only-on)."""
        failing = self.settings.failing
        warned = any(f.level == WARNING for f in report.warnings)
        return bool(failing & report.verdicts) or ("warning" in failing and warned)

    @property
    def interruption(self) -> str:
        """What interrupted the run, as the reports name it: 'Ctrl-C' or 'SIGTERM'."""
        return NAMES.get(self.interrupted_by, f"signal {self.interrupted_by}")

    @property
    def nothing_checked(self) -> bool:
        """Every input was skipped (a --select that matched nothing, only 1-D tensors): a gate that
        checked nothing must not pass. Not said of one shard, whose part may be all skipped files:
        the merged run says it."""
        return not self.results and bool(self.skipped) and not self.interrupted and self.shard is None

    @property
    def config_shown(self) -> str:
        """The pyproject.toml whose [tool.svdgrad] applied, or 'none', as every format names it."""
        return self.config or "none"

    def tensor_names(self) -> list[str]:
        """The names of the tensors of archives and checkpoints met (read, refused or passed over)."""
        return tensor_names([r.source for r in self.results] + [s.source for s in self.skipped])

    def unmatched(self, patterns: tuple[str, ...]) -> tuple[str, ...]:
        """The --select (or --skip) ``patterns`` that match no tensor met, where tensors were met; not
        said of one shard, whose part may hold none of the tensors a pattern names."""
        names = self.tensor_names() if patterns and self.shard is None and not self.interrupted else []
        return unmatched_patterns(patterns, names)

    @property
    def exit_code(self) -> int:
        """130 interrupted (143 by SIGTERM), 2 an input or backend error, a reference that failed its
        own check (nothing was judged), nothing to check or a --select that matched no tensor, 1
        findings (per fail-on), 0 nothing else."""
        if self.interrupted:
            return exit_code(self.interrupted_by)
        if self.nothing_checked or self.unmatched(self.settings.select):
            return 2
        if any(MatrixVerdict.ERROR in r.verdicts for r in self.results):  # a backend failed: a tool error
            return 2
        if any(w.code == REFERENCE_FAILED for r in self.results for w in r.warnings):  # svdgrad's own
            return 2
        return 1 if any(self.fails(r) for r in self.results) else 0


def worst_multiple(report: MatrixReport) -> float | None:
    """The largest error / budget among a matrix's judged backends."""
    multiples = [b.budget_multiple for b in report.backends if b.budget_multiple is not None]
    return max(multiples) if multiples else None


def worst_first(reports: list[MatrixReport]) -> list[MatrixReport]:
    """The most severe verdicts first, then the largest budget multiple; ties keep input order."""

    def key(report: MatrixReport) -> tuple[int, float]:
        multiple = worst_multiple(report)
        return -report.verdict.severity, math.inf if multiple is None else -multiple

    return sorted(reports, key=key)
