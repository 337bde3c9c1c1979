"""Judge forward-mode JVPs and Hessian-vector products of the SVD (issue 25: ``--mode jvp|hvp``).

For each matrix, a few directions E (seeded random unit-norm ones, or the user's own); for each
direction the exact reference (numerics/jvp.py: L'(A; E); numerics/hvp.py: H(A)[E]) and its budget
(numerics/mode_budgets.py); for each backend each path of the mode (backends/modes.py), judged with
the gradient's verdicts (judge.py's ``classify``):

- ``non-finite`` (NaN/Inf), whatever the reference says; ``failed``; ``unsupported`` (no rule);
- ``undefined``: the reference does not exist (no HVP where the gradient is not differentiable);
- ``correct`` / ``indeterminate`` / ``inaccurate`` / ``wrong`` as for gradients;
- JVP where the gradient is a set: equal to the one-sided derivative L'(A; E) within the budget is
  ``correct``; else inside [low, high], the values <G, E> of the set's members, ``valid`` (a linear
  JVP cannot give the one-sided derivative along every E: it picks a member); outside, ``wrong``.
A result the float64 reference cannot decide (within its own uncertainty of a threshold) is decided
in the backend's favour and says so.
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.backends.modes import mode_paths, run_path
from svdgrad_cli.backends.protocol import BackendFailure
from svdgrad_cli.mode_model import DirectionResult, ModeReport, PathResult
from svdgrad_cli.numerics.differentiated import DerivativeMode
from svdgrad_cli.numerics.hvp import reference_hvp
from svdgrad_cli.numerics.jvp import reference_jvp
from svdgrad_cli.numerics.mode_budgets import hvp_budget, jvp_budget
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.pipeline.judge import classify, within_verdict
from svdgrad_cli.verdicts import BackendVerdict

DIRECTION_STREAM = 0x25  # directions are drawn from default_rng((seed, DIRECTION_STREAM, index))
DEFAULT_DIRECTIONS = 3


def draw_directions(shape: tuple[int, int], seed: int, count: int = DEFAULT_DIRECTIONS) -> list[np.ndarray]:
    """``count`` seeded Gaussian directions of unit Frobenius norm."""
    out = []
    for index in range(count):
        e = np.random.default_rng((seed, DIRECTION_STREAM, index)).standard_normal(shape)
        out.append(e / frobenius(e))
    return out


def _failure(backend: str, path: str, exc: BackendFailure) -> PathResult:
    verdict = BackendVerdict.UNSUPPORTED if exc.unsupported else BackendVerdict.FAILED
    return PathResult(backend, path, verdict, message=str(exc))


def _judged(backend, path, error, budget, unique=True, value=None, note="") -> PathResult:
    verdict = classify(error, budget, unique)
    if verdict is None:  # within the reference's own error of a threshold: in the backend's favour
        verdict, note = within_verdict(budget, unique), "reference cannot tell"
    relative = error / budget.scale if budget.scale else 0.0
    return PathResult(backend, path, verdict, error, relative, budget.relative, value, note)


def _judge_jvp(backend, path, out, direction: DirectionResult, budget) -> PathResult:
    """A JVP along a direction whose one-sided derivative is defined (``_judge`` asks only then)."""
    assert direction.value is not None
    value = float(out)
    error = abs(value - direction.value)
    if direction.unique or error <= budget.allowed:
        return _judged(backend, path, error, budget, True, value)
    assert direction.interval is not None  # a gradient that is a set: the values of its members
    low, high = direction.interval
    if low - budget.allowed <= value <= high + budget.allowed:
        note = "<G, E> of a member G, not L'(A;E)"
        return PathResult(
            backend, path, BackendVerdict.VALID, error, error / budget.scale, budget.relative, value, note
        )
    return _judged(backend, path, error, budget, True, value)


def _judge(backend, path, out, mode, direction: DirectionResult, budget, reference_value) -> PathResult:
    if not np.all(np.isfinite(out)):
        count = int(np.sum(~np.isfinite(out)))
        return PathResult(
            backend, path, BackendVerdict.NON_FINITE, message=f"{count}/{out.size} entries NaN/Inf"
        )
    if not direction.defined:
        return PathResult(
            backend, path, BackendVerdict.UNDEFINED, value=float(out) if mode == "jvp" else None
        )
    if mode == "jvp":
        return _judge_jvp(backend, path, out, direction, budget)
    return _judged(backend, path, frobenius(out - reference_value), budget)


def _reference(a, loss, mode, e, zero_tol, seed, gradient_ref, dtype):
    """(DirectionResult without results, budget, reference value) for one direction."""
    shape = a.shape
    if mode == "jvp":
        d = reference_jvp(a, loss, e, zero_tol, gradient_ref.gradient, gradient_ref.unique)
        defined = d.one_sided is not None
        interval = None if d.unique else (d.low, d.high)
        result = DirectionResult(0, d.reason, defined, d.unique, d.one_sided, interval)
        budget = jvp_budget(gradient_ref, shape, dtype, e) if defined else None
        return result, budget, d.one_sided
    h = reference_hvp(a, loss, e, zero_tol, seed)
    norm = frobenius(h.value) if h.defined else None
    result = DirectionResult(0, h.reason, h.defined, h.defined, norm=norm)
    budget = hvp_budget(h, gradient_ref.hessian_norm, shape, dtype, e) if h.defined else None
    return result, budget, h.value


def _paths(backend, loss, mode, dtype, k, timeout) -> dict | BackendFailure:
    """The backend's paths of ``mode``, or why it has none (unsupported) or they failed to build."""
    try:
        return mode_paths(backend, loss, mode, dtype, k, timeout)
    except BackendFailure as exc:
        return exc


def _run_paths(backend, paths, a, e, mode, direction, budget, value) -> list[PathResult]:
    """Every path of one backend along one direction, judged."""
    if isinstance(paths, BackendFailure):
        return [_failure(backend.name, "-", paths)]
    results = []
    for name, path in paths.items():
        try:
            out = run_path(path, a, e)
        except BackendFailure as exc:
            results.append(_failure(backend.name, name, exc))
            continue
        results.append(_judge(backend.name, name, out, mode, direction, budget, value))
    return results


def check_mode(
    a, label, loss, backends, mode, dtype, zero_tol, seed=0, directions=None, timeout=None
) -> ModeReport:
    """Judge every backend's paths of ``mode`` on one real matrix ``a`` computed in ``dtype`` (a
    plug-in's path given up after ``timeout`` seconds)."""
    a = np.asarray(a)
    shape = a.shape
    loss = loss.bind(shape, seed)
    a64 = a.astype(np.float64)
    gradient_ref = build_reference(a64, loss, zero_tol, seed, check=False)[0]
    paths = {b.name: _paths(b, loss, mode, dtype, min(shape), timeout) for b in backends}
    out_directions = []
    for index, e in enumerate(directions if directions is not None else draw_directions(shape, seed)):
        direction, budget, value = _reference(a64, loss, mode, e, zero_tol, seed, gradient_ref, dtype)
        results = [
            r
            for b in backends
            for r in _run_paths(b, paths[b.name], a.astype(dtype), e, mode, direction, budget, value)
        ]
        out_directions.append(DirectionResult(**{**direction.__dict__, "index": index, "results": results}))
    return ModeReport(label, shape, DerivativeMode(mode), loss.name, np.dtype(dtype).name, out_directions)
