"""``svdgrad sweep``: a family of matrices with exactly known spectra, each checked as ``check`` does.

The family (numerics/families.py) moves one thing: the gap s_K - s_{K+1}, the values from s_K down,
or the scale of the whole matrix. Each point is written as an .npy file and read back by the function
that reads ``svdgrad check``'s files (run.iter_reports_for_files: the same batching, the same worker
processes for ``jobs`` > 1), so every point's result is what ``svdgrad check`` says of that file. Each
point also carries its realised spectrum, known exactly by construction or computed again with mpmath
from the stored matrix, beside the requested one.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import MatrixCase
from svdgrad_cli.inputs.loading import load_files
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.numerics import families as fam
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS, Settings
from svdgrad_cli.pipeline.run import iter_reports_for_files, resolve_settings, run_versions

MAX_POINTS = 1000
SHAPE = re.compile(r"\s*(\d+)\s*[xX×,]\s*(\d+)\s*")


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: the parameter, K, the number of points, and the shape or the user's matrix."""

    vary: str = "gap"
    at: int | None = None
    points: int = 16
    shape: tuple[int, int] = (8, 8)
    source: str | None = None  # --from FILE


@dataclass(frozen=True)
class Member:
    """One point of a family before it is checked: the requested parameter and spectrum."""

    index: int
    requested: float
    values: np.ndarray  # the spectrum as built (float64), the requested one to MANTISSA_BITS bits
    exact: bool  # whether the stored matrix is exactly U diag(values) V^T
    exponent: int = 0  # --vary scale: the matrix is the base one times 2^exponent


@dataclass(frozen=True)
class Family:
    """A swept family: how its matrices are made, and its members."""

    vary: str
    at: int | None
    shape: tuple[int, int]
    dtype: str
    factors: fam.Factors
    base: np.ndarray  # the spectrum the sweep starts from (s_1 of the base matrix for scale)
    members: tuple[Member, ...]
    source: str | None = None  # the user's matrix (--from), by its label
    original: float | None = None  # the parameter of the user's own matrix
    matrix: np.ndarray | None = None  # the user's matrix (scale sweeps of it scale it exactly)
    seed: int = 0
    spectrum: np.ndarray | None = None  # the starting matrix's spectrum, realised (families.realised_values)

    @property
    def parameter(self) -> str:
        """The swept parameter's name: (s_K - s_{K+1}) / s_1, s_K / s_1, or the scale 2^e."""
        if self.vary == "gap":
            k = self.at or 1
            return f"(s_{k} - s_{k + 1}) / s_1"
        return f"s_{self.at} / s_1" if self.vary == "zero" else "scale 2^e"

    @property
    def zero_level(self) -> float:
        """Relative to s_1, where values are numerically zero (and a realised 0 is as requested)."""
        return fam.zero_level(self.shape, self.dtype)

    @property
    def name(self) -> str:
        m, n = self.shape
        return self.source or f"{m}x{n} {self.factors.kind}"

    def label(self, member: Member) -> str:
        """A point's name in reports: 'seed.npy @ s_3/s_1 1.0e-03', '6x6 dyadic @ gap 0'."""
        x = member.requested
        if self.vary == "scale":
            text = f"2^{member.exponent} A"
        else:
            what = "gap" if self.vary == "gap" else f"s_{self.at}/s_1"
            text = f"{what} {x:.1e}" if x else f"{what} 0"
        return f"{self.name} @ {text}"

    def stored(self, member: Member) -> np.ndarray:
        """The matrix of a member, in the dtype the backends compute in."""
        if self.vary != "scale":
            return fam.assemble(self.factors, member.values, self.dtype)
        base = self.matrix if self.matrix is not None else fam.assemble(self.factors, self.base, self.dtype)
        return (np.asarray(base) * 2.0**member.exponent).astype(self.dtype)  # exact but for under/overflow


@dataclass(frozen=True)
class SweepPoint:
    """One checked point: its member, the realised spectrum and parameter, and check's report."""

    member: Member
    realised: np.ndarray
    realised_parameter: float
    method: str  # how the realised spectrum is known: exact, mpmath or float64
    report: MatrixReport
    file: str | None = None  # where the matrix was saved (--save-matrices)


