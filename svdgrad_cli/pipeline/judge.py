"""Judge each backend against the float64 reference, compare backends pairwise, and decide a verdict.

Per backend: ``correct`` (the gradient is unique and within budget of it), ``valid`` (not unique,
and within budget of the gradient set), ``wrong`` (finite, neither), ``non-finite``, ``failed``
(raised), ``undefined`` (the loss has no gradient here: shown, not judged). The matrix verdict is the
worst news: wrong > non-finite > error (a backend failed) > undefined > non-unique > agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from svdgrad_cli.model import BackendResult, PairDiff, Reference
from svdgrad_cli.numerics.budget import spectral_budget, vector_budget
from svdgrad_cli.numerics.losses import Loss
from svdgrad_cli.numerics.membership import distance_to_set
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.options import Settings
from svdgrad_cli.verdicts import BackendVerdict


def budget_for(reference: Reference, spectrum: Spectrum, loss: Loss, dtype, settings: Settings) -> float:
    """The error budget of every backend of one matrix (they share its dtype); see budget.py."""
    reference_norm = reference.gradient_norm or 0.0
    if settings.rtol is not None or settings.atol is not None:
        return (settings.atol or 0.0) + (settings.rtol or 0.0) * reference_norm
    amp, factor = reference.amplification, settings.budget_factor
    if loss.needs_vectors:
        return vector_budget(spectrum, reference, dtype, factor)
    return spectral_budget(spectrum, loss.weights(len(spectrum.values)), amp, dtype, factor)


def distance_function(
    reference: Reference, spectrum: Spectrum, loss: Loss, u: np.ndarray, v: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Frobenius distance to the unique gradient, or to the gradient set where it is not unique."""
    if reference.ball_radius is not None:
        return lambda g: max(0.0, frobenius(g) - reference.ball_radius)
    if reference.unique or not reference.defined:  # an undefined reference is never measured against
        return lambda g: frobenius(g - reference.gradient)
    w = loss.weights(len(spectrum.values))
    return lambda g: distance_to_set(g, u, v, spectrum, w)


def judge_backend(
    result: BackendResult, reference: Reference, budget: float, distance: Callable[[np.ndarray], float]
) -> BackendResult:
    """The same result with verdict, error and budget filled in."""
    if result.status == "failed":
        return result
    gradient = result.gradient
    finite = bool(np.all(np.isfinite(gradient)))
    status = "ok" if finite else "non-finite"
    message = None
    if not finite:
        count = int(np.sum(~np.isfinite(gradient)))
        message = f"{count}/{gradient.size} entries NaN/Inf"
    if not reference.defined:
        verdict = BackendVerdict.UNDEFINED
        return BackendResult(result.name, status, message, result.singular_values, gradient, verdict)
    if not finite:
        verdict = BackendVerdict.NON_FINITE
        return BackendResult(result.name, status, message, result.singular_values, gradient, verdict)
    error = distance(gradient.astype(np.float64))
    if error <= budget:
        verdict = BackendVerdict.CORRECT if reference.unique else BackendVerdict.VALID
    else:
        verdict = BackendVerdict.WRONG
    return BackendResult(result.name, "ok", None, result.singular_values, gradient, verdict, error, budget)


def pair_differences(results: list[BackendResult]) -> list[PairDiff]:
    """Largest entrywise |difference| between every two backends' gradients."""
    pairs = []
    for first, second in itertools.combinations(results, 2):
        if first.status != "ok" or second.status != "ok":
            pairs.append(PairDiff(first.name, second.name, None, None))
            continue
        a = first.gradient.astype(np.float64)
        b = second.gradient.astype(np.float64)
        diff = float(np.max(np.abs(a - b)))
        scale = float(max(np.max(np.abs(a)), np.max(np.abs(b))))
        pairs.append(PairDiff(first.name, second.name, diff, diff / scale if scale else None))
    return pairs
