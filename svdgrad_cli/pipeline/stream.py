"""Matrices in, one MatrixReport per matrix out, in input order: backends run once per batch.

Matrices of one shape and dtype, across files, are stacked into one call per backend (batching.py);
each matrix is then judged on its own (judge.py).
"""

from __future__ import annotations

import functools
import math
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from svdgrad_cli.backends import registry
from svdgrad_cli.backends.isolation import WorkerBackend
from svdgrad_cli.backends.protocol import BackendFailure, GaugeDependence, described, last_frames
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.loading import load_cotangents
from svdgrad_cli.model import BackendResult, MatrixReport
from svdgrad_cli.numerics.field import is_complex
from svdgrad_cli.numerics.losses import Loss, parse_loss
from svdgrad_cli.numerics.svd import stack_svd
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.assess import assess_matrix, first_reference
from svdgrad_cli.pipeline.batching import batched_in_order
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

SELF_CHECKS_PER_SHAPE = 8  # clean results of one shape whose reference is checked by finite differences
# ... up to this size: beyond it the check's SVDs cost a tenth of the run (1024x1024: 0.85 s of 7.5 s)
# and a clean agree, every backend within its budget of the reference, has nothing left to settle.
CLEAN_CHECK_ELEMENTS = 256 * 256
MESSAGE_CHARS = 240  # a framework's error can quote the whole input matrix; keep its first line


def error_report(error: InputError) -> MatrixReport:
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


