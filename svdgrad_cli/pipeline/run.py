"""The library's entry points: check an array, check paths, and stream the reports of a file list or
of a list of arrays (a sweep's points).

Files and arrays are read and judged by stream.py (``check_files``, ``check_arrays``) with one
RunPlan (plan.py), in this process or, with ``jobs`` > 1, in worker processes (parallel.py).
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from svdgrad_cli._version import __version__
from svdgrad_cli.backends import registry
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.explain_parts import parts_sentence
from svdgrad_cli.inputs.arrays import LoadedArray, Skipped
from svdgrad_cli.inputs.cotangents import load_cotangents
from svdgrad_cli.inputs.discovery import Entry, collect_files
from svdgrad_cli.mode_model import ModeRun
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET, Target
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS, REFERENCE_CHOICES, Settings
from svdgrad_cli.pipeline.assess import assessment_for
from svdgrad_cli.pipeline.explain import for_python
from svdgrad_cli.pipeline.plan import RunPlan
from svdgrad_cli.pipeline.stream import Arrays, check_arrays, check_files, error_report
from svdgrad_cli.verdicts import MatrixStatus, ReferencePrecision


def resolve_settings(settings: Settings) -> Settings:
    """Validate the loss and options and fix the backend list (default: every installed one)."""
    validate_settings(settings)
    return replace(
        settings,
        reference=ReferencePrecision(settings.reference),
        backends=tuple(registry.resolve_backends(settings.backends)),
    )


def validate_settings(settings: Settings) -> None:
    """A UsageError for a loss, tolerance, --cotangents or --fail-on that cannot be used (the
    backends aside: scan runs none)."""
    parse_loss(settings.loss)
    for name in ("rtol", "atol", "zero_tol", "dup_tol"):
        value = getattr(settings, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    factor = settings.budget_factor
    if factor is not None and not (math.isfinite(factor) and factor > 0):
        raise UsageError(f"--budget-factor must be a finite number > 0, got {settings.budget_factor}")
    if settings.cotangents is not None:  # read once here so that a bad file is a usage error up front
        names = tuple(parse_loss(settings.loss).weight_shapes((2, 2)))
        if not names:
            raise UsageError(f"--cotangents: loss {settings.loss} has no weights to replace")
        load_cotangents(settings.cotangents, names)
    _check_fail_on(settings)
    _check_reference(settings)


def _check_reference(settings: Settings) -> None:
    """--reference: a known choice, and not high for uv, whose cotangents are read at NumPy's SVD."""
    if settings.reference not in REFERENCE_CHOICES:
        raise UsageError(
            f"--reference must be one of {', '.join(REFERENCE_CHOICES)}, got {settings.reference!r}"
        )
    if settings.reference == "high" and getattr(parse_loss(settings.loss), "kind", None) == "uv":
        raise UsageError(
            "--reference high: --loss uv reads its cotangents at NumPy's float64 singular vectors"
        )


def _check_fail_on(settings: Settings) -> None:
    """Refuse combinations that contradict themselves: 'never' goes alone, with --fail-only-on."""
    if "never" in settings.fail_only_on and len(settings.fail_only_on) > 1:
        raise UsageError("--fail-only-on never cannot be combined with a verdict")
    if "never" in settings.fail_only_on and settings.fail_on:
        raise UsageError(f"--fail-only-on never contradicts --fail-on {', '.join(settings.fail_on)}")


def iter_reports_for_files(
    files: Sequence[Entry],
    settings: Settings,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    jobs: int = 1,
    keep_arrays: bool = True,
    observer=None,
    target: Target = DEFAULT_TARGET,
) -> Iterator[MatrixReport | Skipped]:
    """Reports for the files of a run (see discovery.collect_files), in order; ``jobs`` > 1 uses
    worker processes (parallel.py) where they pay, never for stdin, which only this process can read.
    An ``observer`` hears of files and stages (in this process only); ``target``: what is judged
    (numerics/differentiated.py), refused here, before any worker starts, where svdgrad cannot judge it."""
    from svdgrad_cli.pipeline.parallel import parallel_reports, workers_for

    plan = RunPlan(settings, target, max_elements, keep_arrays)
    assessment_for(target)
    workers = workers_for(files, jobs)
    if workers > 1:
        registry.close_workers()  # each worker process runs its own plug-ins' workers
        for item in parallel_reports(files, plan, workers):
            yield error_report(item) if isinstance(item, InputError) else item
        return
    registry.start_workers(settings.backends)  # the frameworks load while the files are read
    yield from check_files(files, plan, observer)


