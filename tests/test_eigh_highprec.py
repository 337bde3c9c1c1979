"""The mpmath eigh reference (numerics/eigh_highprec.py) and the float32 rounding witness
(numerics/eigh_witness.py), against the independent oracle (eigh_oracle.py): where the float64
reference cannot decide, mpmath decides as the oracle's distance says; where the data cannot decide,
even mpmath says so; relative float32 budgets are invariant under exact 2^k scaling."""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest
from eigh_oracle import (
    hermitian,
    matrix_function_gradient,
    selection_gradient,
    symmetric,
    symmetric_direction,
)
from test_eigh_check import answering

from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.budget import make_budget
from svdgrad_cli.numerics.eigh_highprec import high_precision_eigh
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_reference import eigh_reference
from svdgrad_cli.pipeline.eigh_check import FLOAT32_NOTE, UNDECIDED_NOTE, check_matrix
from svdgrad_cli.verdicts import BackendVerdict as V
from svdgrad_cli.verdicts import ReferencePrecision as P


def _projector_oracle(lam, q, loss) -> np.ndarray:
    """proj:1's gradient: the divided differences of the indicator of the lowest eigenvalue."""
    cut = (lam[0] + lam[1]) / 2

    def step(x):
        return mpmath.mpf(1) if x < cut else mpmath.mpf(0)

    return matrix_function_gradient(q, lam, loss.arrays["C"], step, lambda x: mpmath.mpf(0))


@pytest.mark.parametrize("build", [symmetric, hermitian])
def test_the_mpmath_reference_matches_the_oracle_where_float64_loses_digits(build):
    lam = [1.0, 1.0 + 2.0**-40, 2.0, 4.0]  # exact: 2^-40 apart
    a, q = build(lam, seed=2)
    loss = parse_eigh_loss("proj:1").bind(4, 0, np.iscomplexobj(a))
    oracle = _projector_oracle(lam, q, loss)
    float64 = eigh_reference(a, loss)
    better = high_precision_eigh(a, loss, float64)
    assert np.linalg.norm(better.gradient - oracle) <= 1e-14 * np.linalg.norm(oracle)
    assert np.linalg.norm(float64.gradient - oracle) > 1e-8 * np.linalg.norm(oracle)  # what mpmath fixes
    assert better.high_precision and better.precision.startswith("mpmath")


def _off_by(oracle: np.ndarray, r: float) -> np.ndarray:
    """The oracle's gradient plus a symmetric error of Frobenius size r ||G||_F."""
    e = symmetric_direction(4, seed=9)
    return oracle + r * np.linalg.norm(oracle) * e / np.linalg.norm(e)


def test_a_near_tie_float64_cannot_decide_is_decided_by_mpmath_as_the_oracle_says():
    lam = [1.0, 1.0 + 2.0**-40, 2.0, 4.0]
    a, q = symmetric(lam, seed=2)
    loss = parse_eigh_loss("proj:1").bind(4, 0)
    oracle = _projector_oracle(lam, q, loss)
    off = answering(_off_by(oracle, 0.2))  # 20% off the mathematics
    alone = check_matrix(a, "A", loss, [off], precision=P.FLOAT64)
    assert alone.precision == "float64"
    assert alone.results[0].verdict is V.CORRECT and alone.results[0].message == UNDECIDED_NOTE
    decided = check_matrix(a, "A", loss, [off, answering(oracle, "exact")])  # --reference auto
    assert decided.precision.startswith("mpmath")
    wrong, exact = decided.results
    assert wrong.budget < 0.2 and wrong.verdict is V.WRONG  # the oracle's error, 0.2, is beyond it
    assert exact.verdict is V.CORRECT and exact.relative_error < 1e-14


