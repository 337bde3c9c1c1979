"""The exact Hessian-vector product H(A)[E] = d/dt G(A + tE) of a loss, where it exists (issue 25).

The HVP exists where the gradient is differentiable (docs/theory.md §2, §11a):

- Losses of s, sum_i w_i s_i (Lewis and Sendov 2001, twice differentiable spectral functions): G is
  differentiable at A iff it is unique there (w constant on every tie cluster, zero on the zero
  cluster; reference.py's ``is_unique``), since then f(x) = sum w_i |x|_[i] is linear near s(A).
  So ``sum`` at a tie of non-zero values is smooth (G = U V^T, the polar factor, analytic at full
  rank) and at a zero singular value it is not. In the SVD basis, with E^ = U^T E V (thin), the
  symmetric part S and antisymmetric part K of E^:

      H[E] = U M V^T + (I - U U^T) E V diag(w / s) V^T + U diag(w / s) U^T E (I - V V^T),
      M_ij = (w_i - w_j) / (s_i - s_j) S_ij + (w_i + w_j) / (s_i + s_j) K_ij,

  the first divided differences of f on the dilation's eigenvalues +-s_i (Daleckii and Krein;
  Bhatia, Matrix Analysis, Theorem V.3.3). Pairs on one piece of f (w_i = w_j, or w_i + w_j = 0)
  have no term: no division by a gap that the loss does not have. conditioning.py's eigenvalues
  are this map's, in the same basis.
- ``polar`` and ``proj:K``: dilation.py's exact operator (``DilationHessian.apply``); polar needs full
  rank (U V^T jumps at a zero singular value), proj:K a gap s_K > s_K+1 (the gauge analysis).
- ``recon``, G = A / ||A||_F: H[E] = (E - G <G, E>) / ||A||_F, undefined at A = 0.
- ``uv`` has no gradient anywhere it depends on signs, hence no HVP.

Computed on A scaled by a power of two (svd.py), so that 2^k A gives exactly 2^(k(d - 1)) times the
HVP of A, d the gradient's degree (losses.py). Real input only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.conditioning import dilation_hessian
from svdgrad_cli.numerics.gradients import masked_divide
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import averaged_weights, is_unique
from svdgrad_cli.numerics.spectrum import Spectrum, analyse_spectrum
from svdgrad_cli.numerics.svd import ScaledSVD, stack_svd, thin_svd

SECANT_FRACTION = 1e-3  # the sensitivity's secant step, as a fraction of the smallest gap the HVP divides by
RANDOM_PROBES = 2  # random directions of the sensitivity besides the closest pair's


def spectral_hvp(u: np.ndarray, s: np.ndarray, v: np.ndarray, w: np.ndarray, e: np.ndarray) -> np.ndarray:
    """H[E] of sum_i w_i s_i at A = U diag(s) V^T (thin; w constant on clusters and 0 on zeros)."""
    m, k = u.shape
    n = v.shape[0]
    e_hat = u.T @ e @ v
    sym, anti = (e_hat + e_hat.T) / 2, (e_hat - e_hat.T) / 2
    across = masked_divide(w[:, None] - w[None, :], s[:, None] - s[None, :], w[:, None] != w[None, :])
    along = masked_divide(w[:, None] + w[None, :], s[:, None] + s[None, :], w[:, None] + w[None, :] != 0)
    h = u @ (across * sym + along * anti) @ v.T
    ratio = masked_divide(w, s, w != 0)
    if m > k:
        ev = e @ v
        h = h + ((ev - u @ (u.T @ ev)) * ratio) @ v.T
    if n > k:
        ue = u.T @ e
        h = h + (u * ratio) @ (ue - (ue @ v) @ v.T)
    return h


def _why_spectral_not_twice(loss, spectrum: Spectrum) -> str | None:
    """As ``_why_not_twice`` for a loss of the singular values only."""
    weights = loss.weights(len(spectrum.values))
    if is_unique(spectrum, weights):
        return None
    if spectrum.zeros and weights[list(spectrum.zeros)].any():
        return f"{loss.name} has a zero singular value: its gradient is a set there, not differentiable"
    return f"{loss.name} separates tied singular values: its gradient is a set there, not differentiable"


def _why_not_twice(loss, spectrum: Spectrum, svd: ScaledSVD) -> str | None:
    """Why the gradient of ``loss`` is not differentiable at this matrix, or None where it is."""
    if not loss.needs_vectors:
        return _why_spectral_not_twice(loss, spectrum)
    if loss.kind == "uv":
        return "uv depends on the signs of the singular pairs: no gradient, hence no HVP"
    if loss.kind == "recon":
        return None if spectrum.top > 0 else "recon = ||A||_F at A = 0: not differentiable"
    if loss.kind == "polar" and spectrum.zeros:
        return "polar: U V^T jumps at a zero singular value; no HVP"
    if loss.kind == "proj" and loss.order < len(spectrum.values):
        cut = spectrum.cluster_ids()
        if cut[loss.order - 1] == cut[loss.order]:
            return f"proj:{loss.order}: s_{loss.order} = s_{loss.order + 1}, the subspace is not determined"
    return None


def _scaled_hvp(loss, svd: ScaledSVD, spectrum: Spectrum, e: np.ndarray) -> np.ndarray:
    """H[E] at the scaled matrix U diag(s) V^T (the one svd.py factors)."""
    u, s, v = svd.u, svd.s, svd.v
    if not loss.needs_vectors:
        return spectral_hvp(u, s, v, averaged_weights(spectrum, loss.weights(len(s))), e)
    if loss.kind == "recon":
        norm = frobenius(s)
        g = (u * (s / norm)) @ v.T
        return (e - g * np.sum(g * e)) / norm
    return dilation_hessian(loss, u, s, v, spectrum).apply(e)


def smallest_divisor(loss, s: np.ndarray, spectrum: Spectrum) -> float:
    """The smallest gap or value the HVP divides by: between values the loss tells apart
    (losses.py's ``separates``), s_i + s_j and s_i of the positive values; the secant's scale."""
    positive = s[s > 0]
    candidates = [*positive]
    k = len(s)
    for i in range(k):
        for j in range(i + 1, k):
            if loss.separates(i, j, k) and s[i] > s[j]:
                candidates.append(s[i] - s[j])
    return float(min(candidates, default=1.0))


def _probe_directions(svd: ScaledSVD, rng: np.random.Generator) -> list[np.ndarray]:
    """Unit directions for the sensitivity: along the closest pair of singular values (where the
    HVP moves fastest near a tie), along the smallest value, and random ones."""
    u, s, v = svd.u, svd.s, svd.v
    directions = [np.outer(u[:, -1], v[:, -1])]
    if len(s) > 1:
        i = int(np.argmin(s[:-1] - s[1:]))
        directions += [np.outer(u[:, i], v[:, i + 1]), np.outer(u[:, i + 1], v[:, i])]
    directions += [rng.standard_normal((len(u), len(v))) for _ in range(RANDOM_PROBES)]
    return [d / frobenius(d) for d in directions]


def hvp_sensitivity(loss, svd: ScaledSVD, spectrum: Spectrum, e: np.ndarray, seed: int) -> float:
    """||D_A H(A)[E]||_2, estimated from below by central secants of the exact HVP along a few unit
    directions, each step a small fraction of the smallest gap the HVP divides by (so the secant
    stays on one smooth piece), at the scaled matrix."""
    a = (svd.u * svd.s) @ svd.v.T
    step = SECANT_FRACTION * smallest_divisor(loss, svd.s, spectrum)
    largest = 0.0
    for d in _probe_directions(svd, np.random.default_rng((seed, 25))):
        ends = []
        for sign in (1, -1):
            moved = ScaledSVD(*thin_svd(a + sign * step * d), 0)
            near = analyse_spectrum(moved.values, a.shape, spectrum.zero_tol)
            ends.append(_scaled_hvp(loss, moved, _same_pieces(spectrum, near), e))
        largest = max(largest, frobenius(ends[0] - ends[1]) / (2 * step))
    return largest


def _same_pieces(spectrum: Spectrum, near: Spectrum) -> Spectrum:
    """The structure of A carried to a point within a fraction of its gaps: the same clusters and zeros
    (the secant must not cross onto another piece; tied values part by less than the tolerance)."""
    return Spectrum(near.values, near.shape, spectrum.zero_tol, spectrum.clusters, spectrum.zeros)


@dataclass(frozen=True)
class HvpReference:
    """The exact HVP of one loss at one matrix along one direction, or why there is none."""

    value: np.ndarray | None  # H(A)[E]; None where the gradient is not differentiable
    reason: str  # what the value is, or why it does not exist
    sensitivity: float = 0.0  # ||D_A H(A)[E]||_2: how fast the HVP moves with A (budgets)
    matrix_norm: float = 0.0  # ||A||_2

    @property
    def defined(self) -> bool:
        return self.value is not None


def reference_hvp(a: np.ndarray, loss, e: np.ndarray, zero_tol: float, seed: int = 0) -> HvpReference:
    """H(A)[E] in float64 for a real matrix ``a`` (``loss`` bound to its shape) and direction ``e``."""
    svd = stack_svd(np.asarray(a, dtype=np.float64)[None])[0]
    spectrum = analyse_spectrum(svd.values, svd.u.shape[:1] + svd.v.shape[:1], zero_tol)
    norm = float(spectrum.top)
    why = _why_not_twice(loss, spectrum, svd)
    if why is not None:
        return HvpReference(None, "undefined: " + why, matrix_norm=norm)
    e = np.asarray(e, dtype=np.float64)
    degree = loss.gradient_degree  # G(2^x A) = 2^(x d) G(A): H has degree d - 1, its derivative d - 2
    with np.errstate(all="ignore"):
        value = np.ldexp(_scaled_hvp(loss, svd, spectrum, e), svd.exponent * (degree - 1))
        moves = np.ldexp(hvp_sensitivity(loss, svd, spectrum, e, seed), svd.exponent * (degree - 2))
    if not np.all(np.isfinite(value)):
        return HvpReference(None, "undefined: the HVP overflows float64 at this scale", matrix_norm=norm)
    text = "exact HVP: divided differences in the SVD basis (Lewis and Sendov; Daleckii and Krein)"
    return HvpReference(value, text, float(moves), norm)
