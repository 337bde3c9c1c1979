"""The reverse-mode rule of the thin SVD, in the overflow-free partial-fraction form.

Source: Townsend (2016), "Differentiating the Singular Value Decomposition"; the same rule appears in
Giles (2008) and Ionescu, Vantzos and Sminchisescu (2015). With A = U diag(s) V^T (thin, k = min(m, n))
and cotangents Ubar (m x k), sbar (k), Vbar (n x k) of a real loss:

    K_U = U^T Ubar - Ubar^T U,   K_V = V^T Vbar - Vbar^T V
    J_ij = 1/2 (K_U + K_V)_ij / (s_j - s_i) + 1/2 (K_U - K_V)_ij / (s_j + s_i)   (i != j)
    J_ii = sbar_i
    Abar = U J V^T + [m > k] (I - U U^T) Ubar diag(1/s) V^T + [n > k] U diag(1/s) Vbar^T (I - V V^T)

Splitting 1/(s_j^2 - s_i^2) into two partial fractions never squares s (no overflow near 1e160) and
shows which term blows up: 1/(s_j - s_i) at a tie, 1/(s_j + s_i) and 1/s only at zeros.
"""

from __future__ import annotations

import numpy as np

ROUNDING_MULTIPLE = 100  # of eps times the cotangents' size: what counts as a zero coupling


def _scale(u, u_bar, v, v_bar) -> float:
    """The size of the terms that make up K_U and K_V (max |U^T Ubar| and |V^T Vbar| entries)."""
    return float(max(np.max(np.abs(u.T @ u_bar), initial=0.0), np.max(np.abs(v.T @ v_bar), initial=0.0)))


def svd_vjp(
    u: np.ndarray,
    s: np.ndarray,
    v: np.ndarray,
    u_bar: np.ndarray | None,
    s_bar: np.ndarray,
    v_bar: np.ndarray | None,
    tied: np.ndarray | None = None,
    zero: np.ndarray | None = None,
) -> np.ndarray:
    """Abar for one matrix A = u diag(s) v^T (v is n x k, not V^T), all in float64.

    ``tied`` (k x k, bool) marks pairs inside one cluster of equal positive values: their
    1/(s_j - s_i) term is dropped and the 1/(s_j + s_i) term kept. ``zero`` (k, bool) marks the zero
    cluster: every term dividing by its values is dropped. Both are right only where the caller has
    checked that the loss is gauge invariant there (gauge.py, THEORY.md section 4); without them the
    rule assumes distinct positive singular values wherever u_bar or v_bar is non-zero.
    """
    m, k = u.shape
    n = v.shape[0]
    if u_bar is None and v_bar is None:
        return (u * s_bar) @ v.T
    u_bar = np.zeros_like(u) if u_bar is None else u_bar
    v_bar = np.zeros_like(v) if v_bar is None else v_bar
    tied = np.zeros((k, k), dtype=bool) if tied is None else tied
    zero = np.zeros(k, dtype=bool) if zero is None else zero
    k_u = u.T @ u_bar - u_bar.T @ u
    k_v = v.T @ v_bar - v_bar.T @ v
    s_j, s_i = s[np.newaxis, :], s[:, np.newaxis]
    both_zero = zero[:, np.newaxis] & zero[np.newaxis, :]
    coupling = k_u + k_v
    # A coupling that is zero up to rounding (as it is identically for the polar factor or ||A||_F)
    # is rounding: divided by a small gap it would be noise, so it is dropped, as at an exact tie.
    noise = (
        ROUNDING_MULTIPLE
        * np.finfo(np.float64).eps
        * (np.abs(k_u) + np.abs(k_v) + _scale(u, u_bar, v, v_bar))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.where(
            tied | both_zero | (np.abs(coupling) <= noise), 0.0, 0.5 * coupling / (s_j - s_i)
        )
        total = np.where(both_zero, 0.0, 0.5 * (k_u - k_v) / (s_j + s_i))
        inverse_s = np.where(zero, 0.0, 1.0 / s)
    j = difference + total
    j[np.diag_indices(k)] = s_bar
    a_bar = u @ j @ v.T
    if m > k:
        a_bar += (u_bar - u @ (u.T @ u_bar)) * inverse_s @ v.T
    if n > k:
        a_bar += (u * inverse_s) @ (v_bar.T - (v_bar.T @ v) @ v.T)
    return a_bar
