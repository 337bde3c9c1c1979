"""The exact HVP and the one-sided directional derivative (numerics/hvp.py, jvp.py, mode_budgets.py)
against oracles written independently of them: mpmath at 60 digits (loss values from mpmath's own
SVD or, for the polar factor, A (A^T A)^(-1/2) with no SVD at all), second differences of those
values, closed forms at matrices with exactly known SVDs (Hadamard factors, which are dyadic)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from svdgrad_cli.numerics.hvp import reference_hvp
from svdgrad_cli.numerics.jvp import reference_jvp
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.mode_budgets import hvp_budget, jvp_budget
from svdgrad_cli.numerics.reference import build_reference

DIGITS = 60
TOL = 1e-12  # zero/tie tolerance relative to s_1 for the float64 references below
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0  # orthogonal


def exact(values, left=HADAMARD, right=HADAMARD.T):
    """Q1 diag(values) Q2^T, exact in float64 for dyadic values (entries are sums of +-v/4)."""
    return left @ np.diag(values) @ right


def mp_matrix(x):
    return mpmath.matrix(np.asarray(x, dtype=float).tolist())


def mp_polar(a):
    """The orthogonal polar factor A (A^T A)^(-1/2) of a full-rank square matrix, without an SVD."""
    return a * mpmath.inverse(mpmath.sqrtm(a.T * a))


def mp_loss(loss, a, c=None):
    """L(A) in mpmath, from mpmath's SVD (or the SVD-free polar factor), never from svdgrad's code."""
    if loss.kind in ("sum", "sv", "topk"):
        s = mpmath.svd_r(a, compute_uv=False)
        w = loss.weights(len(s))
        return mpmath.fsum(mpmath.mpf(w[i]) * s[i] for i in range(len(s)))
    if loss.kind == "recon":
        return mpmath.sqrt(mpmath.fsum(x**2 for x in a))
    if loss.kind == "polar":
        p = mp_polar(a)
        return mpmath.fsum(mpmath.mpf(c[i, j]) * p[i, j] for i in range(a.rows) for j in range(a.cols))
    u, _, _ = mpmath.svd_r(a)
    top = u[:, : loss.order]
    p = top * top.T
    return mpmath.fsum(mpmath.mpf(c[i, j]) * p[i, j] for i in range(a.rows) for j in range(a.rows))


def second_difference(loss, a, e, d, c=None) -> float:
    """<H(A)[E], D> = d^2/ds dt L(A + tE + sD) at 0, by a central second difference at 60 digits."""
    with mpmath.workdps(DIGITS):
        a, e, d = mp_matrix(a), mp_matrix(e), mp_matrix(d)
        h = mpmath.mpf("1e-18")
        corners = [mp_loss(loss, a + h * (p * e + q * d), c) * p * q for p in (1, -1) for q in (1, -1)]
        return float(mpmath.fsum(corners) / (4 * h * h))


@pytest.mark.parametrize("name", ["sum", "sv:2", "topk:2", "polar", "recon", "proj:2"])
def test_hvp_matches_high_precision_second_differences_of_the_loss(name):
    rng = np.random.default_rng(len(name))
    a, e = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    loss = parse_loss(name).bind((4, 4), 0)
    hvp = reference_hvp(a, loss, e, TOL).value
    for _ in range(2):
        d = rng.standard_normal((4, 4))
        oracle = second_difference(loss, a, e, d, loss.arrays.get("C"))
        assert abs(np.sum(hvp * d) - oracle) <= 1e-11 * np.linalg.norm(hvp) * np.linalg.norm(d)


def polar_difference(a, e) -> np.ndarray:
    """(P(A + hE) - P(A - hE)) / 2h at 60 digits: the derivative of the nuclear norm's gradient."""
    with mpmath.workdps(DIGITS):
        a, e, h = mp_matrix(a), mp_matrix(e), mpmath.mpf("1e-25")
        diff = (mp_polar(a + h * e) - mp_polar(a - h * e)) / (2 * h)
        return np.array(diff.tolist(), dtype=float)


@pytest.mark.parametrize("values", [(3, 2, 2, 1), (4, 2, 2, 2), (3, 1.5, 1, 0.5)])
def test_sum_hvp_at_a_tie_is_finite_and_the_derivative_of_the_polar_factor(values):
    a = exact(values)
    e = np.random.default_rng(7).standard_normal((4, 4))
    hvp = reference_hvp(a, parse_loss("sum"), e, TOL)
    assert hvp.defined and np.all(np.isfinite(hvp.value))
    oracle = polar_difference(a, e)
    assert np.linalg.norm(hvp.value - oracle) <= 1e-13 * np.linalg.norm(oracle)


def test_sum_hvp_on_a_diagonal_is_the_closed_form():
    """At A = diag(s), d(U V^T)[E] = [(E_ij - E_ji) / (s_i + s_j)]: a tie changes nothing."""
    s = np.array([3.0, 2.0, 2.0, 1.0])
    e = np.random.default_rng(1).standard_normal((4, 4))
    closed = (e - e.T) / (s[:, None] + s[None, :])
    assert np.allclose(reference_hvp(np.diag(s), parse_loss("sum"), e, TOL).value, closed, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("name", "values", "defined"),
    [
        ("sum", (3, 2, 1, 0), False),  # a zero singular value: the nuclear norm's gradient is a set
        ("sum", (3, 2, 2, 1), True),  # a tie of non-zero values: smooth
        ("topk:2", (3, 2, 2, 1), False),  # the cut K = 2 inside the tie
        ("topk:1", (3, 2, 2, 1), True),  # the tie lies beyond the cut
        ("topk:2", (3, 2, 0, 0), True),  # w = 0 on the zero cluster: U_2 V_2^T is smooth
        ("sv:3", (3, 2, 2, 1), False),
        ("polar", (3, 2, 1, 0), False),
        ("proj:2", (3, 2, 2, 1), False),
        ("proj:1", (3, 2, 2, 1), True),
    ],
)
def test_the_hvp_exists_exactly_where_the_gradient_is_differentiable(name, values, defined):
    loss = parse_loss(name).bind((4, 4), 0)
    e = np.random.default_rng(2).standard_normal((4, 4))
    hvp = reference_hvp(exact(values), loss, e, TOL)
    assert hvp.defined is defined
    assert hvp.reason.startswith("undefined") is not defined