def test_where_even_mpmath_cannot_decide_it_says_so():
    lam = [1.0, 1.0 + 2.0**-46, 2.0, 4.0]  # float64 eigh errs by eps / 2^-46: 2% of G here
    a, q = symmetric(lam, seed=2)
    loss = parse_eigh_loss("proj:1").bind(4, 0)
    oracle = _projector_oracle(lam, q, loss)
    report = check_matrix(a, "A", loss, [answering(oracle)], precision=P.HIGH)
    result = report.results[0]
    assert report.precision.startswith("mpmath") and result.relative_error < 1e-14
    assert result.verdict is V.INDETERMINATE and result.message == "the data do not determine the gradient"


def test_reference_high_is_reported_in_the_table_and_json(runner, tmp_path):
    a, _ = symmetric([0.5, 1.0, 2.0, 4.0])
    np.save(tmp_path / "a.npy", a)
    args = ["check", str(tmp_path / "a.npy"), "--decomposition", "eigh", "--reference", "high"]
    args += ["-b", "python:eigh_oracle:identity_gradient"]
    table = runner.invoke(cli, args)
    assert table.exit_code == 0 and "reference (mpmath, 40 digits)" in table.output
    data = json.loads(runner.invoke(cli, [*args, "--format", "json"]).output)
    assert data["results"][0]["reference_precision"] == "mpmath, 40 digits"
    assert data["results"][0]["backends"][0]["verdict"] == "correct"


def _float32_symmetric(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, n)).astype(np.float32)
    return np.triu(x) + np.triu(x, 1).T  # exactly symmetric in float32


@pytest.mark.parametrize(("spec", "witnessed"), [("proj:2", True), ("vec", True), ("lowk:2", False)])
def test_exact_power_of_two_scaling_leaves_witnessed_float32_budgets_unchanged(spec, witnessed):
    a = _float32_symmetric(12, seed=27)
    loss = parse_eigh_loss(spec).bind(12, 0)
    exact = answering(np.zeros((12, 12)))  # any finite answer: the budget is what is compared
    budgets = [
        check_matrix(a * np.float32(2.0**k), "A", loss, [exact]).results[0].budget for k in (-30, 0, 30)
    ]
    assert budgets[0] == pytest.approx(budgets[1], rel=1e-12)
    assert budgets[2] == pytest.approx(budgets[1], rel=1e-12)
    worst = make_budget(eigh_reference(a, loss), a.shape, a.dtype)  # no witness: the worst direction
    assert (budgets[1] < worst.relative / 1.2) is witnessed  # the witness set it (where it is tighter)


def test_the_witnessed_budget_catches_what_the_worst_direction_passes_and_keeps_the_oracle():
    lam = [0.5, 1.0, 1.25, 4.0]  # dyadic: A is exact in float32
    a, q = symmetric(lam, seed=3)
    loss = parse_eigh_loss("proj:2").bind(4, 0)
    cut = (lam[1] + lam[2]) / 2
    step = lambda x: mpmath.mpf(1) if x < cut else mpmath.mpf(0)  # noqa: E731
    oracle = matrix_function_gradient(q, lam, loss.arrays["C"], step, lambda x: mpmath.mpf(0))
    a32 = a.astype(np.float32)
    worst = make_budget(eigh_reference(a32, loss), a.shape, a32.dtype).relative
    exact = check_matrix(a32, "A", loss, [answering(oracle)]).results[0]
    assert exact.verdict is V.CORRECT and exact.budget < worst / 2
    r = (exact.budget + worst) / 2  # beyond the witnessed budget, within the worst direction's
    caught = check_matrix(a32, "A", loss, [answering(_off_by(oracle, r))]).results[0]
    assert caught.verdict in (V.INACCURATE, V.WRONG)


def test_float32_cases_the_data_cannot_decide_still_say_so_with_the_witness():
    lam = [1.0, 1.0 + 2.0**-22, 2.0, 4.0]  # a gap float32 does not resolve
    a, q = symmetric(lam, seed=2)
    loss = parse_eigh_loss("lowk:1").bind(4, 0)
    result = check_matrix(a.astype(np.float32), "A", loss, [answering(selection_gradient(q, [0]))]).results[0]
    assert result.verdict is V.INDETERMINATE and result.message == FLOAT32_NOTE
