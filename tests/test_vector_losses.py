"""Losses of U and V: references against closed forms and finite differences, gauge, and backends."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SEED_FULL_RANK, SEED_RANK2, with_singular_values
from test_reference import central_difference, polar_factor

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.numerics.gauge import gauge_problems
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.numerics.svd import thin_svd

BACKENDS = ("autograd", "tensorflow", "torch", "jax")


def reference_for(a, spec, seed=0):
    loss = parse_loss(spec).bind(a.shape, seed)
    reference, *_ = build_reference(a, loss, zero_tol=1e-12, seed=seed)
    return reference, loss


def top_left_projector(a: np.ndarray, k: int) -> np.ndarray:
    """U_K U_K^T through the eigenvectors of A A^T, without an SVD."""
    lam, q = np.linalg.eigh(a @ a.T)
    top = q[:, np.argsort(lam)[::-1][:k]]
    return top @ top.T


@pytest.mark.parametrize("shape", [(5, 5), (7, 4), (4, 7)])
@pytest.mark.parametrize("values", [None, "tie"])
def test_polar_reference_matches_finite_differences_of_an_svd_free_polar_factor(shape, values):
    k = min(shape)
    sv = None if values is None else [3.0, 2.0, 2.0, *np.linspace(1.5, 0.5, k - 3)]
    a = np.random.default_rng(2).standard_normal(shape) if sv is None else with_singular_values(sv, shape, 3)
    reference, loss = reference_for(a, "polar")
    assert reference.defined and reference.unique
    c = loss.arrays["C"]
    rng = np.random.default_rng(5)
    for _ in range(3):
        e = rng.standard_normal(shape)
        fd = central_difference(lambda x: np.sum(c * polar_factor(x)), a, e)
        assert np.vdot(reference.gradient, e) == pytest.approx(fd, abs=1e-6)


@pytest.mark.parametrize("a", [np.diag([1.0, 1.0, 2.0, 3.0]), with_singular_values([2, 2, 2], (5, 3), 1)])
def test_recon_reference_is_a_over_its_norm_even_at_ties(a):
    reference, _ = reference_for(a, "recon")
    np.testing.assert_allclose(reference.gradient, a / np.linalg.norm(a), atol=1e-12)


def test_projector_is_undefined_across_a_tie_and_defined_below_it():
    undefined, _ = reference_for(np.diag([3.0, 2.0, 2.0, 1.0]), "proj:2")
    assert not undefined.defined
    assert "s_2, s_3 are tied" in undefined.set_description
    a = np.diag([3.0, 2.0, 1.0, 1.0])
    defined, loss = reference_for(a, "proj:2")
    assert defined.defined and defined.unique
    c = loss.arrays["C"]
    for e in np.random.default_rng(1).standard_normal((3, 4, 4)):
        fd = central_difference(lambda x: np.sum(c * top_left_projector(x, 2)), a, e)
        assert np.vdot(defined.gradient, e) == pytest.approx(fd, abs=1e-6)


def test_uv_is_sign_dependent_on_any_matrix():
    reference, _ = reference_for(np.random.default_rng(0).standard_normal((4, 3)), "uv")
    assert not reference.defined
    assert "sign-dependent" in reference.set_description


def test_polar_at_rank_deficiency_is_undefined():
    reference, _ = reference_for(with_singular_values([3.0, 1.0, 0.0], (3, 3), 4), "polar")
    assert not reference.defined
    assert "zero" in reference.set_description


def test_gauge_conditions_on_constructed_cotangents():
    u, s, v = thin_svd(with_singular_values([3.0, 2.0, 2.0, 1.0], (4, 4), 6))
    spectrum = analyse_spectrum(s, (4, 4), zero_tol=1e-12)
    rng = np.random.default_rng(0)
    c = rng.standard_normal((4, 4))
    zero_s = np.zeros(4)
    # Invariant: Ubar = C V, Vbar = C^T U (the polar loss) makes K_U + K_V vanish identically.
    assert gauge_problems(u, v, c @ v, zero_s, c.T @ u, spectrum) == ([], None, ())
    # Invariant: a symmetric-generated Ubar = S U with S symmetric (projector-like) inside the cluster.
    sym = c + c.T
    assert gauge_problems(u, v, sym @ u, zero_s, np.zeros_like(v), spectrum) == ([], None, ())
    # Not invariant: a cotangent on one vector of the cluster only.
    u_bar = np.zeros_like(u)
    u_bar[:, 1] = rng.standard_normal(4)
    (problem,), null_space, _ = gauge_problems(u, v, u_bar, zero_s, np.zeros_like(v), spectrum)
    assert "s_2, s_3 are tied" in problem
    assert null_space is None


def test_zero_cluster_gauge_conditions():
    a = with_singular_values([3.0, 2.0, 0.0, 0.0], (5, 4), 7)
    u, s, v = thin_svd(a)
    spectrum = analyse_spectrum(s, a.shape, zero_tol=1e-12)
    zero_s = np.zeros(4)
    u_bar = np.zeros_like(u)
    u_bar[:, :2] = np.random.default_rng(1).standard_normal((5, 2))  # touches only the positive part
    assert gauge_problems(u, v, u_bar, zero_s, np.zeros_like(v), spectrum) == ([], None, ())
    u_bar[:, 3] = np.random.default_rng(2).standard_normal(5)  # reaches into the null space
    clusters, problem, _ = gauge_problems(u, v, u_bar, zero_s, np.zeros_like(v), spectrum)
    assert clusters == []
    assert "null space" in problem


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_on_the_seed_matrices(backend):
    full = check(SEED_FULL_RANK, loss="polar", backends=[backend]).results[0]
    assert full.verdict == "agree"
    assert full.backends[0].verdict == "correct"
    rank2 = check(SEED_RANK2, loss="sum", backends=[backend]).results[0]
    assert rank2.backends[0].verdict == "valid"
    assert rank2.verdict == "non-unique"


def test_recon_at_a_tie_judges_each_backend_by_what_it_returned():
    """Judged against A / ||A||_F with thresholds of its own, not the code's budget."""
    a = np.diag([1.0, 1.0, 2.0, 3.0])
    result = check(a, loss="recon").results[0]
    expected = a / np.linalg.norm(a)
    for backend in result.backends:
        if not np.all(np.isfinite(backend.gradient)):
            assert backend.verdict == "non-finite"
            continue
        distance = np.linalg.norm(backend.gradient - expected)
        if distance < 1e-12:
            assert backend.verdict == "correct"
        elif distance > 1e-6:
            assert backend.verdict == "wrong"
    verdicts = {b.verdict for b in result.backends}
    expected_matrix = next((v for v in ("wrong", "non-finite") if v in verdicts), "agree")
    assert result.verdict == expected_matrix


