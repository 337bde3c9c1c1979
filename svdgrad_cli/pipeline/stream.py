"""Matrices in, one MatrixReport per matrix out, in input order: backends run once per batch.

Matrices of one shape and dtype, across files, are stacked into one call per backend (batching.py,
calls.py); each matrix is then judged on its own by the assessment of the run's target (assess.py).
``check_files`` reads a list of files into this stream, in this process or in a worker process.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from svdgrad_cli.backends import registry
from svdgrad_cli.backends.runtime import RELEASE_BYTES, release_free_memory
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import LoadedArray, MatrixCase, Skipped
from svdgrad_cli.inputs.cotangents import load_cotangents
from svdgrad_cli.inputs.discovery import Entry
from svdgrad_cli.inputs.loading import load_files, matrices
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.numerics.field import is_complex
from svdgrad_cli.numerics.losses import Loss, parse_loss
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.assess import assessment_for
from svdgrad_cli.pipeline.batching import batched_in_order
from svdgrad_cli.pipeline.calls import background, forward_svd, run_backend
from svdgrad_cli.pipeline.plan import RunPlan
from svdgrad_cli.verdicts import MatrixStatus, MatrixVerdict

SELF_CHECKS_PER_SHAPE = 8  # clean results of one shape whose reference is checked by finite differences
# ... up to this size: beyond it the check's SVDs cost a tenth of the run (1024x1024: 0.85 s of 7.5 s)
# and a clean agree, every backend within its budget of the reference, has nothing left to settle.
CLEAN_CHECK_ELEMENTS = 256 * 256
# Stacks from this size on go to one backend at a time while this process computes the reference and
# its rounding witness (assess.py ``before_backends``), not to all backends at once: side by side,
# the working sets (a dozen copies of the stack each) add up, and one backend's LAPACK call beside
# the reference's keeps two cores busy. Measured on two cores, one 2048x2048 float32 matrix: see
# bench/bench_terminal.py and the README.
SIDE_BY_SIDE_BYTES = RELEASE_BYTES


def error_report(error: InputError) -> MatrixReport:
    return MatrixReport(
        source=error.source,
        index=(),
        shape=(),
        dtype=None,
        status=MatrixStatus.ERROR,
        verdict=MatrixVerdict.ERROR,
        explanation=error.problem,
        error=error.problem,
    )


def _passthrough(item: InputError | Skipped) -> MatrixReport | Skipped:
    """An input error becomes an error report in its place; a skipped member passes as it is."""
    return error_report(item) if isinstance(item, InputError) else item


def _quiet(what: str) -> None:
    """No one to tell of a stage."""


class ReportStream:
    """One report per matrix or input error of a run, in input order, and skipped members as they
    come; ``plan.settings.backends`` must be resolved. An ``on_stage`` callback hears what is being
    computed (render/progress.py)."""

    def __init__(self, plan: RunPlan, on_stage: Callable[[str], None] | None = None) -> None:
        settings = plan.settings
        self.plan = plan
        self.assessment = assessment_for(plan.target)  # a one-line usage error where none judges it
        self.loss = parse_loss(settings.loss)
        self.stage = on_stage or _quiet
        names = tuple(self.loss.weight_shapes((2, 2)))
        self.cotangents = load_cotangents(settings.cotangents, names) if settings.cotangents else None
        self.versions = registry.backend_versions(settings.backends)
        self.by_display = {registry.display_name(name): name for name in settings.backends}
        self.checks_done: dict[tuple[int, ...], int] = {}
        self.hung: set[str] = set()  # backends whose forward call outlived --timeout: not asked again

    def reports(self, items: Iterable[MatrixCase | InputError | Skipped]) -> Iterator[MatrixReport | Skipped]:
        try:
            yield from batched_in_order(items, self.batch_reports, _passthrough)
        finally:
            registry.end_run()  # the plug-ins' idle worker processes beyond a few end with the run

    def forward(self, shown: str, a: np.ndarray):
        """The forward SVD of the backend shown as ``shown``, for a matrix it was judged on."""
        name = self.by_display[shown]
        if name in self.hung:
            return None
        try:
            return forward_svd(name, a, self.plan)
        except TimeoutError:
            self.hung.add(name)
            return None

    def verification_wanted(self, shape: tuple[int, ...]) -> bool:
        """Whether a clean result of this shape still has its reference checked (the first few)."""
        self.checks_done[shape] = self.checks_done.get(shape, 0) + 1
        return self.checks_done[shape] <= SELF_CHECKS_PER_SHAPE and math.prod(shape) <= CLEAN_CHECK_ELEMENTS

    def bound_loss(self, batch: list[MatrixCase]) -> Loss | list[MatrixReport]:
        """The loss bound to the batch's shape, or an error report per matrix where it does not fit."""
        a = batch[0].array
        problem = self.loss.check_fits(a.shape)
        if not problem:
            try:
                return self.loss.bind(a.shape, self.plan.settings.seed, self.cotangents, is_complex(a))
            except UsageError as exc:
                problem = str(exc)
        return [error_report(InputError(case.label, problem)) for case in batch]

    def batch_reports(self, batch: list[MatrixCase]) -> list[MatrixReport]:
        """The reports of a batch of matrices of one shape and dtype."""
        loss = self.bound_loss(batch)
        if isinstance(loss, list):
            return loss
        # one matrix: a view of it (np.stack would copy it)
        stack = batch[0].array[None] if len(batch) == 1 else np.stack([case.array for case in batch])
        what = f"{len(batch)} matri{'x' if len(batch) == 1 else 'ces'} of {stack.shape[1]}x{stack.shape[2]}"
        settings = self.plan.settings
        side_by_side = stack.nbytes < SIDE_BY_SIDE_BYTES
        if side_by_side:
            registry.send_ahead(settings.backends, stack, loss, settings.full_matrices)
        # LAPACK lets the backends run meanwhile (or, the first time, the frameworks load)
        references = background().submit(self.assessment.before_backends, stack, loss, settings)
        per_backend = []
        for name in settings.backends:
            self.stage(f"{registry.display_name(name)}: {what}")
            per_backend.append(run_backend(name, stack, loss, self.plan))
        self.stage(f"reference and verdicts: {what}")
        prepared = references.result()
        reports = [
            self.assessment(
                case,
                prepared[i][0],
                [results[i] for results in per_backend],
                loss,
                self.plan,
                self.versions,
                functools.partial(self.verification_wanted, case.array.shape),
                functools.partial(self.forward, a=case.array),
                prepared[i][1],
            ).report()
            for i, case in enumerate(batch)
        ]
        if stack.nbytes >= RELEASE_BYTES:
            del prepared, per_backend, stack
            release_free_memory()
        return reports


