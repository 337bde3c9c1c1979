"""How sensitive the true gradient is: ||DG||_2, the operator norm of the loss's Hessian (docs/theory.md §5).

This, not any framework's formula, sets the error budget (budget.py): a backward-stable evaluation
computes the exact gradient of a matrix within a rounding of A, so it errs by about ||A||_2 ||DG||_2
times eps.

- Losses of s, sum_i w_i s_i (Lewis and Sendov 2001, twice differentiable spectral functions): in the
  SVD basis the Hessian is diagonal, with eigenvalues (w_i - w_j) / (s_i - s_j) on the symmetric and
  (w_i + w_j) / (s_i + s_j) on the antisymmetric part of each pair, and w_i / s_i on the rectangular
  rest; on complex input also w_i / s_i along the phase of each pair, i u_i v_i^H (docs/theory.md
  §9). Where the gradient is a set, the directions that only move inside the set are left out
  (the first kind inside a tie cluster, both kinds inside the zero cluster), as membership.py
  measures distances to the whole set.
- ``recon``, G = A / ||A||_F: DG = (I - G G^T) / ||A||_F, so ||DG||_2 = 1 / ||A||_F.
- ``polar`` and ``proj:K``: power iteration on exact Hessian-vector products (dilation.py), which
  stay exact at near ties (a secant across a gap far below sqrt(eps) would not).

Also the root mean square of ||DG[E]||_F over random unit directions E, ||DG||_F / sqrt(dim): what
rounding in typical directions would excite. bench/budget_tightness.py measures the frameworks'
errors in both units; they follow ||DG||_2, which is why budgets use it (docs/theory.md §5).

Also here: the natural scale of a gradient, the least size of the terms of its closed form
(||C||_F / s_1), which stands in for ||G||_F where they cancel (proj:K with K = k has G = 0 everywhere).
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.dilation import polar_hessian, projector_hessian
from svdgrad_cli.numerics.field import adjoint, is_complex
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.numerics.truncated import recon_top_weights
from svdgrad_cli.numerics.uv_cotangent import uv_hessian_norm


def _spectral_hessian_eigenvalues(s: np.ndarray, w: np.ndarray, spectrum: Spectrum):
    """|eigenvalues| of the Hessian of sum w_i s_i over the directions that leave the set, by kind:
    |w_i - w_j| / |s_i - s_j| across and (w_i + w_j) / (s_i + s_j) along each pair i < j (not two
    zeros; across only between clusters), and |w_i| / s_i of each non-zero value (rectangular and
    phase directions)."""
    cluster = spectrum.cluster_ids()
    zero = spectrum.zero_mask()
    # each pair i < j once, without pairs of zeros (both kinds of direction stay in the set)
    pairs = np.triu(~(zero[:, None] & zero[None, :]), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        across = np.abs(w[:, None] - w[None, :]) / np.abs(s[:, None] - s[None, :])
        along = np.abs(w[:, None] + w[None, :]) / (s[:, None] + s[None, :])
        rect = np.abs(w[~zero]) / s[~zero]
    across = across[pairs & (cluster[:, None] != cluster[None, :])]
    return tuple(np.nan_to_num(values, nan=0.0) for values in (across, along[pairs], rect))


def spectral_hessian_norm(s: np.ndarray, w: np.ndarray, spectrum: Spectrum, phases: bool = False) -> float:
    """max |eigenvalue| of the Hessian of sum w_i s_i, over the directions that leave the set
    (``phases``: complex input, whose phase directions add w_i / s_i)."""
    across, along, rect = _spectral_hessian_eigenvalues(s, w, spectrum)
    rectangular = spectrum.shape[0] != spectrum.shape[1]
    values = np.concatenate([across, along, rect if rectangular or phases else np.zeros(0)])
    return float(np.max(values, initial=0.0))


def spectral_hessian_rms(s: np.ndarray, w: np.ndarray, spectrum: Spectrum, phases: bool = False) -> float:
    """The root mean square of ||DG[E]||_F over unit directions E, ||DG||_F / sqrt(dim) (what rounding in
    random directions would excite; bench/budget_tightness.py compares it with ||DG||_2), from the same
    eigenvalues as spectral_hessian_norm counted with their multiplicity (real input: one per pair and
    kind, m + n - 2k per rectangular value; complex input twice that, and one per phase direction)."""
    m, n = spectrum.shape
    across, along, rect = _spectral_hessian_eigenvalues(s, w, spectrum)
    copies = 2 if phases else 1  # a complex pair spans four real directions, two of each kind
    squares = copies * (np.sum(across**2) + np.sum(along**2) + abs(m - n) * np.sum(rect**2))
    if phases:
        squares += np.sum(rect**2)  # the phase direction i u_i v_i^H of each positive value
    return float(np.sqrt(squares / (copies * m * n))) if m * n else 0.0


def dilation_hessian(loss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum):
    """The Hessian operator of polar or proj:K at one matrix (dilation.py)."""
    if loss.kind == "polar":  # polar:K: the top K only (truncated.py)
        return polar_hessian(u, s, v, loss.arrays["C"], spectrum.zero_mask(), loss.order)
    return projector_hessian(u, s, v, loss.arrays["C"], loss.order)


def vector_hessian_norm(
    loss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum, seed: int
) -> float:
    """||DG||_2 of a loss of U and V that has a gradient here (the gauge was checked)."""
    if loss.kind == "recon" and loss.order is not None:  # recon:K, a spectral function (truncated.py)
        return recon_top_hessian_norm(s, loss.order, spectrum)
    if loss.kind == "recon":
        return 1.0 / frobenius(s)
    if loss.kind == "proj" and loss.order >= len(u):  # U_K U_K^T = I: a constant loss, G = 0 everywhere
        return 0.0
    if loss.kind == "uv":
        return uv_hessian_norm(s, loss.arrays["C_U"], loss.arrays["C_V"], spectrum)
    return dilation_hessian(loss, u, s, v, spectrum).norm(np.random.default_rng(seed + 1))


def vector_hessian_rms(
    loss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum, seed: int
) -> float:
    """The root mean square of ||DG[E]||_F over unit directions E, for a loss of U and V that has a
    gradient here: what rounding in random directions would excite (bench/budget_tightness.py
    compares it with ||DG||_2)."""
    if loss.kind == "recon":  # DG = (I - g g^T) / ||A||_F with g = G / ||G||: rank dim - 1
        dim = u.shape[0] * v.shape[0] * (2 if is_complex(u) else 1)
        return float(np.sqrt((dim - 1) / dim)) / frobenius(s)
    if loss.kind == "proj" and loss.order >= len(u):
        return 0.0
    return dilation_hessian(loss, u, s, v, spectrum).rms(np.random.default_rng(seed + 2))


def natural_scale(loss, s: np.ndarray) -> float:
    """||C||_F / s_1 for polar, ||C + C^H||_F / s_1 for proj:K, (||C_U||_F + ||C_V||_F) / s_1 for uv
    (whose G is 0 on real input where it is defined): the least size of the terms of G,
    the scale of its rounding where they cancel (0 for the other losses, whose ||G|| never vanishes)."""
    if not len(s) or s[0] == 0:
        return 0.0
    if loss.kind == "polar":
        return frobenius(loss.arrays["C"]) / s[0]
    if loss.kind == "proj":
        c = loss.arrays["C"]
        return frobenius(c + adjoint(c)) / s[0]
    if loss.kind == "uv":
        return (frobenius(loss.arrays["C_U"]) + frobenius(loss.arrays["C_V"])) / s[0]
    return 0.0


def recon_top_hessian_norm(s: np.ndarray, order: int, spectrum) -> float:
    """||DG||_2 of ||s_K|| (Lewis and Sendov 2001): the spectral Hessian of the weights
    w = s_K / ||s_K|| (a function of s: its own derivative (I - w w^T) / ||s_K|| adds at most
    1 / ||s_K||)."""
    w = recon_top_weights(s, order)
    return spectral_hessian_norm(s, w, spectrum) + 1.0 / float(np.sqrt(np.sum(s[:order] ** 2)))
