"""An independent oracle for the truncated SVD map: the gradient of a loss of the top K triplets by
central differences of the loss itself, at 50 significant digits.

Nothing here imports svdgrad. The loss is evaluated from mpmath's SVD (``svd_r``, Golub-Kahan and
implicit QR in arbitrary precision) of the exact input: L(U_K, s_K, V_K) with the definitions of
losses.py (proj:K <C, U_K U_K^T>, polar:K <C, U_K V_K^T>, recon:K ||U_K S_K V_K^T||_F, sv:K, topk:K),
each invariant to the signs of the pairs (u_i, v_i). The derivative along e_ij is
(L(A + h e_ij) - L(A - h e_ij)) / 2h with h = 1e-20: truncation error O(h^2 L''') ~ 1e-40 times the
conditioning, rounding 1e-50 / h = 1e-30, both far below float64's 1e-16. Where the cut falls inside a
tie the map has no derivative and the difference quotient has no limit; callers do not ask there.

The matrices: A = U diag(s) V^T with U, V products of a normalised 4x4 Hadamard matrix (entries
+-1/2) and signed permutations, and s dyadic, so A, its SVD and its spectrum are exact in float64.
"""

from __future__ import annotations

import numpy as np
from mpmath.ctx_mp import MPContext

DPS = 50
STEP = "1e-20"
mp = MPContext()
mp.dps = DPS

HADAMARD4 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2


def dyadic_orthogonal(seed: int) -> np.ndarray:
    """An 8x8 orthogonal matrix with entries in {0, +-1/2}: kron(H4 / 2, I2) between signed
    permutations (exact in float64)."""
    rng = np.random.default_rng(seed)
    core = np.kron(HADAMARD4, np.eye(2))
    left = np.eye(8)[rng.permutation(8)] * rng.choice([-1.0, 1.0], 8)
    right = np.eye(8)[rng.permutation(8)] * rng.choice([-1.0, 1.0], 8)
    mixed = left @ core @ right
    return mixed @ np.kron(np.eye(2), HADAMARD4)  # entries +-1/4, +-1/2 or 0: still exact


def exact_matrix(values, seed: int = 0) -> np.ndarray:
    """U diag(values) V^T with dyadic orthogonal U, V (exact in float64 for dyadic values)."""
    u, v = dyadic_orthogonal(seed), dyadic_orthogonal(seed + 100)
    return (u * np.asarray(values, dtype=float)) @ v.T


def _svd(a):
    u, s, vh = mp.svd_r(mp.matrix(a), full_matrices=False)
    k = len(s)
    return u, [s[i] for i in range(k)], vh.T


def _mp(x: np.ndarray):
    return mp.matrix([[mp.mpf(float(e)) for e in row] for row in x])


def loss_value(name: str, order: int, a, weights: np.ndarray | None):
    """The truncated loss at an mpmath matrix ``a``: one of proj, polar, recon, sv, topk."""
    u, s, v = _svd(a)
    m, n = a.rows, a.cols
    if name == "sv":
        return s[order - 1]
    if name == "topk":
        return mp.fsum(s[:order])
    if name == "recon":
        return mp.sqrt(mp.fsum(x**2 for x in s[:order]))
    c = _mp(weights)
    if name == "proj":
        return mp.fsum(
            c[i, j] * mp.fsum(u[i, t] * u[j, t] for t in range(order)) for i in range(m) for j in range(m)
        )
    polar = (c[i, j] * mp.fsum(u[i, t] * v[j, t] for t in range(order)) for i in range(m) for j in range(n))
    return mp.fsum(polar)


def truncated_gradient(name: str, order: int, a: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """dL/dA of the truncated loss by 50-digit central differences in every entry, as float64."""
    base = _mp(a)
    h = mp.mpf(STEP)
    g = np.zeros(a.shape)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            plus, minus = base.copy(), base.copy()
            plus[i, j] += h
            minus[i, j] -= h
            difference = loss_value(name, order, plus, weights) - loss_value(name, order, minus, weights)
            g[i, j] = float(difference / (2 * h))
    return g


def example_gradient(adjoint: str, name: str, order: int, a: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The gradient that examples/backends/truncated.py's ``adjoint`` ("naive" or "corrected") gives
    for proj:K <C, U_K U_K^T> or polar:K <C, U_K V_K^T>, computed here with torch in the dtype of
    ``a`` (not through svdgrad), as float64."""
    import torch

    from examples.backends import truncated

    x = torch.tensor(a, requires_grad=True)
    u, _, vh = getattr(truncated, adjoint)(x)
    c = torch.tensor(weights, dtype=x.dtype)
    other = u[:, :order] if name == "proj" else vh[:order, :].T
    torch.sum(c * (u[:, :order] @ other.T)).backward()
    return x.grad.numpy().astype(np.float64)