def exact_backend(gradient_of):
    """A backend returning a known exact gradient for every matrix of the stack."""

    def compute(stack, loss):
        values = np.linalg.svd(stack, compute_uv=False)
        return values, np.stack([gradient_of(a) for a in stack])

    return compute


def test_a_loss_whose_gradient_is_zero_has_a_budget_and_correct_backends():
    # U_3 U_3^T = I for a 3x3 matrix of full rank: the loss is constant, its gradient zero.
    result = check(np.random.default_rng(1).standard_normal((3, 3)), loss="proj:3").results[0]
    assert result.reference.gradient_norm < 1e-14  # zero up to rounding
    assert all(b.budget > 0 for b in result.backends)
    assert {b.verdict for b in result.backends} == {"correct"}


def test_recon_at_zero_is_the_unit_ball(tmp_path):
    register_backend("inside", exact_backend(lambda a: np.full(a.shape, 1 / 3)))  # ||G||_F = 1 in 3x3
    register_backend("outside", exact_backend(lambda a: np.full(a.shape, 2 / 3)))
    try:
        result = check(np.zeros((3, 3)), loss="recon", backends=["inside", "outside"]).results[0]
    finally:
        unregister_backend("inside")
        unregister_backend("outside")
    assert not result.reference.unique and result.reference.defined
    assert {b.name: b.verdict for b in result.backends} == {"inside": "valid", "outside": "wrong"}
    assert result.backends[1].error == pytest.approx(1.0)


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e160, 1e300])
def test_recon_and_polar_references_survive_extreme_magnitudes(scale):
    a = scale * with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=5)
    unit = a / scale
    register_backend("exact", exact_backend(lambda x: unit / np.linalg.norm(unit)))
    try:
        recon = check(a, loss="recon", backends=["exact"]).results[0]
    finally:
        unregister_backend("exact")
    np.testing.assert_allclose(recon.reference.gradient, unit / np.linalg.norm(unit), rtol=1e-12)
    assert recon.backends[0].verdict == "correct"
    polar = check(a, loss="polar", backends=["autograd"]).results[0]
    assert polar.reference.defined
    assert np.all(np.isfinite(polar.reference.gradient)) and polar.reference.gradient_norm > 0


