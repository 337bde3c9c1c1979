"""The check pipeline: matrices in, one MatrixReport per matrix out, streamed in input order."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np

from svdgrad_cli.backends import registry
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.loading import LoadedArray, load_files, matrices
from svdgrad_cli.model import BackendResult, MatrixCase, MatrixReport, RunReport
from svdgrad_cli.numerics.losses import Loss, parse_loss
from svdgrad_cli.numerics.reference import build_reference, self_check, stack_svd
from svdgrad_cli.numerics.spectrum import default_dup_tol, default_zero_tol
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS, Settings
from svdgrad_cli.pipeline.batching import batched_in_order
from svdgrad_cli.pipeline.explain import explain
from svdgrad_cli.pipeline.findings import ill_conditioned, reference_check, spectrum_findings
from svdgrad_cli.pipeline.judge import (
    budget_for,
    distance_function,
    judge_backend,
    pair_differences,
)
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict, matrix_verdict

SELF_CHECKS_PER_SHAPE = 8  # clean results of one shape whose reference is checked by finite differences
MESSAGE_CHARS = 240  # a framework's error can quote the whole input matrix; keep its first line


def _error_report(error: InputError) -> MatrixReport:
    return MatrixReport(
        source=error.source,
        index=(),
        shape=(),
        dtype=None,
        status="error",
        verdict=MatrixVerdict.ERROR,
        explanation=error.problem,
        error=error.problem,
    )


def _run_backend(name: str, stack: np.ndarray, loss: Loss, full_matrices: bool) -> list[BackendResult]:
    """One batched call; a backend that raises is ``failed`` for every matrix of the batch."""
    try:
        # A framework's own NumPy warnings (divide by zero at ties) would only repeat the verdict.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            output = registry.load_backend(name).compute(stack, loss, full_matrices=full_matrices)
        values, gradients = np.asarray(output.singular_values), np.asarray(output.gradients)
        k = min(stack.shape[-2:])
        if values.shape != (len(stack), k) or gradients.shape != stack.shape:
            raise ValueError(
                f"returned singular values of shape {values.shape} and gradients of shape "
                f"{gradients.shape} for a stack of shape {stack.shape}"
            )
    except Exception as exc:  # a backend's own failure is a result, not a crash
        first_line = (str(exc).strip().splitlines() or [""])[0]
        message = f"{type(exc).__name__}: {first_line}"[:MESSAGE_CHARS]
        return [
            BackendResult(name, "failed", message, verdict=BackendVerdict.FAILED) for _ in range(len(stack))
        ]
    return [BackendResult(name, "ok", None, values[i], gradients[i]) for i in range(len(stack))]


def _report_case(
    case: MatrixCase,
    svd: tuple[np.ndarray, np.ndarray, np.ndarray],
    raw: list[BackendResult],
    loss: Loss,
    settings: Settings,
    versions: dict[str, str | None],
    self_check_wanted: Callable[[], bool],
) -> MatrixReport:
    """Judge one matrix. The reference's finite-difference self-check runs where it can change what
    a user concludes: every matrix that is not a clean ``agree`` or has a warning, and the first
    SELF_CHECKS_PER_SHAPE matrices of each shape (a bug in the closed form would show there)."""
    dtype = case.array.dtype
    shape = case.array.shape
    zero_tol = settings.zero_tol if settings.zero_tol is not None else default_zero_tol(shape, dtype)
    dup_tol = settings.dup_tol if settings.dup_tol is not None else default_dup_tol(dtype)
    reference, spectrum, u, v = build_reference(case.array, loss, zero_tol, settings.seed, svd, check=False)
    budget = budget_for(reference, spectrum, loss, dtype, settings)
    distance = distance_function(reference, spectrum, loss, u, v)
    judged = [judge_backend(r, reference, budget, distance) for r in raw]
    findings = spectrum_findings(spectrum, loss, dup_tol)
    if reference.gradient is not None:
        findings += ill_conditioned(reference.gradient_norm, budget, str(dtype))
    verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
    if verdict != MatrixVerdict.AGREE or findings or self_check_wanted():
        reference = self_check(reference, case.array, loss, spectrum, settings.seed)
        findings += reference_check(reference)
    return MatrixReport(
        source=case.source,
        index=case.index,
        shape=tuple(shape),
        dtype=str(dtype),
        status="checked",
        verdict=verdict,
        explanation=explain(verdict, loss, reference, spectrum, judged, versions),
        backends=tuple(judged),
        reference=reference,
        warnings=tuple(findings),
        pairs=tuple(pair_differences(judged)),
        loss_weights=loss.arrays,
        matrix=case.array,
    )


def iter_reports(items: Iterable[MatrixCase | InputError], settings: Settings) -> Iterator[MatrixReport]:
    """One report per matrix or input error, in input order; ``settings.backends`` must be resolved.

    Matrices of one shape and dtype, across files, are stacked into one call per backend
    (batching.py).
    """
    unbound = parse_loss(settings.loss)
    versions = {name: registry.installed_version(name) for name in settings.backends}
    checks_done: dict[tuple[int, ...], int] = {}

    def wanted(shape: tuple[int, ...]) -> Callable[[], bool]:
        def take() -> bool:
            checks_done[shape] = checks_done.get(shape, 0) + 1
            return checks_done[shape] <= SELF_CHECKS_PER_SHAPE

        return take

    def process(batch: list[MatrixCase]) -> list[MatrixReport]:
        misfit = unbound.check_fits(batch[0].array.shape)
        if misfit:
            return [_error_report(InputError(case.label, misfit)) for case in batch]
        loss = unbound.bind(batch[0].array.shape, settings.seed)
        stack = np.stack([case.array for case in batch])
        per_backend = [_run_backend(name, stack, loss, settings.full_matrices) for name in settings.backends]
        svds = stack_svd(stack)
        return [
            _report_case(
                case,
                svds[i],
                [results[i] for results in per_backend],
                loss,
                settings,
                versions,
                wanted(case.array.shape),
            )
            for i, case in enumerate(batch)
        ]

    return batched_in_order(items, process, _error_report)


def resolve_settings(settings: Settings) -> Settings:
    """Validate the loss and options and fix the backend list (default: every installed one)."""
    parse_loss(settings.loss)
    for name in ("rtol", "atol", "zero_tol", "dup_tol"):
        value = getattr(settings, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    if not (math.isfinite(settings.budget_factor) and settings.budget_factor > 0):
        raise UsageError(f"--budget-factor must be a finite number > 0, got {settings.budget_factor}")
    fail_on = () if "never" in settings.fail_on else tuple(settings.fail_on)
    return replace(settings, backends=tuple(registry.resolve_backends(settings.backends)), fail_on=fail_on)


def iter_reports_for_files(
    files: list[str | InputError],
    settings: Settings,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    jobs: int = 1,
    keep_arrays: bool = True,
) -> Iterator[MatrixReport]:
    """Reports for the files of a run (see discovery.collect_files), in order; ``jobs`` > 1 uses
    worker processes (parallel.py) unless a file is stdin, which only this process can read."""
    if jobs > 1 and "-" not in files and len(files) > 1:
        from svdgrad_cli.pipeline.parallel import parallel_reports

        for item in parallel_reports(files, settings, max_elements, jobs, keep_arrays):
            yield _error_report(item) if isinstance(item, InputError) else item
        return
    for report in iter_reports(load_files(files, settings.dtype, max_elements), settings):
        yield report if keep_arrays else report.without_arrays()


def check_paths(
    paths: list[str], settings: Settings | None = None, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> RunReport:
    """Check every matrix in files, directories or ``-``; input errors become error results."""
    settings = resolve_settings(settings or Settings())
    files = collect_files(paths)
    reports = iter_reports_for_files(files.entries, settings, max_elements)
    return RunReport(settings, list(reports), skipped=len(files.skipped))


def check(array, loss: str = "sum", backends=None, dtype: str = "auto", **options) -> RunReport:
    """Check one matrix or a stack (..., m, n) given as an array; returns a RunReport.

    >>> report = check(np.eye(3))                      # doctest: +SKIP
    >>> report.results[0].verdict                      # doctest: +SKIP
    'agree'
    """
    settings = resolve_settings(Settings(loss=loss, dtype=dtype, backends=tuple(backends or ()), **options))
    loaded = LoadedArray("<array>", np.asarray(array))
    return RunReport(settings, list(iter_reports(matrices(loaded, settings.dtype), settings)))
