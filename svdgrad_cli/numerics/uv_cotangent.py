"""The user's cotangents of the SVD (``--loss uv``, ``--cotangents``): when they give a derivative.

Every backend differentiates L = Re <C_U, U> + Re <C_V, V> on its own SVD of A, with the user's
C_U (m x k) and C_V (n x k). Its gradient is the reverse-mode rule (Townsend 2016; Wan and Zhang 2019)
applied to (C_U, C_V) at the backend's factors, linear in each column pair (c_U, c_V) =
(C_U[:, i], C_V[:, i]). An SVD may flip (u_i, v_i) -> -(u_i, v_i) (on complex input multiply both by
e^{i phi}), which is the rule applied at the first SVD to the column pair times -1 (e^{-i phi}): the
backends' numbers agree, and are the derivative of a function of A, only where that column pair's
contribution vanishes. With alpha = u_i^H c_U, beta = v_i^H c_V:

- the rule reads (I - u_i u_i^H) c_U and (I - v_i v_i^H) c_V, each divided by a gap (the other
  values, s_i + s_j, and s_i itself for the rectangular rest): both must be zero. A first-order
  test at one SVD, alpha + beta = 0 (the loss's value unchanged by the flip there), is not enough:
  at A + tE the flipped value differs again, and the gradient changes with the sign;
- on complex input it also reads i Im(alpha) / s_i along u_i v_i^H: the pair is phase-invariant to
  first order iff Im(alpha + beta) = 0 (the test torch's svd_backward makes before it raises), and
  then the gradient is Im(alpha) i u_i v_i^H / s_i, the derivative of the phase-invariant
  Re(conj(kappa) r_u^H u_i v_i^H r_v) with kappa = i Im(alpha) (R the reference's vectors; its
  cotangents are kappa u_i, conj(kappa) v_i), since Im(u_i^H dA v_i) = s_i Im(u_i^H du_i - v_i^H dv_i).
  The real parts of alpha, beta contribute nothing, as on real input, where a pair along
  (u_i, v_i) has the cotangents of the stationary Re(alpha) |r_u^H u_i| + Re(beta) |r_v^H v_i|;
- a tied positive cluster or a zero value: its vectors turn freely (the zero ones alone), and the
  column pair is read under every turn unless it is zero.

Otherwise ``undefined``, naming the pairs. Where defined, G = U diag(i Im(alpha) / s) V^H (0 on real
input). The tolerance is rounding, UV_FACTOR k eps of the cotangents' norm: a part the rule reads
beyond it moves the backends' gradients by about its size over a gap, apart by their signs, which a
budget of a few eps ||C|| / gap would call wrong.
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import Spectrum, span

UV_FACTOR = 8.0  # a cotangent taken at another float64 SVD of A is along its pairs to ~k eps
UV_DESCRIPTION = (
    "unique gradient U diag(i Im(u_i^H C_U[:, i]) / s_i) V^H (0 on real input): every pair's "
    "cotangent lies along (u_i, v_i), so no SVD's choice of signs or phases changes it"
)


def _along(c: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x_i^H c_i for each column, the columns of c off their x_i)."""
    alpha = np.sum(np.conj(x) * c, axis=0)
    return alpha, c - x * alpha


def _free(spectrum: Spectrum) -> np.ndarray:
    """The pairs whose vectors turn freely: zero values and tied positive clusters."""
    free = spectrum.zero_mask()
    for cluster in spectrum.clusters:
        if len(cluster) > 1:
            free[list(cluster)] = True
    return free


def uv_problems(u, s, v, c_u, c_v, spectrum: Spectrum) -> list[str]:
    """A sentence per kind of freedom of the SVD that the cotangents' gradient depends on (none:
    defined)."""
    rtol = UV_FACTOR * len(s) * np.finfo(np.float64).eps
    tol = rtol * (frobenius(c_u) + frobenius(c_v)) or np.finfo(float).tiny
    alpha, off_u = _along(c_u, u)
    beta, off_v = _along(c_v, v)
    free = _free(spectrum)
    column = np.hypot(np.linalg.norm(c_u, axis=0), np.linalg.norm(c_v, axis=0))
    off = np.hypot(np.linalg.norm(off_u, axis=0), np.linalg.norm(off_v, axis=0))
    turned = np.flatnonzero(free & (column > tol))
    read = np.flatnonzero(~free & (off > tol))
    phase = np.flatnonzero(~free & (off <= tol) & (np.abs(np.imag(alpha + beta)) > tol))
    gauge = "phase e^(i phi)" if is_complex(u) else "sign"
    problems = []
    if len(read):
        problems.append(
            f"the loss is sign-dependent: C_U[:, i], C_V[:, i] reach beyond u_i, v_i, so the gradient of "
            f"<C_U, U> + <C_V, V> changes with the {gauge} of (u_i, v_i), which any SVD may choose "
            f"({span(read)})"
        )
    if len(phase):
        problems.append(
            f"the loss depends on the phase e^(i phi) of (u_i, v_i), which any complex SVD may choose "
            f"({span(phase)}: Im(u_i^H C_U[:, i] + v_i^H C_V[:, i]) != 0)"
        )
    if len(turned):
        problems.append(
            f"{span(turned)} are tied or zero and C_U, C_V weigh their vectors, which any SVD may turn "
            f"inside the cluster or null space"
        )
    return problems


def uv_gradient(u, s, v, c_u, spectrum: Spectrum) -> np.ndarray:
    """G = U diag(i Im(u_i^H C_U[:, i]) / s_i) V^H where uv_problems found none (0 on real input)."""
    if not is_complex(u):
        return np.zeros((len(u), len(v)))
    alpha, _ = _along(c_u, u)
    weights = np.where(_free(spectrum), 0.0, 1j * np.imag(alpha) / np.where(s > 0, s, 1.0))
    return (u * weights) @ adjoint(v)


def uv_hessian_norm(s, c_u, c_v, spectrum: Spectrum) -> float:
    """||DG||_2 estimated as 2 (||C_U||_2 + ||C_V||_2) / g^2, g the least of |s_i - s_j|, s_i + s_j
    and s_i over the positive values (pairs in one
    cluster excepted): each pair turns at the rate 1/g, and its weights with it."""
    positive = ~spectrum.zero_mask()
    if not np.any(positive):
        return 0.0
    ids = spectrum.cluster_ids()
    across = (ids[:, None] != ids[None, :]) & positive[:, None] & positive[None, :]
    gaps = np.abs(s[:, None] - s[None, :])[across]
    sums = (s[:, None] + s[None, :])[positive[:, None] & positive[None, :]]
    g = float(np.min(np.concatenate([gaps, sums, s[positive]])))
    size = float(np.linalg.norm(c_u, 2) + np.linalg.norm(c_v, 2))
    return 2.0 * size / g**2