def iter_reports_for_arrays(
    arrays: Arrays,
    settings: Settings,
    jobs: int = 1,
    keep_arrays: bool = True,
    observer=None,
    target: Target = DEFAULT_TARGET,
) -> Generator[MatrixReport | Skipped]:
    """Reports for arrays held in memory (or built when asked for: ``arrays[i]``), in order, as
    ``check(array)`` makes them; ``jobs`` > 1 uses worker processes (parallel.py) where they pay, each
    given ``arrays`` to build its own. An ``observer`` hears of arrays and stages (in this process)."""
    from svdgrad_cli.pipeline.parallel import parallel_array_reports, workers_for_arrays

    plan = RunPlan(settings, target, keep_arrays=keep_arrays)
    assessment_for(target)
    workers = workers_for_arrays(arrays, jobs)
    if workers > 1:
        registry.close_workers()  # each worker process runs its own plug-ins' workers
        yield from parallel_array_reports(arrays, plan, workers)
        return
    yield from check_arrays(arrays, range(len(arrays)), plan, observer)


def run_versions(settings: Settings) -> dict[str, str | None]:
    """svdgrad's version, Python's, NumPy's and mpmath's, and each backend's (read without importing it)."""
    versions = {"svdgrad": __version__, "python": platform.python_version(), "numpy": np.__version__}
    versions["mpmath"] = importlib.metadata.version("mpmath")  # imported only where it is needed
    return versions | registry.backend_versions(settings.backends)


def check_paths(
    paths: list[str], settings: Settings | None = None, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> RunReport:
    """Check every matrix in files, directories or ``-``; input errors become error results."""
    settings = resolve_settings(settings or Settings())
    files = collect_files(paths)
    run = RunReport(settings, skipped=list(files.skipped), versions=run_versions(settings))
    return _collected(run, iter_reports_for_files(files.entries, settings, max_elements))


def check(
    array,
    loss: str = "sum",
    backends=None,
    dtype: str = "auto",
    target: Target = DEFAULT_TARGET,
    mode: str = "vjp",
    **options,
) -> RunReport | ModeRun:
    """Check one matrix or a stack (..., m, n) given as an array; returns a RunReport. ``target``:
    what is differentiated (numerics/differentiated.py; a UsageError where svdgrad cannot judge it).

    ``mode="jvp"`` or ``"hvp"`` (issue 25) judges forward-mode JVPs or Hessian-vector products
    instead and returns a mode_model.ModeRun (options: seed, zero_tol, directions).

    >>> report = check(np.eye(3))                      # doctest: +SKIP
    >>> report.results[0].verdict                      # doctest: +SKIP
    'agree'
    """
    if mode != "vjp":  # issue 25 hook: forward mode and second order (pipeline/modes_run.py)
        from svdgrad_cli.pipeline.modes_run import check_modes

        return check_modes(array, mode, loss, backends, dtype, **options)
    settings = resolve_settings(Settings(loss=loss, dtype=dtype, backends=tuple(backends or ()), **options))
    registry.start_workers(settings.backends)  # the frameworks load side by side
    loaded = LoadedArray("<array>", np.asarray(array))
    run = RunReport(settings, versions=run_versions(settings))
    return _collected(run, iter_reports_for_arrays([loaded], settings, target=target))


def _collected(run: RunReport, items: Iterable[MatrixReport | Skipped]) -> RunReport:
    """``run`` with each report among its results and each input passed over among its skipped."""
    for item in items:
        if isinstance(item, Skipped):
            run.skipped.append(item)
        else:
            run.results.append(item)
    return run


def _where(result) -> str:
    """Where a wrong or inaccurate gradient's error lies (explain_parts.py), as a sentence and a space."""
    return "" if result.error_parts is None else parts_sentence(result.error_parts) + " "


def assert_gradients_ok(backend: str, matrices, loss: str = "sum", accept=("correct", "valid"), **options):
    """Check ``matrices`` (an array of shape (..., m, n)) with one backend (a name or a spec such as
    ``"torch:mypkg.linalg:safe_svd"``) and raise AssertionError, with svdgrad's explanation of each
    matrix, unless every verdict is in ``accept``; returns the RunReport. For a library's own tests::

        def test_safe_svd_gradients():
            assert_gradients_ok("torch:mypkg.linalg:safe_svd", my_matrices, loss="proj:2")
    """
    report = check(matrices, loss=loss, backends=[backend], **options)
    if isinstance(report, ModeRun):  # issue 25 hook (pipeline/modes_run.py)
        from svdgrad_cli.pipeline.modes_run import mode_failures

        failures = mode_failures(report, accept)
        if failures:
            raise AssertionError("svdgrad: " + "\n".join(failures))
        return report
    settings = "".join(f", {key}={value!r}" for key, value in options.items())
    call = f"svdgrad_cli.check(matrices, loss={loss!r}, backends=[{backend!r}]{settings})"
    failures = [
        f"{r.label}: {b.name} is {b.verdict}. {_where(b)}{for_python(r.explanation, call)}"
        for r in report.results
        for b in r.backends
        if b.verdict not in accept
    ]
    failures += [f"{r.label}: {r.error}" for r in report.results if r.status is MatrixStatus.ERROR]
    if failures:
        raise AssertionError("svdgrad: " + "\n".join(failures))
    return report