def test_uv_is_never_judged_wrong():
    result = check(np.random.default_rng(3).standard_normal((4, 4)), loss="uv").results[0]
    assert result.verdict == "undefined"
    assert {b.verdict for b in result.backends} == {"undefined"}
    assert "sign-dependent" in result.explanation


def test_full_matrices_unsupported_is_a_finding_about_the_framework_not_a_failure():
    a = with_singular_values([3.0, 2.0, 1.0], (5, 3), 2)
    run = check(a, loss="polar", full_matrices=True)
    result = run.results[0]
    by_name = {b.name: b for b in result.backends}
    assert by_name["autograd"].verdict == "unsupported"
    assert "NotImplementedError" in by_name["autograd"].message
    assert by_name["torch"].verdict == "correct"
    assert result.verdict == "unsupported"
    assert run.exit_code == 0  # not a tool failure
    assert "does not implement this gradient" in result.explanation


def test_loss_weights_are_reproducible_from_the_seed():
    a = np.random.default_rng(0).standard_normal((3, 3))
    first = check(a, loss="polar", seed=7).results[0].loss_weights["C"]
    again = check(a, loss="polar", seed=7).results[0].loss_weights["C"]
    other = check(a, loss="polar", seed=8).results[0].loss_weights["C"]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("gap", [1e-6, 1e-9, 1e-12])
def test_polar_reference_is_accurate_at_a_near_tie(gap):
    """The polar factor is smooth through a tie: the reference must not divide rounding by the gap.

    For square A, d<C, U V^T> = U [F o (X - X^T)] V^T with X = U^T C V and F_ij = 1/(s_i + s_j):
    no 1/(s_i - s_j) anywhere (the derivative of the polar factor), so it is accurate at any gap.
    """
    a = with_singular_values([3.0, 2.0 + gap, 2.0, 1.0], (4, 4), seed=3)
    reference, loss = reference_for(a, "polar")
    u, s, vt = np.linalg.svd(a)
    x = u.T @ loss.arrays["C"] @ vt.T
    closed_form = u @ ((x - x.T) / (s[:, None] + s[None, :])) @ vt
    np.testing.assert_allclose(reference.gradient, closed_form, atol=1e-12)


def test_near_tie_budget_catches_a_gradient_that_is_off_by_a_thousandth():
    a = with_singular_values([3.0, 2.0 + 1e-9, 2.0, 1.0], (4, 4), seed=3)
    register_backend("off", exact_backend(lambda x: x / np.linalg.norm(x) + 1e-3))
    try:
        (off,) = check(a, loss="recon", backends=["off"]).results[0].backends
    finally:
        unregister_backend("off")
    # (a framework's own 1/(s_i - s_j) at this gap errs by 1e-8 or more, or not, as its LAPACK rounds)
    assert off.verdict == "wrong"
    assert off.budget < 1e-3
