"""The refined SVD (refinement.py) against exact factors and the independent 60-digit oracle.

Matrices are H diag(s) W^T with exactly orthogonal dyadic factors (a Hadamard matrix and a signed
permutation of it), so the stored float64 matrix is A itself and its singular vectors are known
exactly, up to sign; gradients are compared with truth_oracle.py (mpmath at 60 digits, no SVD).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import truth_oracle as oracle

from svdgrad_cli.numerics.budget import REFINED_FACTOR, error_unit
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.numerics.refinement import accurate_product, refine_svd

EPS = np.finfo(np.float64).eps
H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H16 = np.kron(np.kron(H2, H2), np.kron(H2, H2)) / 4
W16 = (
    np.eye(16)[[3, 9, 0, 14, 7, 1, 12, 5, 10, 2, 15, 6, 8, 13, 4, 11]] * np.where(np.arange(16) % 3, 1, -1)
) @ H16


def exact(s: np.ndarray, rows: int = 16, cols: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, U, V) with A = U diag(s) V^T exactly in float64: columns of H16 (16 rows) or of a signed
    permutation of blockdiag(H4, H4), H4 = kron(H2, H2) / 2 (8 rows); all exactly orthonormal."""
    k = len(s)
    u, v = _orthonormal(rows, k, 0), _orthonormal(cols, k, 1)
    a = (u * s) @ v.T
    assert np.array_equal(u.T @ a @ v, np.diag(s))  # exact: these are A's own factors
    return a, u, v


def _orthonormal(rows: int, k: int, which: int) -> np.ndarray:
    if rows == 16:
        return (H16 if which == 0 else W16)[:, :k]
    h4 = np.kron(H2, H2) / 2
    block = np.kron(np.eye(2), h4)[[5, 2, 7, 0, 3, 6, 1, 4]] * np.where(np.arange(8) % 2, 1, -1)[:, None]
    return (block if which == 0 else block[::-1])[:, :k]


def near_tie(gap: float, k: int = 16) -> np.ndarray:
    s = 2.0 - np.arange(k) / 16
    s[k // 2] = s[k // 2 - 1] - gap
    return s


def factor_error(computed: np.ndarray, true: np.ndarray) -> float:
    signs = np.sign(np.sum(computed * true, axis=0))
    return float(np.max(np.abs(computed * signs - true)))


def test_the_accurate_product_is_exact_to_far_below_float64():
    """hi + lo against the exact rational product: off by less than 2^-70 of |X| |Y|, where one
    float64 product errs by about 2^-53."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((12, 30)), rng.standard_normal((30, 7))
    hi, lo = accurate_product(x, y)
    for i in range(12):
        for j in range(7):
            truth = sum(Fraction(float(x[i, t])) * Fraction(float(y[t, j])) for t in range(30))
            scale = float(np.abs(x[i]) @ np.abs(y[:, j]))
            assert (
                abs(float(Fraction(float(hi[i, j])) + Fraction(float(lo[i, j])) - truth)) < 2.0**-70 * scale
            )


@pytest.mark.parametrize("shape", [(16, 16), (16, 8), (8, 16)])
@pytest.mark.parametrize("gap", [2.0**-10, 2.0**-30, 2.0**-40])
def test_refined_factors_are_the_exact_ones_to_rounding(shape, gap):
    """LAPACK's vectors turn by about eps s_1 / gap inside a near tie; refined ones err by a few eps."""
    k = min(shape)
    a, u_true, v_true = exact(near_tie(gap, k), *shape)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    refined = refine_svd(a, u, s, vh.T)
    assert refined is not None
    u_ref, s_ref, v_ref = refined
    assert factor_error(u_ref, u_true) < 8 * EPS and factor_error(v_ref, v_true) < 8 * EPS
    assert np.max(np.abs(s_ref - near_tie(gap, k))) < 4 * EPS
    if gap <= 2.0**-30 and shape == (16, 16):  # the test means something: LAPACK's were far off
        assert factor_error(u, u_true) > 1e4 * EPS


@pytest.mark.parametrize(
    "s",
    [
        np.array([2.0, 1.5, 1.5, 1.0] + [0.5] * 12),  # exact ties: the vectors are not determined
        np.concatenate([2.0 - np.arange(15) / 16, [0.0]]),  # a zero value
    ],
)
def test_ties_and_zeros_keep_lapacks_factors(s):
    a, *_ = exact(s)
    u, values, vh = np.linalg.svd(a)
    values = np.where(values < 1e-12, 0.0, values)  # LAPACK's rounding of the zero
    values[1:3] = values[1] if s[1] == s[2] else values[1:3]
    assert refine_svd(a, u, values, vh.T) is None


@pytest.mark.parametrize("name", ["proj:8", "sv:8", "sv:9", "topk:8", "polar"])
def test_the_refined_reference_is_within_its_stated_uncertainty_of_the_truth(name):
    """At a relative gap of 2^-41 LAPACK's reference errs by about one unit of budget.py (measured:
    0.96 to 1.4); the refined one by REFINED_FACTOR units at most, and where the loss separates the
    pair (whose 1/gap sets the unit) by less than 1e-6 of one: only forming G rounds it then."""
    a, *_ = exact(near_tie(2.0**-40))
    loss = parse_loss(name).bind(a.shape, 0)
    reference, *_ = build_reference(a, loss, 1e-15, check=False)
    assert reference.refined
    truth = oracle.gradient(a, name, loss.arrays.get("C"))
    units = oracle.distance(reference.gradient, truth) / (EPS * error_unit(reference, a.shape))
    assert units <= (REFINED_FACTOR if name == "polar" else 1e-6)
