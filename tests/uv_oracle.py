"""An independent oracle for the user's cotangents of the SVD (``--loss uv``): losses built from the
gauge-invariant products of each pair, differentiated by central differences at 50 digits.

Nothing here imports svdgrad. Anchored at vectors R (the float64 SVD the cotangents were taken at):

- real: f(A) = sum_i alpha_i |r_u,i^T u_i| + beta_i |r_v,i^T v_i|, each |r^T u| = sqrt(r^T (u u^T) r)
  a function of u u^T, so of A where s_i is simple; its cotangents at R are alpha_i u_i, beta_i v_i;
- complex: f(A) = sum_i Re(conj(kappa_i) r_u,i^H (u_i v_i^H) r_v,i), a function of the
  phase-invariant u_i v_i^H; its cotangents at R are kappa_i u_i and conj(kappa_i) v_i.

The SVD is mpmath's (svd_r, svd_c) of the exact input; the derivative along E is
(f(A + hE) - f(A - hE)) / 2h with h = 1e-20 (truncation ~1e-40, rounding 1e-30).

The matrices: A = U diag(s) V^H with U an 8x8 dyadic orthogonal matrix (columns of kron(H4, I2)
between signed permutations), V a 4x4 normalised Hadamard matrix between signed permutations, times
diag(1, i, -1, -i) for complex input: exact in float64.
"""

from __future__ import annotations

import numpy as np
from mpmath.ctx_mp import MPContext

DPS = 50
STEP = "1e-20"
mp = MPContext()
mp.dps = DPS

HADAMARD4 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2


def _signed_permutation(rng, n: int) -> np.ndarray:
    return np.eye(n)[rng.permutation(n)] * rng.choice([-1.0, 1.0], n)


def exact_matrix(values, seed: int = 0, complex_: bool = False) -> np.ndarray:
    """An 8x4 U diag(values) V^H, exact in float64 (complex128) for dyadic values."""
    rng = np.random.default_rng(seed)
    u = _signed_permutation(rng, 8) @ np.kron(HADAMARD4, np.eye(2)) @ _signed_permutation(rng, 8)
    v = _signed_permutation(rng, 4) @ HADAMARD4 @ _signed_permutation(rng, 4)
    if complex_:
        v = v * np.array([1, 1j, -1, -1j])
    return (u[:, :4] * np.asarray(values, dtype=float)) @ np.conj(v).T


def _mp(x: np.ndarray):
    """An exact mpmath copy (real entries stay real: svd_r takes only those)."""
    if not np.iscomplexobj(x):
        return mp.matrix([[mp.mpf(float(z)) for z in row] for row in x])
    return mp.matrix([[mp.mpc(float(z.real), float(z.imag)) for z in row] for row in x])


def _svd(a, complex_: bool):
    u, _, vh = (mp.svd_c if complex_ else mp.svd_r)(a, full_matrices=False)
    return u, vh.H


def real_loss(a, r_u: np.ndarray, r_v: np.ndarray, alpha, beta):
    """sum_i alpha_i |r_u,i^T u_i| + beta_i |r_v,i^T v_i| at an mpmath matrix ``a``."""
    u, v = _svd(a, False)
    total = mp.mpf(0)
    for i in range(len(alpha)):
        total += alpha[i] * abs(sum(r_u[j, i] * u[j, i] for j in range(u.rows)))
        total += beta[i] * abs(sum(r_v[j, i] * v[j, i] for j in range(v.rows)))
    return total


def complex_loss(a, r_u: np.ndarray, r_v: np.ndarray, kappa):
    """sum_i Re(conj(kappa_i) r_u,i^H u_i v_i^H r_v,i) at an mpmath matrix ``a``."""
    u, v = _svd(a, True)
    total = mp.mpf(0)
    for i in range(len(kappa)):
        left = sum(mp.conj(complex(r_u[j, i])) * u[j, i] for j in range(u.rows))
        right = sum(mp.conj(v[j, i]) * complex(r_v[j, i]) for j in range(v.rows))
        total += mp.re(mp.conj(complex(kappa[i])) * left * right)
    return total


def directional_derivative(loss_of_matrix, a: np.ndarray, e: np.ndarray) -> float:
    """(f(A + hE) - f(A - hE)) / 2h at DPS digits."""
    step = mp.mpf(STEP)
    am, em = _mp(a + 0 * e), _mp(e)  # complex where either is
    return float((loss_of_matrix(am + step * em) - loss_of_matrix(am - step * em)) / (2 * step))


def flipped_value(a: np.ndarray, c_u: np.ndarray, c_v: np.ndarray, i: int) -> tuple[float, float]:
    """<C_U, U> + <C_V, V> at mpmath's SVD of ``a`` and with (u_i, v_i) flipped (real input)."""
    u, v = _svd(_mp(a), False)
    u_np = np.array(u.tolist(), dtype=float)
    v_np = np.array(v.tolist(), dtype=float)
    value = float(np.sum(c_u * u_np) + np.sum(c_v * v_np))
    return value, value - 2.0 * float(c_u[:, i] @ u_np[:, i] + c_v[:, i] @ v_np[:, i])