def _call(backend, stack: np.ndarray, loss: Loss, settings: Settings):
    """backend.compute on the stack, given up after ``settings.timeout`` seconds (TimeoutError). A
    plug-in's or a built-in's worker process is killed then (isolation.py, hosted.py); an in-process
    call (a register_backend function, a built-in in a --jobs worker) goes on in a daemon thread,
    abandoned, since Python cannot stop it."""
    if isinstance(backend, WorkerBackend):
        return backend.compute(stack, loss, settings.full_matrices, timeout=settings.timeout)

    def call():
        # A framework's own NumPy warnings (divide by zero at ties) would only repeat the verdict.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return backend.compute(stack, loss, full_matrices=settings.full_matrices)

    if settings.timeout is None:
        return call()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["output"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name=f"svdgrad {backend.name}")
    thread.start()
    thread.join(settings.timeout)
    if thread.is_alive():
        raise TimeoutError(f"no answer within --timeout {settings.timeout:g} s (the call was abandoned)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["output"]


def _references(batch: list[MatrixCase], stack: np.ndarray, loss: Loss, settings: Settings):
    """The SVDs of a stack (one LAPACK call) and each matrix's first reference (assess.py): the work
    of the reference that needs no backend's result, done while the backends compute."""
    svds = stack_svd(stack)
    return svds, [
        first_reference(case.array, loss, settings, svd) for case, svd in zip(batch, svds, strict=True)
    ]


@functools.cache
def background() -> ThreadPoolExecutor:
    """One thread for the reference's SVDs, which NumPy computes without the GIL, and the rest of the
    reference that needs no backend (_references): they overlap the backends' calls and the
    frameworks' imports (1024x1024: its 0.45 s SVD hides inside TensorFlow's 3 s import)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="svdgrad-reference")


def _run_backend(name: str, stack: np.ndarray, loss: Loss, settings: Settings) -> list[BackendResult]:
    """One batched call; a backend that raises is ``failed`` for every matrix of the batch."""
    backend = registry.load_backend(name)
    name = backend.name  # a spec is reported under its short name
    try:
        output = _call(backend, stack, loss, settings)
        values, gradients = np.asarray(output.singular_values), np.asarray(output.gradients)
        k = min(stack.shape[-2:])
        if values.shape != (len(stack), k) or gradients.shape != stack.shape:
            raise ValueError(
                f"returned singular values of shape {values.shape} and gradients of shape "
                f"{gradients.shape} for a stack of shape {stack.shape}"
            )
        _check_dtypes(values, gradients, stack.dtype)
    except GaugeDependence as exc:  # the framework noticed that the loss has no gradient here
        message = f"{backend.name} refused: {exc}"[:MESSAGE_CHARS]
        refused = BackendResult(
            name, "undefined", message, verdict=BackendVerdict.UNDEFINED, origin=backend.origin
        )
        return [refused] * len(stack)
    except Exception as exc:  # a backend's own failure is a result, not a crash
        return [_failure(name, backend.origin, exc)] * len(stack)
    u, v = output.u, output.v
    return [
        BackendResult(
            name,
            "ok",
            None,
            values[i],
            gradients[i],
            verdict=None,
            u=None if u is None else np.asarray(u[i]),
            v=None if v is None else np.asarray(v[i]),
            origin=backend.origin,
            convention=output.convention,
        )
        for i in range(len(stack))
    ]


def _failure(name: str, origin: str, exc: Exception) -> BackendResult:
    """The result of a call that raised: ``failed`` with the reason and where it was raised, or
    ``unsupported`` (a framework that does not implement this gradient is a finding about it)."""
    contained = isinstance(exc, BackendFailure)
    message = (str(exc) if contained else described(exc))[:MESSAGE_CHARS]
    trace = exc.trace if contained else last_frames(exc)
    unsupported = exc.unsupported if contained else isinstance(exc, NotImplementedError)
    verdict = BackendVerdict.UNSUPPORTED if unsupported else BackendVerdict.FAILED
    return BackendResult(name, verdict.value, message, verdict=verdict, origin=origin, trace=trace)


def _check_dtypes(values: np.ndarray, gradients: np.ndarray, dtype: np.dtype) -> None:
    """A ValueError (the backend ``failed``) for results that are not numbers of the stack's field in at
    least its precision: a float32 answer to a float64 question would be judged against the wrong
    budget, and a complex gradient of real input carries an imaginary part nothing asked for."""
    kind = "c" if is_complex(dtype) else "f"
    if values.dtype.kind not in "fc" or gradients.dtype.kind != kind:
        raise ValueError(
            f"returned singular values of dtype {values.dtype} and gradients of dtype {gradients.dtype} "
            f"for a {dtype} stack"
        )
    for what, array in (("singular values", values), ("gradients", gradients)):
        if np.finfo(array.dtype).eps > np.finfo(dtype).eps:
            raise ValueError(f"returned {what} in {array.dtype} for a {dtype} stack (less precision)")


def forward_svd(name: str, matrix: np.ndarray, settings: Settings):
    """A backend's own SVD with vectors of one matrix, as (values, U, V); None if it gives none.

    It is the call that backend makes for a loss of U and V (recon's), so its forward accuracy can be
    measured where the run's own loss asked only for singular values; --timeout bounds it too.
    """
    backend = registry.load_backend(name)
    if not backend.gives_factors:
        return None
    loss = parse_loss("recon").bind(matrix.shape, 0)
    try:
        output = _call(backend, matrix[None], loss, replace(settings, full_matrices=False))
    except TimeoutError:
        raise  # the caller stops asking this backend
    except Exception:  # the run already judged this backend; no forward check is no news
        return None
    if output.u is None or output.v is None:
        return None
    return np.asarray(output.singular_values[0]), np.asarray(output.u[0]), np.asarray(output.v[0])


def iter_reports(
    items: Iterable[MatrixCase | InputError | Skipped],
    settings: Settings,
    on_stage: Callable[[str], None] | None = None,
) -> Iterator[MatrixReport | Skipped]:
    """One report per matrix or input error, in input order, and skipped members as they come;
    ``settings.backends`` must be resolved.

    Matrices of one shape and dtype, across files, are stacked into one call per backend
    (batching.py).
    """
    unbound = parse_loss(settings.loss)
    stage = on_stage or (lambda what: None)
    names = tuple(unbound.weight_shapes((2, 2)))
    cotangents = load_cotangents(settings.cotangents, names) if settings.cotangents else None
    versions = registry.backend_versions(settings.backends)
    by_display = {registry.display_name(name): name for name in settings.backends}
    checks_done: dict[tuple[int, ...], int] = {}
    hung: set[str] = set()  # backends whose forward call outlived --timeout: not asked again

    def forward(shown: str, a: np.ndarray):
        name = by_display[shown]
        if name in hung:
            return None
        try:
            return forward_svd(name, a, settings)
        except TimeoutError:
            hung.add(name)
            return None

    def wanted(shape: tuple[int, ...]) -> Callable[[], bool]:
        def take() -> bool:
            checks_done[shape] = checks_done.get(shape, 0) + 1
            return checks_done[shape] <= SELF_CHECKS_PER_SHAPE and math.prod(shape) <= CLEAN_CHECK_ELEMENTS

        return take

    def process(batch: list[MatrixCase]) -> list[MatrixReport]:
        misfit = unbound.check_fits(batch[0].array.shape)
        if misfit:
            return [error_report(InputError(case.label, misfit)) for case in batch]
        try:
            loss = unbound.bind(batch[0].array.shape, settings.seed, cotangents, is_complex(batch[0].array))
        except UsageError as exc:
            return [error_report(InputError(case.label, str(exc))) for case in batch]
        stack = np.stack([case.array for case in batch])
        what = f"{len(batch)} matri{'x' if len(batch) == 1 else 'ces'} of {stack.shape[1]}x{stack.shape[2]}"
        registry.send_ahead(settings.backends, stack, loss, settings.full_matrices)  # issue 26: side by side
        references = background().submit(_references, batch, stack, loss, settings)  # overlap the backends
        per_backend = []
        for name in settings.backends:
            stage(f"{registry.display_name(name)}: {what}")
            per_backend.append(_run_backend(name, stack, loss, settings))
        stage(f"reference and verdicts: {what}")
        svds, firsts = references.result()
        return [
            assess_matrix(
                case,
                svds[i],
                [results[i] for results in per_backend],
                loss,
                settings,
                versions,
                wanted(case.array.shape),
                functools.partial(forward, a=case.array),
                firsts[i],
            )
            for i, case in enumerate(batch)
        ]

    try:
        yield from batched_in_order(items, process, _passthrough)
    finally:
        registry.end_run()  # the plug-ins' idle worker processes beyond a few end with the run


def _passthrough(item: InputError | Skipped) -> MatrixReport | Skipped:
    """An input error becomes an error report in its place; a skipped member passes as it is."""
    return error_report(item) if isinstance(item, InputError) else item
