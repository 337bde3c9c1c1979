"""One batched call per backend, its answer checked against what was asked, as BackendResults.

What was asked is the run's target (numerics/differentiated.py): a backend that does not list it is
``unsupported`` without a call (backends/protocol.py ``targets_of``); an answer whose shapes do not
fit it, or whose numbers are of another field or less precision, is ``failed``.
"""

from __future__ import annotations

import functools
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from svdgrad_cli.backends import registry
from svdgrad_cli.backends.isolation import WorkerBackend
from svdgrad_cli.backends.protocol import (
    BackendFailure,
    GaugeDependence,
    described,
    last_frames,
    targets_of,
)
from svdgrad_cli.model import BackendResult
from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET
from svdgrad_cli.numerics.field import is_complex
from svdgrad_cli.numerics.losses import Loss, parse_loss
from svdgrad_cli.numerics.truncated import missing_triplets
from svdgrad_cli.pipeline.plan import RunPlan
from svdgrad_cli.verdicts import BackendStatus, BackendVerdict

MESSAGE_CHARS = 240  # a framework's error can quote the whole input matrix; keep its first line


def _call(backend, stack: np.ndarray, loss: Loss, plan: RunPlan):
    """backend.compute on the stack, given up after ``--timeout`` seconds (TimeoutError). A plug-in's
    or a built-in's worker process is killed then (isolation.py, hosted.py); an in-process call (a
    register_backend function, a built-in in a --jobs worker) goes on in a daemon thread, abandoned,
    since Python cannot stop it."""
    settings = plan.settings
    asked = {} if plan.target == DEFAULT_TARGET else {"target": plan.target}  # protocol.py
    if isinstance(backend, WorkerBackend):
        return backend.compute(stack, loss, settings.full_matrices, timeout=settings.timeout, **asked)

    def call():
        # A framework's own NumPy warnings (divide by zero at ties) would only repeat the verdict.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return backend.compute(stack, loss, full_matrices=settings.full_matrices, **asked)

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


@functools.cache
def background() -> ThreadPoolExecutor:
    """One thread for the reference's SVDs, which NumPy computes without the GIL, and the rest of the
    reference that needs no backend (assess.py ``before_backends``): they overlap the backends' calls
    and the frameworks' imports (1024x1024: its 0.45 s SVD hides inside TensorFlow's 3 s import)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="svdgrad-reference")


def run_backend(name: str, stack: np.ndarray, loss: Loss, plan: RunPlan) -> list[BackendResult]:
    """One batched call; a backend that raises is ``failed`` for every matrix of the batch."""
    backend = registry.load_backend(name)
    name = backend.name  # a spec is reported under its short name
    if plan.target not in targets_of(backend):
        message = f"{name} does not compute {plan.target}"
        return [_refused(name, backend.origin, BackendStatus.UNSUPPORTED, message)] * len(stack)
    try:
        output = _call(backend, stack, loss, plan)
        values, gradients = np.asarray(output.singular_values), np.asarray(output.gradients)
        kept = plan.target.check_output(stack.shape, values.shape, gradients.shape)
        _check_dtypes(values, gradients, stack.dtype)
        fewer = missing_triplets(loss, stack.shape[-2:], kept)  # a truncated SVD: one line, never wrong
        if fewer:
            raise NotImplementedError(fewer)
    except GaugeDependence as exc:  # the framework noticed that the loss has no gradient here
        message = f"{backend.name} refused: {exc}"
        return [_refused(name, backend.origin, BackendStatus.UNDEFINED, message)] * len(stack)
    except Exception as exc:  # a backend's own failure is a result, not a crash
        return [_failure(name, backend.origin, exc)] * len(stack)
    u, v = output.u, output.v
    return [
        BackendResult(
            name,
            BackendStatus.OK,
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


def _refused(name: str, origin: str, status: BackendStatus, message: str) -> BackendResult:
    """A result without an answer to judge: ``undefined`` (the framework refused the loss) or
    ``unsupported`` (the backend does not compute what was asked)."""
    verdict = BackendVerdict(status.value)
    return BackendResult(name, status, message[:MESSAGE_CHARS], verdict=verdict, origin=origin)


def _failure(name: str, origin: str, exc: Exception) -> BackendResult:
    """The result of a call that raised: ``failed`` with the reason and where it was raised, or
    ``unsupported`` (a framework that does not implement this gradient is a finding about it)."""
    if isinstance(exc, BackendFailure):
        message, trace, unsupported = str(exc), exc.trace, exc.unsupported
    else:
        message, trace, unsupported = described(exc), last_frames(exc), isinstance(exc, NotImplementedError)
    message = message[:MESSAGE_CHARS]
    verdict = BackendVerdict.UNSUPPORTED if unsupported else BackendVerdict.FAILED
    status = BackendStatus.UNSUPPORTED if unsupported else BackendStatus.FAILED
    return BackendResult(name, status, message, verdict=verdict, origin=origin, trace=trace)


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


def forward_svd(name: str, matrix: np.ndarray, plan: RunPlan):
    """A backend's own SVD with vectors of one matrix, as (values, U, V); None if it gives none.

    It is the call that backend makes for a loss of U and V (recon's), so its forward accuracy can be
    measured where the run's own loss asked only for singular values; --timeout bounds it too.
    """
    backend = registry.load_backend(name)
    if not backend.gives_factors:
        return None
    loss = parse_loss("recon").bind(matrix.shape, 0)
    thin = replace(plan, settings=replace(plan.settings, full_matrices=False), target=DEFAULT_TARGET)
    try:
        output = _call(backend, matrix[None], loss, thin)
    except TimeoutError:
        raise  # the caller stops asking this backend
    except Exception:  # the run already judged this backend; no forward check is no news
        return None
    if output.u is None or output.v is None:
        return None
    return np.asarray(output.singular_values[0]), np.asarray(output.u[0]), np.asarray(output.v[0])
