"""judge.py: where an error lies against a budget, the verdict it earns, and the distances it is
measured by (exact dyadic matrices, so every expected number is exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from svdgrad_cli.model import BackendResult
from svdgrad_cli.numerics.budget import Budget
from svdgrad_cli.numerics.reference import Reference
from svdgrad_cli.pipeline.judge import (
    RESOLVED,
    Side,
    classify,
    distance_function,
    judge_backend,
    pair_differences,
    side,
    unverified,
)
from svdgrad_cli.verdicts import BackendVerdict

EPS = float(np.finfo(np.float64).eps)
# allowed 2^-30, scale 1, uncertainty 2^-40: a determined budget (relative 2^-30 < 0.1)
BUDGET = Budget(allowed=2.0**-30, scale=1.0, uncertainty=2.0**-40, eps=EPS)
H2 = np.array([[1.0, 1.0], [1.0, -1.0]]) / 2  # entries exactly +-1/2


def reference(gradient, unique=True, **fields) -> Reference:
    return Reference(np.array([2.0, 1.0]), 2, unique, "exact", gradient, "test", **fields)


def result(gradient, values=(2.0, 1.0)) -> BackendResult:
    return BackendResult("b", "ok", None, np.array(values), gradient, verdict=None)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (0.0, Side.WITHIN),
        (1.0 - 2.0**-10, Side.WITHIN),  # error + uncertainty = threshold exactly
        (1.0, Side.UNCERTAIN),
        (1.0 + 2.0**-10, Side.UNCERTAIN),  # error - uncertainty = threshold: not beyond it
        (1.0 + 2.0**-9, Side.BEYOND),
    ],
)
def test_side_counts_the_reference_uncertainty_on_both_sides(error, expected):
    assert side(error, threshold=1.0, uncertainty=2.0**-10) is expected


def test_within_the_budget_a_unique_gradient_is_correct_and_a_set_member_valid():
    assert classify(2.0**-35, BUDGET, unique=True) is BackendVerdict.CORRECT
    assert classify(2.0**-35, BUDGET, unique=False) is BackendVerdict.VALID


def test_a_budget_of_a_tenth_of_the_gradient_or_more_leaves_it_undetermined():
    loose = Budget(allowed=0.25, scale=1.0, uncertainty=0.0, eps=EPS)
    assert classify(0.125, loose, unique=True) is BackendVerdict.INDETERMINATE


def test_beyond_the_budget_inaccurate_up_to_sqrt_eps_then_wrong():
    assert math.sqrt(EPS) == 2.0**-26
    assert classify(2.0**-28, BUDGET, unique=True) is BackendVerdict.INACCURATE
    assert classify(2.0**-20, BUDGET, unique=True) is BackendVerdict.WRONG


def test_an_error_the_reference_cannot_place_is_left_undecided():
    assert classify(2.0**-30, BUDGET, unique=True) is None  # on the budget, within the uncertainty
    assert classify(2.0**-26, BUDGET, unique=True) is None  # on sqrt(eps), within the uncertainty


def test_the_distance_to_a_unique_gradient_is_the_frobenius_norm_of_the_difference():
    distance = distance_function(reference(H2), None, None, H2, H2)
    e = np.array([[0.0, 3.0], [4.0, 0.0]]) * 2.0**-20  # ||e||_F = 5 * 2^-20 exactly
    assert distance(H2 + e) == 5 * 2.0**-20


def test_the_distance_to_a_ball_is_how_far_outside_it_lies():
    distance = distance_function(
        reference(np.zeros((2, 2)), unique=False, ball_radius=1.0), None, None, H2, H2
    )
    assert distance(np.array([[3.0, 0.0], [0.0, 4.0]])) == 4.0  # ||g||_F = 5, radius 1
    assert distance(np.array([[0.5, 0.0], [0.0, 0.5]])) == 0.0  # inside


def test_a_gradient_with_nan_is_non_finite_whatever_its_other_entries():
    gradient = np.array([[np.nan, 0.0], [0.0, np.inf]])
    judged = judge_backend(result(gradient), reference(H2), BUDGET, lambda g: 0.0, unique=True)
    assert judged.verdict is BackendVerdict.NON_FINITE
    assert judged.message == "2/4 entries NaN/Inf"


def test_a_difference_the_reference_cannot_resolve_is_shown_as_a_bound():
    tiny = 2.0**-42  # below RESOLVED * uncertainty
    assert tiny < RESOLVED * BUDGET.uncertainty
    judged = judge_backend(result(H2), reference(H2), BUDGET, lambda g: tiny, unique=True)
    assert judged.error_is_bound
    assert judged.error == tiny + BUDGET.uncertainty
    assert judged.digits == -math.log10(tiny + BUDGET.uncertainty)
    assert judged.verdict is BackendVerdict.CORRECT


def test_a_resolved_difference_is_the_backends_own_error():
    error = 2.0**-28
    judged = judge_backend(result(H2), reference(H2), BUDGET, lambda g: error, unique=True)
    assert not judged.error_is_bound
    assert (judged.error, judged.budget) == (error, BUDGET.allowed)
    assert judged.justified_digits == 30 * math.log10(2)
    assert judged.verdict is BackendVerdict.INACCURATE


def test_a_reference_that_failed_its_check_judges_nothing():
    fd = {"kind": "central", "max_error": 0.5, "tolerance": 0.01, "passed": False}
    failed = reference(H2, finite_difference=fd)
    judged = unverified(BackendResult("b", "ok", verdict=BackendVerdict.WRONG), failed)
    assert judged.verdict is BackendVerdict.INDETERMINATE
    assert "failed its own central finite-difference check" in (judged.message or "")
    raised = BackendResult("b", "failed", "boom", verdict=BackendVerdict.FAILED)
    assert unverified(raised, failed) is raised  # not a claim about the distance


def test_pair_differences_are_the_largest_entrywise_differences():
    first = BackendResult("a", "ok", gradient=H2)
    second = BackendResult("b", "ok", gradient=H2 + np.array([[0.0, 0.25], [0.0, 0.0]]))
    failed = BackendResult("c", "failed")
    pairs = pair_differences([first, second, failed])
    assert [(p.first, p.second, p.max_abs_diff, p.relative) for p in pairs] == [
        ("a", "b", 0.25, 0.25 / 0.75),
        ("a", "c", None, None),
        ("b", "c", None, None),
    ]
