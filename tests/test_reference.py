"""The float64 reference against closed forms and finite differences, computed independently here."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_orthogonal, with_singular_values

from svdgrad_cli.numerics.conditioning import spectral_hessian_norm
from svdgrad_cli.numerics.gradients import polar_gradient, projector_gradient
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference, is_unique
from svdgrad_cli.numerics.spectrum import analyse_spectrum

SHAPES = [(5, 5), (7, 4), (4, 7), (1, 6), (6, 1)]


def polar_factor(a: np.ndarray) -> np.ndarray:
    """U V^T without an SVD: A (A^T A)^(-1/2) through a symmetric eigendecomposition."""
    if a.shape[0] < a.shape[1]:
        return polar_factor(a.T).T
    lam, q = np.linalg.eigh(a.T @ a)
    return a @ (q / np.sqrt(lam)) @ q.T


def central_difference(f, a: np.ndarray, e: np.ndarray, h: float = 1e-6) -> float:
    return (f(a + h * e) - f(a - h * e)) / (2 * h)


def svdvals(a: np.ndarray) -> np.ndarray:
    return np.linalg.svd(a, compute_uv=False)


@pytest.mark.parametrize("shape", SHAPES)
def test_sum_gradient_is_the_polar_factor(shape):
    a = np.random.default_rng(1).standard_normal(shape)
    reference, *_ = build_reference(a, parse_loss("sum"), zero_tol=1e-12)
    assert reference.unique
    np.testing.assert_allclose(reference.gradient, polar_factor(a), atol=1e-10)


FITTING = [
    (shape, spec)
    for shape in SHAPES
    for spec in ("sum", "sv:1", "sv:2", "topk:1", "topk:2")
    if parse_loss(spec).check_fits(shape) is None
]


@pytest.mark.parametrize(("shape", "spec"), FITTING)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_matches_finite_differences(shape, spec, dtype):
    loss = parse_loss(spec)
    rng = np.random.default_rng(hash((shape, spec)) % 2**32)
    a = rng.standard_normal(shape).astype(dtype)
    reference, *_ = build_reference(a, loss, zero_tol=1e-12)
    a64 = a.astype(np.float64)
    w = loss.weights(min(shape))
    for _ in range(3):
        e = rng.standard_normal(shape)
        fd = central_difference(lambda x: w @ svdvals(x), a64, e)
        assert np.vdot(reference.gradient, e) == pytest.approx(fd, abs=1e-6)
    assert reference.finite_difference["passed"]


def test_sv_k_is_the_outer_product_of_the_kth_singular_vectors():
    a = np.random.default_rng(3).standard_normal((6, 4))
    u, _s, vt = np.linalg.svd(a, full_matrices=False)
    reference, *_ = build_reference(a, parse_loss("sv:3"), zero_tol=1e-12)
    np.testing.assert_allclose(reference.gradient, np.outer(u[:, 2], vt[2]), atol=1e-12)


def test_orthogonal_matrix_sum_gradient_is_itself():
    q = random_orthogonal(8, np.random.default_rng(4))
    reference, spectrum, *_ = build_reference(q, parse_loss("sum"), zero_tol=8 * 2.2e-16)
    assert spectrum.clusters == (tuple(range(8)),)
    assert reference.unique
    np.testing.assert_allclose(reference.gradient, q, atol=1e-12)


@pytest.mark.parametrize(
    ("values", "spec", "unique"),
    [
        ([3, 2, 1, 0], "sum", False),  # a zero the nuclear norm weighs
        ([3, 2, 2, 1], "sum", True),  # repeated non-zero values are harmless
        ([3, 2, 2, 1], "sv:2", False),  # s_2 is not simple
        ([3, 2, 2, 1], "sv:1", True),
        ([3, 2, 2, 1], "topk:2", False),  # the tie crosses position K
        ([3, 2, 2, 1], "topk:3", True),
        ([3, 2, 0, 0], "topk:2", True),  # s_2 > s_3 = 0 and no weight on the zeros
        ([3, 2, 0, 0], "topk:3", False),
        ([3, 2, 0, 0], "sv:3", False),
    ],
)
def test_uniqueness_follows_lewis(values, spec, unique):
    spectrum = analyse_spectrum(np.array(values, dtype=float), (4, 4), zero_tol=1e-12)
    assert is_unique(spectrum, parse_loss(spec).weights(4)) is unique


def test_rank_deficient_reference_is_the_minimum_norm_subgradient():
    a = with_singular_values([4.0, 2.5, 0.0, 0.0], (6, 4), seed=5)
    reference, *_ = build_reference(a, parse_loss("sum"), zero_tol=1e-12)
    u, _s, vt = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(reference.gradient, u[:, :2] @ vt[:2], atol=1e-10)
    assert reference.finite_difference["kind"] == "one-sided"
    assert reference.finite_difference["passed"]


@pytest.mark.parametrize("shape", [(5, 5), (7, 4), (4, 7)])
def test_closed_forms_match_finite_differences_for_losses_of_u_and_v(shape):
    """The closed forms of gradients.py on sign-invariant losses of U and V, at a full-rank random matrix."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape)
    k = min(shape)
    c = rng.standard_normal(shape)
    p = rng.standard_normal((shape[0], shape[0]))

    def thin(x):
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        return u, s, vt.T

    def polar(x):
        u, _, v = thin(x)
        return np.sum(c * (u @ v.T))

    def projector(x):
        u, _, _ = thin(x)
        return np.sum(p * (u[:, :2] @ u[:, :2].T))

    u, s, v = thin(a)
    polar_grad = polar_gradient(u, s, v, c, np.zeros(k, dtype=bool))
    projector_grad = projector_gradient(u, s, v, p, 2)
    for _ in range(3):
        e = rng.standard_normal(shape)
        assert np.vdot(polar_grad, e) == pytest.approx(central_difference(polar, a, e), abs=1e-6)
        assert np.vdot(projector_grad, e) == pytest.approx(central_difference(projector, a, e), abs=1e-6)


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e200])
def test_closed_form_scales_without_overflow(scale):
    """The polar loss is invariant to scaling A, so its gradient scales as 1/c: G(cA) = G(A) / c.

    The textbook 1/(s_j^2 - s_i^2) form overflows or underflows at these magnitudes.
    """
    a = with_singular_values([3.0, 2.0, 1.0], (4, 3), seed=2)
    c = np.random.default_rng(9).standard_normal((4, 3))

    def gradient_at(x):
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        return polar_gradient(u, s, vt.T, c, np.zeros(3, dtype=bool))

    scaled = gradient_at(scale * a)
    assert np.all(np.isfinite(scaled))
    np.testing.assert_allclose(scaled * scale, gradient_at(a), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("gap", [1e-2, 1e-4])
def test_hessian_norm_bounds_the_observed_sensitivity(gap):
    """First-order perturbation of u_1 v_1^T stays within ||DG||_2 * ||dA||_F (Wedin)."""
    a = with_singular_values([1 + gap, 1.0, 0.5], (3, 3), seed=8)
    loss = parse_loss("sv:1")
    reference, spectrum, *_ = build_reference(a, loss, zero_tol=1e-12)
    amp = spectral_hessian_norm(spectrum.values, loss.weights(3), spectrum)
    assert amp == pytest.approx(1 / gap, rel=1e-6)  # (w_1 - w_2) / (s_1 - s_2), the largest eigenvalue
    assert reference.hessian_norm == pytest.approx(amp, rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(10):
        e = rng.standard_normal((3, 3))
        delta = 1e-3 * gap * e / np.linalg.norm(e, 2)
        moved, *_ = build_reference(a + delta, loss, zero_tol=1e-12)
        assert np.linalg.norm(moved.gradient - reference.gradient) <= 2 * amp * 1e-3 * gap
