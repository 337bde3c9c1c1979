"""eigh references (numerics/eigh_reference.py) against the independent oracle (eigh_oracle.py):
exactly known spectra with dyadic orthogonal Q, closed forms at 50 digits, and 50-digit finite
differences that check the closed forms themselves."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from eigh_oracle import (
    eigenvalues,
    finite_difference,
    hermitian,
    inner,
    matrix_function_gradient,
    selection_gradient,
    spectral_gradient,
    symmetric,
    symmetric_direction,
)

from svdgrad_cli.numerics.budget import make_budget
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_membership import capped_simplex, distance
from svdgrad_cli.numerics.eigh_reference import eigh_reference

SEPARATED = [0.5, 1.0, 2.0, 4.0]
TIED = [0.5, 2.0, 2.0, 4.0]  # a double eigenvalue inside the spectrum
TIE_AT_EDGE = [0.5, 2.0, 2.0, 4.0]  # lowk:2 and topk:2 cut the tie; lowk:3, lowk:1 do not

SPECTRAL = {  # name -> (f as a function of an mpmath matrix's eigenvalues, f')
    "eigsum": (lambda x: x, lambda x: mpmath.mpf(1)),
    "logdet": (mpmath.log, lambda x: 1 / x),
    "entropy": (lambda x: -x * mpmath.log(x), lambda x: -(mpmath.log(x) + 1)),
}


def _close(g: np.ndarray, oracle: np.ndarray, tol: float = 1e-12) -> bool:
    return float(np.linalg.norm(g - oracle)) <= tol * max(1.0, float(np.linalg.norm(oracle)))


@pytest.mark.parametrize("lam", [SEPARATED, TIED])
@pytest.mark.parametrize("name", sorted(SPECTRAL))
def test_spectral_function_gradient_is_the_oracle_even_at_ties(name, lam):
    f, df = SPECTRAL[name]
    a, q = symmetric(lam, seed=3)
    oracle = spectral_gradient(q, lam, df)
    e = symmetric_direction(4, 1)
    fd = finite_difference(lambda m: mpmath.fsum(f(x) for x in eigenvalues(m)), a, e)
    assert math.isclose(inner(oracle, e), fd, rel_tol=1e-12, abs_tol=1e-14)  # the oracle itself
    reference = eigh_reference(a, parse_eigh_loss(name))
    assert reference.unique and reference.defined
    assert _close(reference.gradient, oracle)


@pytest.mark.parametrize("lam", [SEPARATED, TIED])
def test_expm_gradient_is_the_daleckii_krein_oracle_at_ties(lam):
    a, q = symmetric(lam, seed=5)
    loss = parse_eigh_loss("expm").bind(4, seed=0)
    c = loss.arrays["C"]
    oracle = matrix_function_gradient(q, lam, c, mpmath.exp, mpmath.exp)
    e = symmetric_direction(4, 2)
    fd = finite_difference(lambda m: mpmath.fsum(_entrywise(c, mpmath.expm(m))), a, e)
    assert math.isclose(inner(oracle, e), fd, rel_tol=1e-12)  # the oracle, without an eigensolver
    reference = eigh_reference(a, loss)
    assert reference.unique and reference.defined
    assert _close(reference.gradient, oracle, 1e-11)


def _entrywise(c: np.ndarray, m) -> list:
    """The terms c_ij m_ij of sum(c * m) (real or complex c)."""
    return [
        mpmath.mpmathify(complex(c[i, j]) if np.iscomplexobj(c) else float(c[i, j])) * m[i, j]
        for i in range(4)
        for j in range(4)
    ]


@pytest.mark.parametrize(
    "spec, chosen", [("lowk:1", [0]), ("lowk:3", [0, 1, 2]), ("topk:1", [3]), ("eig:4", [3])]
)
def test_eigenvalue_sums_with_an_open_edge_are_q_s_q_s(spec, chosen):
    a, q = symmetric(TIE_AT_EDGE, seed=7)
    e = symmetric_direction(4, 3)
    oracle = selection_gradient(q, chosen)
    fd = finite_difference(lambda m: mpmath.fsum(eigenvalues(m)[i] for i in chosen), a, e)
    assert math.isclose(inner(oracle, e), fd, rel_tol=1e-12, abs_tol=1e-14)
    reference = eigh_reference(a, parse_eigh_loss(spec))
    assert reference.unique and _close(reference.gradient, oracle)


@pytest.mark.parametrize("spec", ["proj:2", "vec", "eig:2", "eig:3"])
def test_losses_that_tell_tied_eigenvectors_apart_are_undefined(spec):
    a, _ = symmetric(TIED, seed=1)
    reference = eigh_reference(a, parse_eigh_loss(spec).bind(4, 0))
    assert not reference.defined and reference.gradient is None


@pytest.mark.parametrize("spec", ["proj:1", "proj:3"])
def test_a_projector_with_its_gap_open_is_defined_beside_a_tie(spec):
    a, q = symmetric(TIED, seed=1)
    loss = parse_eigh_loss(spec).bind(4, 0)
    k = loss.order
    reference = eigh_reference(a, loss)
    step = lambda x: mpmath.mpf(1) if x < 1.5 + (k == 3) * 1.5 else mpmath.mpf(0)  # noqa: E731
    oracle = matrix_function_gradient(q, TIED, loss.arrays["C"], step, lambda x: mpmath.mpf(0))
    assert reference.defined and _close(reference.gradient, oracle)


def _member(q, w_block: np.ndarray) -> np.ndarray:
    """A member of lowk:2's superdifferential at TIE_AT_EDGE: q_1 q_1^T + Q_T W Q_T^T."""
    qt = q[:, [1, 2]]
    return np.outer(q[:, 0], q[:, 0]) + qt @ w_block @ qt.T


