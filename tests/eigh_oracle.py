"""An oracle for eigh gradients, written independently of svdgrad_cli: symmetric matrices
A = Q diag(lam) Q^T built exactly from a dyadic orthogonal Q (the normalised 4x4 Hadamard matrix,
times a signed permutation) and dyadic eigenvalues, so the stored float64 A is exact and its
eigendecomposition is known without computing one; gradients from closed forms in mpmath at 50
digits; and high-precision central finite differences (mpmath.eigsy, mpmath.expm) that check them.

Closed forms (for symmetric directions E, dL = <G, E>):
- tr f(A): G = Q diag(f'(lam)) Q^T;
- the sum of the eigenvalues with indices S (gap open at its edge): G = Q_S Q_S^T;
- <C, g(A)> for a matrix function g: G = Q (Gamma o Q^T Cs Q) Q^T with Gamma_ij the divided
  difference g[lam_i, lam_j] (g'(lam_i) where lam_i = lam_j), Cs = (C + C^T)/2.
"""

from __future__ import annotations

import mpmath
import numpy as np

DIGITS = 50
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2


def dyadic_q(seed: int = 0) -> np.ndarray:
    """An exactly orthogonal 4x4 matrix with entries +-1/2: Hadamard / 2 times a signed permutation."""
    rng = np.random.default_rng(seed)
    perm = np.eye(4)[rng.permutation(4)] * rng.choice([-1.0, 1.0], size=4)
    return HADAMARD @ perm


def symmetric(lam, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(A, Q) with A = Q diag(lam) Q^T exact in float64 (lam dyadic, ascending)."""
    q = dyadic_q(seed)
    a = (q * np.asarray(lam, dtype=float)) @ q.T
    assert np.array_equal(a, a.T)
    return a, q


def _mp(x) -> mpmath.matrix:
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(x)])


def _np(m: mpmath.matrix) -> np.ndarray:
    return np.array([[float(m[i, j]) for j in range(m.cols)] for i in range(m.rows)])


def spectral_gradient(q: np.ndarray, lam, derivative) -> np.ndarray:
    """Q diag(f'(lam)) Q^T in mpmath, rounded to float64."""
    with mpmath.workdps(DIGITS):
        qm = _mp(q)
        d = mpmath.diag([derivative(mpmath.mpf(float(x))) for x in lam])
        return _np(qm * d * qm.T)


def selection_gradient(q: np.ndarray, chosen) -> np.ndarray:
    """Q_S Q_S^T (exact in float64 for dyadic Q)."""
    return q[:, chosen] @ q[:, chosen].T


def matrix_function_gradient(q: np.ndarray, lam, c: np.ndarray, g, dg) -> np.ndarray:
    """The gradient of <C, g(A)>: Q (Gamma o Q^T Cs Q) Q^T with Gamma the divided differences of g."""
    with mpmath.workdps(DIGITS):
        qm, n = _mp(q), len(lam)
        cs = (_mp(c) + _mp(c).T) / 2
        m = qm.T * cs * qm
        x = [mpmath.mpf(float(v)) for v in lam]
        for i in range(n):
            for j in range(n):
                gamma = dg(x[i]) if x[i] == x[j] else (g(x[i]) - g(x[j])) / (x[i] - x[j])
                m[i, j] *= gamma
        return _np(qm * m * qm.T)


def finite_difference(loss_of_matrix, a: np.ndarray, e: np.ndarray, h: str = "1e-20") -> float:
    """(L(A + hE) - L(A - hE)) / 2h at DIGITS digits: the directional derivative along E."""
    with mpmath.workdps(DIGITS):
        step = mpmath.mpf(h)
        am, em = _mp(a), _mp(e)
        return float((loss_of_matrix(am + step * em) - loss_of_matrix(am - step * em)) / (2 * step))


def eigenvalues(m: mpmath.matrix) -> list:
    """The ascending eigenvalues of a symmetric mpmath matrix."""
    values = mpmath.eigsy(m, eigvals_only=True)
    return sorted(values[i] for i in range(m.rows))


def inner(g: np.ndarray, e: np.ndarray) -> float:
    return float(np.sum(g * e))


def symmetric_direction(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, n))
    return (x + x.T) / 2
