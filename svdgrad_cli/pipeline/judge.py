"""Judge one backend's gradient against the reference and its budget (docs/theory.md §6).

Within the budget: ``correct`` (unique gradient), ``valid`` (a member of the gradient set) or
``indeterminate`` (unique, but the budget reaches a tenth of the gradient: the data in that dtype do
not determine it). Beyond it: ``inaccurate`` while the relative error is at most sqrt(eps) (digits
lost beyond what the data justify), ``wrong`` past that. Also ``non-finite``, ``failed`` (raised) and
``undefined`` (the loss has no gradient here: shown, not judged).

The reference has an error of its own (budget.uncertainty): an error within that of a threshold is
``uncertain``, and the caller decides it against a high-precision reference or, failing that, in the
backend's favour: never ``wrong`` or ``inaccurate`` against a reference that cannot tell. Nor is a
difference from the reference printed as the backend's error where it is below RESOLVED times the
reference's own error: a backend that shares the reference's rounding (the same LAPACK SVD and the
same closed form) can match it to every digit and still be as far from the truth as the reference.
The error is then an upper bound, |difference| + uncertainty, and the digits a lower bound
(``error_is_bound``); the caller replaces both by measured values where a high-precision
reference is affordable (assess.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from enum import Enum

import numpy as np

from svdgrad_cli.model import BackendResult, PairDiff
from svdgrad_cli.numerics.budget import Budget
from svdgrad_cli.numerics.field import working
from svdgrad_cli.numerics.membership import distance_to_set
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import Reference
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.verdicts import BackendStatus, BackendVerdict


class Side(Enum):
    """Where an error lies against a threshold, given the reference's own uncertainty."""

    WITHIN = "within"
    BEYOND = "beyond"
    UNCERTAIN = "uncertain"


RESOLVED = 2.0  # a difference of at least twice the reference's own error is the backend's, within 2x


def side(error: float, threshold: float, uncertainty: float) -> Side:
    if error + uncertainty <= threshold:
        return Side.WITHIN
    if error - uncertainty > threshold:
        return Side.BEYOND
    return Side.UNCERTAIN


def distance_function(
    reference: Reference, spectrum: Spectrum, w: np.ndarray | None, u: np.ndarray, v: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Frobenius distance to the unique gradient, or to the gradient set where it is not unique
    (``w``: the weights of a loss of s; None for losses of U and V)."""
    radius, gradient = reference.ball_radius, reference.gradient
    if radius is not None:
        return lambda g: max(0.0, frobenius(g) - radius)
    if not reference.defined or gradient is None:  # an undefined reference is never measured against
        return lambda g: math.inf
    if reference.unique:
        return lambda g: frobenius(g - gradient)
    if w is None:
        raise ValueError("a loss of U and V has a gradient set only at A = 0 (a ball)")
    weights = w
    return lambda g: distance_to_set(g, u, v, spectrum, weights)


def within_verdict(budget: Budget, unique: bool) -> BackendVerdict:
    """The verdict of a finite result within its budget."""
    if not unique:
        return BackendVerdict.VALID
    return BackendVerdict.CORRECT if budget.determined else BackendVerdict.INDETERMINATE


def classify(error: float, budget: Budget, unique: bool) -> BackendVerdict | None:
    """The verdict of a finite result at ``error``; None when the reference cannot tell."""
    within = side(error, budget.allowed, budget.uncertainty)
    if within is not Side.BEYOND:
        return within_verdict(budget, unique) if within is Side.WITHIN else None
    lost = side(error, math.sqrt(budget.eps) * budget.scale, budget.uncertainty)
    if lost is Side.UNCERTAIN:
        return None
    return BackendVerdict.INACCURATE if lost is Side.WITHIN else BackendVerdict.WRONG


def judge_backend(
    result: BackendResult,
    reference: Reference,
    budget: Budget,
    distance: Callable[[np.ndarray], float],
    unique: bool,
) -> BackendResult:
    """The same result with verdict, error, budget and digits filled in (verdict None: uncertain)."""
    if result.gradient is None:  # failed or unsupported: nothing to judge
        return result
    gradient = result.gradient
    finite = bool(np.all(np.isfinite(gradient)))
    if not finite:  # shown as such whatever the reference says, undefined included
        message = f"{int(np.sum(~np.isfinite(gradient)))}/{gradient.size} entries NaN/Inf"
        return replace(
            result, status=BackendStatus.NON_FINITE, message=message, verdict=BackendVerdict.NON_FINITE
        )
    values = result.singular_values
    if values is not None and not np.all(np.isfinite(values)):  # the forward call is broken, whatever G is
        message = f"{int(np.sum(~np.isfinite(values)))}/{values.size} singular values NaN/Inf"
        return replace(
            result, status=BackendStatus.NON_FINITE, message=message, verdict=BackendVerdict.NON_FINITE
        )
    if not reference.defined:
        return replace(result, verdict=BackendVerdict.UNDEFINED)
    error = distance(working(gradient))
    bound = error < RESOLVED * budget.uncertainty
    shown = error + budget.uncertainty if bound else error
    return replace(
        result,
        verdict=classify(error, budget, unique),
        error=shown,
        budget=budget.allowed,
        digits=budget.digits(shown),
        justified_digits=budget.justified_digits,
        error_is_bound=bound,
    )


def settle_in_favour(result: BackendResult, budget: Budget, unique: bool) -> BackendResult:
    """An uncertain result with no better reference to ask: judged within its budget, and said so."""
    note = "within the float64 reference's own error of the budget (--reference high decides)"
    return replace(result, verdict=within_verdict(budget, unique), message=note)


# Verdicts that are claims about the distance from the reference (the others do not need one).
AGAINST_REFERENCE = frozenset(
    {
        BackendVerdict.CORRECT,
        BackendVerdict.VALID,
        BackendVerdict.INDETERMINATE,
        BackendVerdict.INACCURATE,
        BackendVerdict.WRONG,
    }
)


def unverified(result: BackendResult, reference: Reference) -> BackendResult:
    """A result judged against a reference that failed its own finite-difference check:
    ``indeterminate``, with the reason (a reference that fails its check certifies nothing)."""
    fd = reference.finite_difference
    if result.verdict not in AGAINST_REFERENCE or fd is None:
        return result
    note = (
        f"not judged: the {reference.precision} reference failed its own {fd['kind']} finite-difference "
        f"check (error {fd['max_error']:.2e}, tolerance {fd['tolerance']:.2e})"
    )
    return replace(result, verdict=BackendVerdict.INDETERMINATE, message=note)


def pair_differences(results: list[BackendResult]) -> list[PairDiff]:
    """Largest entrywise |difference| between every two backends' gradients."""
    pairs = []
    for first, second in itertools.combinations(results, 2):
        if first.status is not BackendStatus.OK or second.status is not BackendStatus.OK:
            pairs.append(PairDiff(first.name, second.name, None, None))
            continue
        a = working(first.gradient)
        b = working(second.gradient)
        diff = float(np.max(np.abs(a - b)))
        scale = float(max(np.max(np.abs(a)), np.max(np.abs(b))))
        pairs.append(PairDiff(first.name, second.name, diff, diff / scale if scale else None))
    return pairs
