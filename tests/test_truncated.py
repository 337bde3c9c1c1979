"""The truncated SVD map (numerics/truncated.py) against an independent 50-digit oracle
(truncated_oracle.py): finite differences of the truncated loss computed from mpmath's SVD."""

from __future__ import annotations

import numpy as np
import pytest

from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.numerics.svd import thin_svd
from svdgrad_cli.numerics.truncated import naive_gradient
from tests.truncated_oracle import exact_matrix, truncated_gradient

HALVING = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625]  # s_4 / s_3 = 0.5
ZERO_TAIL = [8, 4, 2, 0, 0, 0, 0, 0]  # nothing discarded
TIED_AT_CUT = [8, 4, 2, 2, 0.5, 0.25, 0.125, 0.0625]  # s_3 = s_4
TOL = 1e-8 * 8 * 8  # zero/tie tolerance of the reference, relative to s_1


def relative(g: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(g - truth) / np.linalg.norm(truth))


def bound(spec: str, a: np.ndarray):
    return parse_loss(spec).bind(a.shape, 0)


def oracle(loss, a):
    return truncated_gradient(loss.kind, loss.order, a, loss.arrays.get("C"))


@pytest.mark.parametrize("spec", ["proj:2", "proj:3", "polar:3", "recon:3"])
@pytest.mark.parametrize("values", [HALVING, ZERO_TAIL, [8, 4, 2, 1.75, 1, 0.5, 0.25, 0.125]])
def test_reference_is_the_gradient_of_the_truncated_map(spec, values):
    a = exact_matrix(values)
    loss = bound(spec, a)
    reference = build_reference(a, loss, TOL)[0]
    assert reference.defined and reference.unique
    assert relative(reference.gradient, oracle(loss, a)) < 1e-12


@pytest.mark.parametrize("spec", ["sv:3", "topk:3"])
def test_losses_of_the_top_values_are_unchanged(spec):
    a = exact_matrix(HALVING)
    loss = bound(spec, a)
    assert relative(build_reference(a, loss, TOL)[0].gradient, oracle(loss, a)) < 1e-12


@pytest.mark.parametrize("shape", [(7, 4), (4, 7)])
def test_reference_keeps_the_complement_terms_of_rectangular_matrices(shape):
    a = np.random.default_rng(3).standard_normal(shape)
    loss = bound("polar:2", a)
    reference = build_reference(a, loss, TOL)[0]
    assert relative(reference.gradient, oracle(loss, a)) < 1e-12


def test_polar_k_at_the_full_count_is_the_polar_loss():
    a = exact_matrix(HALVING)
    full, top = bound("polar", a), bound("polar:8", a)
    g_full = build_reference(a, full, TOL)[0].gradient
    g_top = build_reference(a, top, TOL)[0].gradient
    assert np.allclose(g_full, g_top, rtol=0, atol=1e-14)


def naive_error(spec: str, values) -> float:
    a = exact_matrix(values)
    loss = bound(spec, a)
    return relative(naive_gradient(loss, *thin_svd(a), 3), oracle(loss, a))


@pytest.mark.parametrize("spec", ["proj:2", "proj:3", "polar:3"])
def test_naive_truncated_adjoint_drops_a_coupling_of_the_size_of_the_discarded_weight(spec):
    assert 0.1 < naive_error(spec, HALVING) < 0.3  # s_4 / s_3 = 0.5: about 20 %, far beyond rounding


@pytest.mark.parametrize("spec", ["proj:2", "proj:3", "polar:3", "recon:3"])
def test_naive_truncated_adjoint_is_exact_when_nothing_is_discarded(spec):
    assert naive_error(spec, ZERO_TAIL) < 1e-13


@pytest.mark.parametrize("spec", ["proj:3", "polar:3", "recon:3"])
def test_a_cut_inside_a_multiplet_is_undefined_for_losses_of_the_cut_triplet(spec):
    a = exact_matrix(TIED_AT_CUT)
    reference = build_reference(a, bound(spec, a), TOL)[0]
    assert not reference.defined and reference.gradient is None
    assert "s_3, s_4 are tied" in reference.set_description


def test_a_loss_above_the_multiplet_stays_defined_and_exact():
    a = exact_matrix(TIED_AT_CUT)
    loss = bound("proj:2", a)
    reference = build_reference(a, loss, TOL)[0]
    assert reference.defined and reference.unique
    assert relative(reference.gradient, oracle(loss, a)) < 1e-12


def test_conditioning_follows_the_gap_at_the_cut():
    """The relative condition number ||A|| ||DG|| / ||G|| of polar:3 grows like 1 / (s_3 - s_4) as s_4
    approaches s_3 (||G|| like 1 / gap, ||DG|| like 1 / gap^2): the budget follows it."""
    norms = []
    for gap in (0.5, 0.05, 0.005):
        a = exact_matrix([8, 4, 2, 2 - gap, 1, 0.5, 0.25, 0.125])
        norms.append(build_reference(a, bound("polar:3", a), TOL)[0].condition)
    assert 5 < norms[1] / norms[0] < 20 and 5 < norms[2] / norms[1] < 20


@pytest.mark.parametrize("spec", ["polar:3", "recon:3"])
def test_high_precision_reference_of_the_truncated_map(spec):
    from svdgrad_cli.numerics.highprec import high_precision_gradient

    a = exact_matrix([8, 4, 2, 1.75, 1, 0.5, 0.25, 0.125])
    loss = bound(spec, a)
    _, spectrum, _, _ = build_reference(a, loss, TOL, check=False)
    assert relative(high_precision_gradient(a, loss, spectrum, 50), oracle(loss, a)) < 1e-14