def iter_reports(
    items: Iterable[MatrixCase | InputError | Skipped],
    settings: Settings,
    on_stage: Callable[[str], None] | None = None,
) -> Iterator[MatrixReport | Skipped]:
    """The reports of ``items`` with resolved ``settings`` (the public API: a ReportStream)."""
    yield from ReportStream(RunPlan(settings), on_stage).reports(items)


def check_files(files: Sequence[Entry], plan: RunPlan, observer=None) -> Iterator[MatrixReport | Skipped]:
    """Reports for ``files`` in order, without gradient arrays unless ``plan.keep_arrays``; an
    ``observer`` (render/progress.py) hears of each file and stage."""
    on_file, on_stage = (observer.file, observer.stage) if observer else (None, None)
    # a count of each file's matrices (its headers read twice) only for a progress line on show
    on_count = observer.counted if getattr(observer, "active", False) else None
    s = plan.settings
    items = load_files(
        files, s.dtype, plan.max_elements, on_file, s.select, s.skip, s.reshape, on_count, s.max_matrices
    )
    yield from _judged(items, plan, on_stage)


class Arrays(Protocol):
    """Arrays by index, each built or held: a list of LoadedArray, or a sweep's family (sweep.py)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> LoadedArray: ...


def check_arrays(
    arrays: Arrays, indices: Iterable[int], plan: RunPlan, observer=None
) -> Iterator[MatrixReport | Skipped]:
    """Reports for ``arrays[i]`` of each of ``indices`` in order (each array built as it is reached),
    as ``check_files`` makes them for files; an ``observer`` hears of each array (by its source) and
    stage."""
    on_file, on_stage = (observer.file, observer.stage) if observer else (None, None)

    def items():
        for index in indices:
            loaded = arrays[index]
            if on_file is not None:
                on_file(loaded.source)
            yield from matrices(loaded, plan.settings.dtype)

    yield from _judged(items(), plan, on_stage)


def _judged(items, plan: RunPlan, on_stage) -> Iterator[MatrixReport | Skipped]:
    for report in ReportStream(plan, on_stage).reports(items):
        yield report if plan.keep_arrays or isinstance(report, Skipped) else report.without_arrays()
