"""The reference gradients, in closed form in the SVD basis, free of any 1/(s_i - s_j) the loss does not have.

Every loss of U and V that has a gradient is a spectral function of the symmetric dilation
B = [[0, A], [A^T, 0]] (docs/theory.md §3): the polar factor is the off-diagonal block of sign(B) and
the top-K projector U_K U_K^T a block of a step function of B. Their gradients are first divided
differences of a piecewise-constant function (Daleckii and Krein; Bhatia, Matrix Analysis, §V.3),
which vanish between eigenvalues on the same piece. So a near tie that the loss does not separate
costs nothing, where the textbook rule (Townsend 2016; Giles 2008) divides the rounding of a
coupling that is zero in exact arithmetic by the gap. With A = U diag(s) V^T (thin), k = min(m, n):

- losses of s, ``sum_i w_i s_i``: G = U diag(w) V^T (Lewis 1995);
- ``polar``, <C, U V^T>: G = U [(X - X^T) / (s_i + s_j)] V^T + (I - U U^T) C V S^-1 V^T (m > n)
  or + U S^-1 U^T C (I - V V^T) (m < n), with X = U^T C V;
- ``proj:K``, <C, U_K U_K^T>: G = U [(f_i - f_j) s_j Y_ij / ((s_i - s_j)(s_i + s_j))] V^T
  + (I - U U^T) Y' S_K^-1 V_K^T, with Y = U^T (C + C^T) U, Y' = (C + C^T) U_K, f_i = [i <= K];
- ``recon``, ||A||_F: G = A / ||A||_F = U diag(s / ||s||) V^T;

each with ^H for ^T on complex input.

Only +, -, *, /, @ and adjoints are used, so the same code runs on float64 and complex128 arrays and
on NumPy object arrays of mpmath numbers (highprec.py). Divisions happen only where a mask allows them.

Complex input (field.py's convention, G = dL/dRe A + i dL/dIm A) needs no other formula: every loss
above is a function of the Hermitian dilation [[0, A], [A^H, 0]], and the divided differences are
those of its real eigenvalues. Written with U^H and V^H, the polar term (X - X^H) / (s_i + s_j) keeps
a diagonal, i Im(X_ii) / s_i: the term from the imaginary diagonal of U^H Ubar + V^H Vbar that the
reverse-mode rule for complex input carries (Wan and Zhang 2019), present here because the loss is
phase-invariant and absent from real input, where X - X^T has a zero diagonal.
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import adjoint


def masked_divide(numerator: np.ndarray, denominator: np.ndarray, where: np.ndarray) -> np.ndarray:
    """numerator / denominator where ``where`` holds, 0 elsewhere (no division by zero is attempted)."""
    out = np.zeros(
        np.broadcast_shapes(numerator.shape, denominator.shape, where.shape), dtype=numerator.dtype
    )
    num = np.broadcast_to(numerator, out.shape)
    den = np.broadcast_to(denominator, out.shape)
    out[where] = num[where] / den[where]
    return out


def spectral_gradient(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """U diag(w) V^T: the gradient of sum_i w_i s_i (w already averaged over tied clusters)."""
    return (u * w) @ adjoint(v)


def polar_gradient(
    u: np.ndarray, s: np.ndarray, v: np.ndarray, c: np.ndarray, zero: np.ndarray
) -> np.ndarray:
    """The gradient of <C, U V^T>; ``zero`` marks singular values that are zero (their terms drop)."""
    m, k = u.shape
    n = v.shape[0]
    x = adjoint(u) @ c @ v
    positive = ~zero
    pairs = positive[:, None] | positive[None, :]  # s_i + s_j > 0
    g = u @ masked_divide(x - adjoint(x), s[:, None] + s[None, :], pairs) @ adjoint(v)
    inverse_s = masked_divide(np.ones_like(s), s, positive)
    if m > k:
        cv = c @ v
        g = g + ((cv - u @ (adjoint(u) @ cv)) * inverse_s) @ adjoint(v)
    if n > k:
        uc = adjoint(u) @ c
        g = g + (u * inverse_s) @ (uc - (uc @ v) @ adjoint(v))
    return g


def projector_gradient(u: np.ndarray, s: np.ndarray, v: np.ndarray, c: np.ndarray, order: int) -> np.ndarray:
    """The gradient of <C, U_K U_K^T> for K = ``order`` (s_K > s_K+1 >= 0 assumed: the loss is defined).
    With K = m the projector is the identity whatever A is: the gradient is zero."""
    m, k = u.shape
    if order >= m:
        return np.zeros((m, v.shape[0]), dtype=u.dtype)
    symmetric = c + adjoint(c)
    y = adjoint(u) @ symmetric @ u
    top = np.arange(k) < order
    cross = top[:, None] != top[None, :]
    sign = np.where(top[:, None], 1, -1)  # f_i - f_j on the cross pairs
    gap = masked_divide(sign * y * s[None, :], s[:, None] - s[None, :], cross)
    g = u @ masked_divide(gap, s[:, None] + s[None, :], cross) @ adjoint(v)
    if m > k:
        yk = symmetric @ u[:, :order]
        g = g + ((yk - u @ (adjoint(u) @ yk)) / s[:order]) @ adjoint(v[:, :order])
    return g


def reconstruction_gradient(u: np.ndarray, s: np.ndarray, v: np.ndarray, norm) -> np.ndarray:
    """A / ||A||_F from the factors; ``norm`` is ||s|| computed overflow-free by the caller."""
    return spectral_gradient(u, v, s / norm)