def test_rank_deficient_sum_has_no_second_derivative():
    """Why ``undefined`` is true: the second difference of ||A||_* at rank 3 grows like 1/h."""
    a, e = exact((3, 2, 1, 0)), HADAMARD @ np.diag([0, 0, 0, 1.0]) @ HADAMARD.T
    loss = parse_loss("sum")
    with mpmath.workdps(DIGITS):
        big, small = (second_difference_along(loss, a, e, h) for h in ("1e-6", "1e-9"))
    assert small > 100 * big > 0


def second_difference_along(loss, a, e, h) -> float:
    a, e, h = mp_matrix(a), mp_matrix(e), mpmath.mpf(h)
    return float((mp_loss(loss, a + h * e) - 2 * mp_loss(loss, a) + mp_loss(loss, a - h * e)) / h**2)


@pytest.mark.parametrize("name", ["sum", "topk:2", "polar", "recon", "proj:2"])
@pytest.mark.parametrize("k", [-64, -3, 40, 64])
def test_exact_power_of_two_scaling_leaves_relative_budgets_unchanged(name, k):
    rng = np.random.default_rng(11)
    a, e = exact((3, 2, 1.5, 1)) + 0.25 * rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    loss = parse_loss(name).bind((4, 4), 0)
    scaled = np.ldexp(a, k)
    for dtype in (np.float32, np.float64):
        budgets = []
        for matrix in (a, scaled):
            ref = build_reference(matrix, loss, TOL, check=False)[0]
            hvp = reference_hvp(matrix, loss, e, TOL)
            budgets.append(
                (
                    hvp_budget(hvp, ref.hessian_norm, (4, 4), dtype, e).relative,
                    jvp_budget(ref, (4, 4), dtype, e).relative,
                )
            )
        assert budgets[0] == pytest.approx(budgets[1], rel=1e-12)
    degree = loss.gradient_degree - 1  # H(2^k A) = 2^(k (d - 1)) H(A), exactly
    assert np.array_equal(
        reference_hvp(scaled, loss, e, TOL).value, np.ldexp(reference_hvp(a, loss, e, TOL).value, k * degree)
    )


def one_sided_difference(loss, a, e) -> float:
    """(L(A + tE) - L(A)) / t at 60 digits, t = 1e-30: L'(A; E) within about 1e-30."""
    with mpmath.workdps(DIGITS):
        a, e, t = mp_matrix(a), mp_matrix(e), mpmath.mpf("1e-30")
        return float((mp_loss(loss, a + t * e) - mp_loss(loss, a)) / t)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("sum", (3, 1, 0, 0)),
        ("sum", (2, 2, 1, 0)),
        ("topk:2", (3, 2, 2, 1)),
        ("sv:2", (3, 2, 2, 1)),
        ("sv:3", (3, 2, 2, 1)),
        ("topk:3", (3, 1, 0, 0)),
        ("sv:4", (3, 1, 0, 0)),
    ],
)
def test_one_sided_derivative_matches_a_high_precision_one_sided_difference(name, values):
    loss = parse_loss(name)
    a = exact(values)
    ref = build_reference(a, loss, TOL, check=False)[0]
    for seed in range(3):
        e = np.random.default_rng(seed).standard_normal((4, 4))
        d = reference_jvp(a, loss, e, TOL, ref.gradient, ref.unique)
        assert not d.unique
        assert d.one_sided == pytest.approx(one_sided_difference(loss, a, e), abs=1e-13)
        assert d.low - 1e-13 <= float(np.sum(ref.gradient * e)) <= d.high + 1e-13  # the min-norm member


def test_nuclear_norm_one_sided_derivative_is_the_closed_form():
    """tr(U_r^T E V_r) + ||U_0^T E V_0||_* with the exact factors of A = H diag(3, 1, 0, 0) H^T."""
    a = exact((3, 1, 0, 0))
    e = np.random.default_rng(5).standard_normal((4, 4))
    u, v = HADAMARD, HADAMARD  # A = H diag H^T: U = V = H
    closed = np.trace(u[:, :2].T @ e @ v[:, :2]) + np.linalg.norm(u[:, 2:].T @ e @ v[:, 2:], "nuc")
    ref = build_reference(a, parse_loss("sum"), TOL, check=False)[0]
    d = reference_jvp(a, parse_loss("sum"), e, TOL, ref.gradient, ref.unique)
    assert d.one_sided == pytest.approx(closed, abs=1e-14)
    assert d.low == pytest.approx(
        np.trace(u[:, :2].T @ e @ v[:, :2]) - (closed - np.trace(u[:, :2].T @ e @ v[:, :2]))
    )


def test_unique_gradient_jvp_is_the_inner_product():
    rng = np.random.default_rng(3)
    a, e = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    loss = parse_loss("topk:2")
    ref = build_reference(a, loss, TOL, check=False)[0]
    d = reference_jvp(a, loss, e, TOL, ref.gradient, ref.unique)
    assert d.unique and d.one_sided == pytest.approx(one_sided_difference(loss, a, e), abs=1e-12)