@dataclass
class SweepReport:
    """A whole sweep: the family, its checked points in order, and the run they make up."""

    family: Family
    run: RunReport
    points: list[SweepPoint] = field(default_factory=list)


def parse_shape(text: str) -> tuple[int, int]:
    """'6x6' -> (6, 6); a UsageError for anything else."""
    match = SHAPE.fullmatch(text)
    if not match or min(int(match.group(1)), int(match.group(2))) < 1:
        raise UsageError(f"--shape must be MxN with M, N >= 1 (e.g. 8x8), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _check_at(vary: str, at: int | None, k: int) -> None:
    if vary == "scale":
        if at is not None:
            raise UsageError("--at has no meaning for --vary scale (the whole matrix is scaled)")
        return
    low, high = (1, k - 1) if vary == "gap" else (2, k)
    if high < low:
        raise UsageError(f"--vary {vary} needs at least 2 singular values; this family has {k}")
    if at is not None and not low <= at <= high:
        what = "the pair s_K, s_K+1" if vary == "gap" else "the first value to vanish, s_K"
        raise UsageError(f"--at {at}: K must be {low} to {high} here ({what}, of {k} values)")


def _users_matrix(source: str, settings: Settings, max_elements: int) -> MatrixCase:
    s = settings
    found: list[MatrixCase] = []
    for item in load_files([source], s.dtype, max_elements, None, s.select, s.skip, s.reshape):
        if isinstance(item, InputError):
            raise UsageError(f"--from {item}")
        if isinstance(item, MatrixCase):
            found.append(item)
    if len(found) != 1:
        names = ", ".join(case.label for case in found[:4]) + (", ..." if len(found) > 4 else "")
        held = f"{len(found)} matrices ({names})" if found else "no matrix"
        raise UsageError(f"--from {source}: holds {held}; give a file with one (or --select one)")
    return found[0]


def _members(vary: str, at: int | None, base: np.ndarray, points: int, dtype: str, factors) -> list[Member]:
    if vary == "scale":
        nominal = fam.nominal_points(vary, points, dtype)
        exponents = [round(math.log2(x)) for x in nominal]
        return [
            Member(i, x, np.ldexp(base, e), fam.is_exact(factors, np.ldexp(base, e), dtype), e)
            for i, (x, e) in enumerate(zip(nominal, exponents, strict=True))
        ]
    if at is None:
        raise ValueError(f"a {vary} sweep moves s_K: K is needed")
    level = fam.zero_level((len(factors.u), len(factors.v)), dtype)
    profile = fam.zero_profile(base, at, level) if vary == "zero" else None
    nominal = fam.nominal_points(vary, points, dtype, fam.start_of(vary, at, base))
    members = []
    for i, x in enumerate(nominal):
        values = fam.moved_spectrum(vary, at, base, x, profile)
        members.append(Member(i, x, values, fam.is_exact(factors, values, dtype)))
    return members


def build_family(spec: SweepSpec, settings: Settings, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Family:
    """The family a spec asks for (UsageError for one that cannot be made)."""
    if spec.vary not in fam.PARAMETERS:
        raise UsageError(f"--vary must be one of {', '.join(fam.PARAMETERS)}, got {spec.vary!r}")
    if not 1 <= spec.points <= MAX_POINTS:
        raise UsageError(f"--points must be 1 to {MAX_POINTS}, got {spec.points}")
    matrix = original = None
    if spec.source is not None:
        case = _users_matrix(spec.source, settings, max_elements)
        matrix, dtype, shape = case.array, str(case.array.dtype), case.array.shape
        factors, base = fam.factors_of(matrix)
        if not base[0] > 0:
            raise UsageError(f"--from {case.label}: the matrix is zero; there is no spectrum to move")
    else:
        shape = spec.shape
        if shape[0] * shape[1] > max_elements:
            raise UsageError(f"--shape {shape[0]}x{shape[1]} has more than --max-elements {max_elements}")
        dtype = "float64" if settings.dtype == "auto" else settings.dtype
        complex_ = np.dtype(dtype).kind == "c"
        factors, base = fam.synthetic_factors(shape, settings.seed, complex_), fam.base_spectrum(min(shape))
    k = len(base)
    _check_at(spec.vary, spec.at, k)
    level = fam.zero_level(shape, dtype)
    at = None if spec.vary == "scale" else spec.at or fam.default_at(spec.vary, base, level)
    spectrum = base
    if matrix is not None:  # --from
        spectrum, _ = fam.realised_values(matrix, base, exact=False)
        original = fam.parameter_of(spec.vary, at or 1, spectrum, float(spectrum[0]))
    members = _members(spec.vary, at, base, spec.points, dtype, factors)
    label = None if spec.source is None else case.label
    return Family(
        spec.vary,
        at,
        tuple(shape),
        dtype,
        factors,
        base,
        tuple(members),
        label,
        original,
        matrix,
        settings.seed,
        spectrum,
    )


def _write(family: Family, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for member in family.members:
        tag = f"{member.requested:.2e}" if family.vary != "scale" else f"2^{member.exponent}"
        path = folder / f"{member.index + 1:03d}-{family.vary}-{tag}.npy"
        np.save(path, family.stored(member))
        files.append(str(path))
    return files


def _realised(family: Family, member: Member, stored: np.ndarray) -> tuple[np.ndarray, str]:
    if family.vary == "scale" and family.matrix is not None and family.spectrum is not None:
        exact = np.array_equal(stored * 2.0**-member.exponent, family.matrix)
        if exact:  # 2^e times the user's matrix, exactly: its spectrum, scaled
            method = "mpmath" if family.matrix.size <= fam.MAX_REALISED_ELEMENTS else "float64"
            return np.ldexp(family.spectrum, member.exponent), method
    return fam.realised_values(stored, member.values, member.exact)


class _Named:
    """An observer (render/progress.py) that hears of points by their labels, not their scratch files."""

    def __init__(self, observer, labels: dict[str, str]) -> None:
        self.observer, self.labels = observer, labels

    def file(self, path: str) -> None:
        self.observer.file(self.labels.get(path, path))

    def stage(self, what: str) -> None:
        self.observer.stage(what)


def iter_points(
    family: Family,
    settings: Settings,
    jobs: int = 1,
    keep_arrays: bool = False,
    observer=None,
    save_to: str | None = None,
) -> Generator[SweepPoint, None, None]:
    """Each member checked as ``svdgrad check`` checks a file (``settings`` resolved), in order."""
    with tempfile.TemporaryDirectory(prefix="svdgrad-sweep-") as scratch:
        files = _write(family, Path(save_to or scratch))
        labels = {path: family.label(member) for path, member in zip(files, family.members, strict=True)}
        named = None if observer is None else _Named(observer, labels)
        reports = iter_reports_for_files(files, settings, DEFAULT_MAX_ELEMENTS, jobs, keep_arrays, named)
        base_top = float(family.base[0])
        try:
            for member, path, report in zip(family.members, files, reports, strict=False):
                if not isinstance(report, MatrixReport):  # a sweep's own .npy files skip nothing
                    raise TypeError(f"{path}: {report}")
                realised, method = _realised(family, member, np.load(path))
                parameter = fam.parameter_of(family.vary, family.at or 1, realised, base_top)
                labelled = replace(report, source=family.label(member))
                yield SweepPoint(member, realised, parameter, method, labelled, path if save_to else None)
        finally:
            reports.close()


def sweep(
    vary: str = "gap",
    at: int | None = None,
    points: int = 16,
    shape: tuple[int, int] | str = (8, 8),
    source: str | None = None,
    loss: str = "sum",
    backends=None,
    dtype: str = "auto",
    **options,
) -> SweepReport:
    """Sweep a family and check each point; returns a SweepReport (``report.run`` is a RunReport).

    >>> report = sweep("gap", at=2, shape="6x6", loss="polar", backends=["autograd"])  # doctest: +SKIP
    >>> [p.report.verdict for p in report.points]                                      # doctest: +SKIP
    """
    settings = resolve_settings(Settings(loss=loss, dtype=dtype, backends=tuple(backends or ()), **options))
    dims = parse_shape(shape) if isinstance(shape, str) else (shape[0], shape[1])
    family = build_family(SweepSpec(vary, at, points, dims, source), settings)
    report = SweepReport(family, RunReport(settings, versions=run_versions(settings)))
    for point in iter_points(family, settings):
        report.points.append(point)
        report.run.results.append(point.report)
    return report