def test_membership_at_a_tie_across_the_edge_is_the_distance_to_the_set():
    a, q = symmetric(TIE_AT_EDGE, seed=2)
    reference = eigh_reference(a, parse_eigh_loss("lowk:2"))
    assert reference.defined and not reference.unique
    inside = np.array([[0.9, 0.3], [0.3, 0.1]])  # eigenvalues 1 and 0, trace 1: an extreme point
    assert distance(_member(q, inside), reference) < 1e-14
    outside = np.diag([1.5, -0.5])  # trace 1 but eigenvalues outside [0, 1]: 0.5 * sqrt(2) away
    assert math.isclose(distance(_member(q, outside), reference), 0.5 * math.sqrt(2), rel_tol=1e-12)
    wrong_outside_block = _member(q, inside) + 0.25 * np.outer(q[:, 3], q[:, 3])
    assert math.isclose(distance(wrong_outside_block, reference), 0.25, rel_tol=1e-12)


def test_capped_simplex_projection_is_the_nearest_point():
    x = np.array([1.5, -0.5, 0.2])
    p = capped_simplex(x, 1)
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-14) and np.all((p >= 0) & (p <= 1))
    rng = np.random.default_rng(0)
    for _ in range(200):  # no feasible point is nearer
        y = rng.dirichlet(np.ones(3))
        assert np.linalg.norm(x - p) <= np.linalg.norm(x - y) + 1e-15


@pytest.mark.parametrize("spec", ["eigsum", "eig:2", "lowk:2", "topk:3", "logdet", "proj:2", "vec"])
@pytest.mark.parametrize("k", [-30, 12])
def test_exact_power_of_two_scaling_leaves_relative_budgets_unchanged(spec, k):
    a, _ = symmetric(SEPARATED, seed=4)
    loss = parse_eigh_loss(spec).bind(4, 0)
    budgets = []
    for matrix in (a, a * 2.0**k):
        reference = eigh_reference(matrix, loss)
        budgets.append(make_budget(reference, matrix.shape, np.float64).relative)
    assert math.isclose(budgets[0], budgets[1], rel_tol=1e-9)


@pytest.mark.parametrize("lam", [[2.0**-20, 2.0**-20 + 2.0**-40, 0.5, 1.0], [1.0, 1.0 + 2.0**-30, 1.5, 3.0]])
def test_expm_reference_keeps_its_digits_at_near_ties(lam):
    """e^b expm1(a - b)/(a - b), not (e^a - e^b)/(a - b), which loses digits to cancellation there."""
    a, q = symmetric(lam, seed=8)
    loss = parse_eigh_loss("expm").bind(4, seed=1)
    oracle = matrix_function_gradient(q, lam, loss.arrays["C"], mpmath.exp, mpmath.exp)
    assert _close(eigh_reference(a, loss).gradient, oracle, 1e-13)


@pytest.mark.parametrize("lam", [SEPARATED, TIED])
def test_hermitian_references_are_the_oracle_at_ties(lam):
    """Complex Hermitian A = Q diag(lam) Q^H (Q with phases): entropy and <C, exp(A)> against closed
    forms checked by 50-digit finite differences along a Hermitian direction (mpmath eighe, expm)."""
    a, q = hermitian(lam, seed=3)
    e = symmetric_direction(4, 4, complex_=True)
    f, df = SPECTRAL["entropy"]
    oracle = spectral_gradient(q, lam, df)
    fd = finite_difference(lambda m: mpmath.fsum(f(x) for x in eigenvalues(m)), a, e)
    assert math.isclose(inner(oracle, e), fd, rel_tol=1e-12)
    assert _close(eigh_reference(a, parse_eigh_loss("entropy").bind(4, 0, True)).gradient, oracle)
    loss = parse_eigh_loss("expm").bind(4, 0, on_complex=True)
    c = loss.arrays["C"]
    oracle = matrix_function_gradient(q, lam, c, mpmath.exp, mpmath.exp)
    fd = finite_difference(lambda m: mpmath.fsum(_entrywise(np.conj(c), mpmath.expm(m))), a, e)
    assert math.isclose(inner(oracle, e), fd, rel_tol=1e-12)
    assert _close(eigh_reference(a, loss).gradient, oracle, 1e-11)
