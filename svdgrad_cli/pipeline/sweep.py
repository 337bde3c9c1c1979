"""``svdgrad sweep``: a family of matrices with exactly known spectra, each checked as ``check`` does.

The family (numerics/families.py, sweep_model.py) moves one thing: the gap s_K - s_{K+1}, the values
from s_K down, the values below a cut against s_K (s_{K+1} / s_K), or the scale of the whole matrix.
Each point's matrix is built in memory and checked
as ``check(array)`` checks an array (run.iter_reports_for_arrays: the same batching, and worker
processes for ``jobs`` > 1, which build their points' matrices themselves), so every point's result is
what ``svdgrad check`` says of that matrix; no file is written but the ones asked for
(``--save-matrices``). Each point also carries its realised spectrum, known exactly by construction or
computed again with mpmath from the stored matrix, beside the requested one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import LoadedArray, MatrixCase, Skipped
from svdgrad_cli.inputs.loading import load_files
from svdgrad_cli.model import RunReport
from svdgrad_cli.numerics import families as fam
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS, Settings
from svdgrad_cli.pipeline.run import iter_reports_for_arrays, resolve_settings, run_versions
from svdgrad_cli.sweep_model import SWEEP_PARAMETERS, Family, SweepPoint, SweepReport

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


def parse_shape(text: str) -> tuple[int, int]:
    """'6x6' -> (6, 6); a UsageError for anything else."""
    match = SHAPE.fullmatch(text)
    if not match or min(int(match.group(1)), int(match.group(2))) < 1:
        raise UsageError(f"--shape must be MxN with M, N >= 1 (e.g. 8x8), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def users_matrix(source: str, settings: Settings, max_elements: int) -> MatrixCase:
    """--from FILE's one matrix; a UsageError where the file holds none, several or is unreadable."""
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


def build_family(spec: SweepSpec, settings: Settings, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Family:
    """The family a spec asks for (UsageError for one that cannot be made)."""
    vary = SWEEP_PARAMETERS.get(spec.vary)
    if vary is None:
        raise UsageError(f"--vary must be one of {', '.join(SWEEP_PARAMETERS)}, got {spec.vary!r}")
    if not 1 <= spec.points <= MAX_POINTS:
        raise UsageError(f"--points must be 1 to {MAX_POINTS}, got {spec.points}")
    matrix = original = label = None
    if spec.source is not None:
        case = users_matrix(spec.source, settings, max_elements)
        matrix, dtype, shape, label = case.array, str(case.array.dtype), case.array.shape, case.label
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
    vary.check_at(spec.at, len(base))
    loss = parse_loss(settings.loss)
    if (misfit := loss.check_fits(shape)) is not None:
        raise UsageError(f"sweep: {misfit}")
    at = spec.at or vary.default_at(base, fam.zero_level(shape, dtype), loss.order)
    spectrum = base
    if matrix is not None:
        spectrum, _ = fam.realised_values(matrix, base, exact=False)
        original = vary.of(spectrum, at or 1, float(spectrum[0]))
    members = tuple(vary.members(at, base, spec.points, dtype, factors))
    return Family(
        vary,
        at,
        tuple(shape),
        dtype,
        factors,
        base,
        members,
        label,
        original,
        matrix,
        settings.seed,
        spectrum,
    )


def save_matrices(family: Family, folder: Path) -> list[str]:
    """Each member's matrix as an .npy file in ``folder`` (--save-matrices), named by its place and x."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for member in family.members:
        path = folder / f"{member.index + 1:03d}-{family.vary.name}-{family.vary.file_tag(member)}.npy"
        np.save(path, family.stored(member))
        files.append(str(path))
    return files


@dataclass(frozen=True)
class FamilyArrays:
    """A family's matrices as the arrays ``check(array)`` takes, each built when it is asked for (in a
    worker process too: the family travels, not its matrices)."""

    family: Family

    def __len__(self) -> int:
        return len(self.family.members)

    def __getitem__(self, index: int) -> LoadedArray:
        member = self.family.members[index]
        return LoadedArray(self.family.label(member), self.family.stored(member))

    @property
    def nbytes(self) -> int:
        m, n = self.family.shape
        return len(self) * m * n * np.dtype(self.family.dtype).itemsize


def iter_points(
    family: Family,
    settings: Settings,
    jobs: int = 1,
    keep_arrays: bool = False,
    observer=None,
    save_to: str | None = None,
) -> Iterator[SweepPoint]:
    """Each member checked as ``check(array)`` checks an array (``settings`` resolved), in order."""
    files = save_matrices(family, Path(save_to)) if save_to else [None] * len(family.members)
    reports = iter_reports_for_arrays(FamilyArrays(family), settings, jobs, keep_arrays, observer)
    base_top = float(family.base[0])
    try:
        for member, file, report in zip(family.members, files, reports, strict=False):
            if isinstance(report, Skipped):  # a family's own arrays skip nothing
                raise TypeError(f"{family.label(member)}: {report}")
            realised, method = family.vary.realised(family, member, family.stored(member))
            parameter = family.vary.of(realised, family.at or 1, base_top)
            yield SweepPoint(member, realised, parameter, method, report, file)
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
    m, n = parse_shape(shape) if isinstance(shape, str) else shape
    family = build_family(SweepSpec(vary, at, points, (m, n), source), settings)
    report = SweepReport(family, RunReport(settings, versions=run_versions(settings)))
    for point in iter_points(family, settings):
        report.points.append(point)
        report.run.results.append(point.report)
    return report
