"""An oracle for eigh gradients, written independently of svdgrad_cli: symmetric matrices
A = Q diag(lam) Q^T built exactly from a dyadic orthogonal Q (the normalised 4x4 Hadamard matrix,
times a signed permutation) and dyadic eigenvalues, so the stored float64 A is exact and its
eigendecomposition is known without computing one; gradients from closed forms in mpmath at 50
digits; and high-precision central finite differences (mpmath.eigsy or eighe, mpmath.expm) that
check them. Complex Hermitian ones: Q's columns times phases from {1, i, -1, -i} (still exact), the
gradient in svdgrad's convention G = dL/dRe A + i dL/dIm A, so that dL = Re <G, E>.

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


def hermitian(lam, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(A, Q) with A = Q diag(lam) Q^H exact in complex128: Q's columns times phases 1, i, -1, -i."""
    q = dyadic_q(seed) * (1j) ** np.random.default_rng(seed + 100).integers(0, 4, 4)
    a = (q * np.asarray(lam, dtype=float)) @ q.conj().T
    assert np.array_equal(a, a.conj().T)
    return a, q


def _mp(x) -> mpmath.matrix:
    def entry(v):
        return mpmath.mpc(complex(v)) if np.iscomplexobj(x) else mpmath.mpf(float(v))

    return mpmath.matrix([[entry(v) for v in row] for row in np.atleast_2d(x)])


def _np(m: mpmath.matrix) -> np.ndarray:
    out = np.array([[complex(m[i, j]) for j in range(m.cols)] for i in range(m.rows)])
    return out if np.any(out.imag) else out.real


def spectral_gradient(q: np.ndarray, lam, derivative) -> np.ndarray:
    """Q diag(f'(lam)) Q^T in mpmath, rounded to float64."""
    with mpmath.workdps(DIGITS):
        qm = _mp(q)
        d = mpmath.diag([derivative(mpmath.mpf(float(x))) for x in lam])
        return _np(qm * d * qm.H)


def selection_gradient(q: np.ndarray, chosen) -> np.ndarray:
    """Q_S Q_S^T (exact in float64 for dyadic Q)."""
    return q[:, chosen] @ q[:, chosen].conj().T


def matrix_function_gradient(q: np.ndarray, lam, c: np.ndarray, g, dg) -> np.ndarray:
    """The gradient of <C, g(A)>: Q (Gamma o Q^T Cs Q) Q^T with Gamma the divided differences of g."""
    with mpmath.workdps(DIGITS):
        qm, n = _mp(q), len(lam)
        cs = (_mp(c) + _mp(c).H) / 2
        m = qm.H * cs * qm
        x = [mpmath.mpf(float(v)) for v in lam]
        for i in range(n):
            for j in range(n):
                gamma = dg(x[i]) if x[i] == x[j] else (g(x[i]) - g(x[j])) / (x[i] - x[j])
                m[i, j] *= gamma
        return _np(qm * m * qm.H)


def finite_difference(loss_of_matrix, a: np.ndarray, e: np.ndarray, h: str = "1e-20") -> float:
    """(L(A + hE) - L(A - hE)) / 2h at DIGITS digits: the directional derivative along E."""
    with mpmath.workdps(DIGITS):
        step = mpmath.mpf(h)
        am, em = _mp(a), _mp(e)
        return float(mpmath.re(loss_of_matrix(am + step * em) - loss_of_matrix(am - step * em)) / (2 * step))


def eigenvalues(m: mpmath.matrix) -> list:
    """The ascending eigenvalues of a symmetric (Hermitian) mpmath matrix."""
    hermitian_ = any(mpmath.im(m[i, j]) for i in range(m.rows) for j in range(m.cols))
    values = (mpmath.eighe if hermitian_ else mpmath.eigsy)(m, eigvals_only=True)
    return sorted(values[i] for i in range(m.rows))


def inner(g: np.ndarray, e: np.ndarray) -> float:
    """Re <G, E> = Re sum conj(G) E: the directional derivative a gradient G gives along E."""
    return float(np.real(np.sum(np.conj(g) * e)))


def symmetric_direction(n: int, seed: int, complex_: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_ else 0)
    return (x + x.conj().T) / 2


def identity_gradient(stack, loss):
    """A python: plug-in for tests: eigsum's exact gradient, I, for every matrix."""
    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]), stack.shape).copy()
