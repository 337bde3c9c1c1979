"""The truncated SVD map: the exact gradient of a loss of the top K triplets, and what a truncated
adjoint drops (docs/theory.md §11b).

A loss L(U_K, s_K, V_K) of the K leading singular triplets is a function of A through the full
decomposition: moving A turns u_i (i <= K) towards every u_j, kept or not. With the cotangents of
the kept columns and zeros for the discarded ones, the reverse-mode rule of the full thin SVD
(Townsend 2016; Giles 2008) is the exact gradient of the truncated map; for i <= K < j its coupling
is, with a = u_j^H ubar_i and b = v_j^H vbar_i,

    coefficient of u_j v_i^H:  (a s_i + b s_j) / (s_i^2 - s_j^2),
    coefficient of u_i v_j^H:  (a s_j + b s_i) / (s_i^2 - s_j^2),

and the complement of the full thin bases (m != n) carries (I - U U^H) Ubar S^-1 V^H and
U S^-1 Vbar^H (I - V V^H). The *naive truncated adjoint*, the thin rule applied to the K returned
factors as if they were the whole decomposition, writes a / s_i for the first and b / s_i for the
second: its error there is (a s_j^2 / s_i + b s_j) / (s_i^2 - s_j^2) and (a s_j + b s_j^2 / s_i) /
(s_i^2 - s_j^2), of relative size about s_j / s_i. It vanishes where the discarded values are zero
and grows with the discarded weight (Francuz et al., Phys. Rev. Research 7,
013237, 2025, arXiv:2311.11894). Where s_K = s_{K+1} the truncated map has no derivative for a
loss that depends on the K-th vectors (the gauge test of gauge.py sees the cluster across the cut).

Closed forms used by the reference (free of any 1/(s_i - s_j) the loss does not have):

- ``polar:K``, <C, U_K V_K^H>: the polar loss with weights f_i = [i <= K] (a spectral function of the
  dilation, f = sign on the top K): with X = U^H C V, sym X = (X + X^H)/2, skew X = (X - X^H)/2,

      G = U [ (f_i - f_j)/(s_i - s_j) (sym X)_ij + (f_i + f_j)/(s_i + s_j) (skew X)_ij ] V^H
          + (I - U U^H) C V_K S_K^-1 V_K^H + U_K S_K^-1 U_K^H C (I - V V^H);

  with K = k it is gradients.polar_gradient;
- ``recon:K``, ||U_K S_K V_K^H||_F = ||s_K||: a spectral function, G = U_K diag(s_K / ||s_K||) V_K^H,
  whose Hessian has (w_i - w_j)/(s_i - s_j) = s_i / (||s_K|| (s_i - s_{j})) across the cut (Lewis and
  Sendov 2001): the conditioning 1/(s_K - s_{K+1}) of every truncated loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.field import adjoint, scale_by_power_of_two, working
from svdgrad_cli.numerics.gradients import masked_divide, spectral_gradient
from svdgrad_cli.numerics.spectrum import Spectrum, span

# The backward pass drops the truncation coupling when its error is this close to the dropped term.
DROPPED_MATCH = 0.1


def polar_top_gradient(u, s, v, c, order: int, zero: np.ndarray):
    """The gradient of <C, U_K V_K^H>, K = ``order`` (module docstring); ``zero`` marks zero values.
    Only +, -, *, /, @ and adjoints: runs on float64, complex128 and mpmath object arrays."""
    m, k = u.shape
    n = v.shape[0]
    x = adjoint(u) @ c @ v
    f = (np.arange(k) < order) & ~zero
    ff = f.astype(int)
    across = ff[:, None] - ff[None, :]  # f_i - f_j
    along = ff[:, None] + ff[None, :]  # f_i + f_j
    positive = ~zero
    sums = positive[:, None] | positive[None, :]
    sym, skew = (x + adjoint(x)) / 2, (x - adjoint(x)) / 2
    j = masked_divide(across * sym, s[:, None] - s[None, :], across != 0)
    j = j + masked_divide(along * skew, s[:, None] + s[None, :], (along != 0) & sums)
    g = u @ j @ adjoint(v)
    top = np.flatnonzero(f)
    u_k, v_k, s_k = u[:, top], v[:, top], s[top]
    if m > k:
        cv = c @ v_k
        g = g + ((cv - u @ (adjoint(u) @ cv)) / s_k) @ adjoint(v_k)
    if n > k:
        uc = adjoint(u_k) @ c
        g = g + (u_k / s_k) @ (uc - (uc @ v) @ adjoint(v))
    return g


def recon_top_weights(s, order: int):
    """w with G = U diag(w) V^H for ||s_K||: s_i / ||s_K|| on the top K, 0 beyond (``s`` scaled so
    that squaring it cannot overflow; the reference scales A by a power of two)."""
    top = s[:order]
    norm = np.sum(top * top) ** 0.5  # ** 0.5: also on mpmath numbers
    w = np.zeros(len(s), dtype=s.dtype)
    w[:order] = top / norm
    return w


def recon_top_gradient(u, s, v, order: int):
    """The gradient of ||U_K S_K V_K^H||_F = ||s_K||."""
    return spectral_gradient(u, v, recon_top_weights(s, order))


def top_gradient(loss, u, s, v, zero: np.ndarray):
    """The reference gradient of polar:K or recon:K (a loss with an order below the full count)."""
    if loss.kind == "polar":
        return polar_top_gradient(u, s, v, loss.arrays["C"], loss.order, zero)
    return recon_top_gradient(u, s, v, loss.order)


def missing_triplets(loss, shape: tuple[int, int], kept: int) -> str | None:
    """Why a backend that returned ``kept`` leading triplets cannot be judged on ``loss`` (it needs
    more), or None where it can."""
    needed = loss.triplets(shape)
    if kept >= needed:
        return None
    kind = {"sum": "topk", "uv": None}.get(loss.kind, loss.kind)
    hint = f" (a loss of the top {kept}, e.g. {kind}:{kept}, can be)" if kind else ""
    return (
        f"returns {kept} of {min(shape)} singular triplets; loss {loss.name} needs {needed}, so it "
        f"cannot be judged{hint}"
    )


def cut_problems(s_bar: np.ndarray, spectrum: Spectrum) -> list[str]:
    """A sentence per tied cluster that the cut of a truncated loss splits: it weights some of its
    values and not the others (recon:K with s_K = s_{K+1}), where the sorted values are not
    differentiable, so neither is the loss (Lewis 1995). The gauge test (gauge.py) covers the vectors;
    this covers s. (Unequal non-zero weights inside a cluster, recon's s_i / ||s|| at a numerical tie,
    differ by the tie's width only and are no cut.)"""
    problems = []
    for cluster in spectrum.clusters:
        kept = s_bar[list(cluster)] != 0
        if kept.any() and not kept.all():
            problems.append(
                f"{span(cluster)} are tied and the loss keeps only some of them: the cut falls inside "
                "the multiplet, where the truncated map has no derivative"
            )
    return problems


def thin_rule(u, s, v, u_bar, s_bar, v_bar):
    """The reverse-mode rule of the thin SVD on the factors given (Townsend 2016, partial fractions
    as docs/theory.md §3), as if they were the whole decomposition: applied to K < k factors this is
    the naive truncated adjoint. Pairs whose sum or difference is zero are left out (masked)."""
    k_u = adjoint(u) @ u_bar - adjoint(u_bar) @ u
    k_v = adjoint(v) @ v_bar - adjoint(v_bar) @ v
    differences = s[None, :] - s[:, None]
    sums = s[None, :] + s[:, None]
    j = masked_divide((k_u + k_v) / 2, differences, differences != 0)
    j = j + masked_divide((k_u - k_v) / 2, sums, sums != 0)
    j = j - np.diag(np.diag(j)) + np.diag(s_bar.astype(j.dtype))
    inverse = masked_divide(np.ones_like(s), s, s != 0)
    g = u @ j @ adjoint(v)
    g = g + ((u_bar - u @ (adjoint(u) @ u_bar)) * inverse) @ adjoint(v)
    return g + (u * inverse) @ adjoint(v_bar - v @ (adjoint(v) @ v_bar))


def naive_gradient(loss, u, s, v, cut: int):
    """The naive truncated adjoint of ``loss`` at the first ``cut`` factors of a thin SVD (for a loss
    of s, U_K diag(w) V_K^T: exact, as no vector is differentiated)."""
    if not loss.needs_vectors:
        return spectral_gradient(u[:, :cut], v[:, :cut], loss.weights(len(s))[:cut])
    u_bar, s_bar, v_bar = loss.cotangents(u, s, v)
    return thin_rule(u[:, :cut], s[:cut], v[:, :cut], u_bar[:, :cut], s_bar[:cut], v_bar[:, :cut])


@dataclass(frozen=True)
class TruncationParts:
    """ΔG split at the cut k (0-based blocks of U^H ΔG V in the full thin bases of A, and the rest):
    Frobenius norms of the kept-kept block, the kept-discarded blocks (the truncation coupling), the
    discarded-discarded block and the complement of the thin bases; ``dropped`` is the size of the
    term the naive truncated adjoint drops, where ΔG is that term (else None)."""

    cut: int
    kept: float
    truncation: float
    discarded: float
    complement: float
    dropped: float | None = None

    @property
    def total(self) -> float:
        return float(np.sqrt(self.kept**2 + self.truncation**2 + self.discarded**2 + self.complement**2))


def truncation_parts(gradient, reference, loss, svd, cut: int) -> TruncationParts:
    """ΔG = gradient - reference split at ``cut`` (TruncationParts), ``svd`` the scaled thin SVD of A
    (svd.py), and whether ΔG is the naive truncated adjoint's error G_naive - G_ref to within
    DROPPED_MATCH of its size: then the backward pass drops the truncation coupling."""
    delta = working(gradient) - working(reference)
    x = adjoint(svd.u) @ delta @ svd.v
    inside = float(np.linalg.norm(x))
    norm = float(np.linalg.norm(delta))
    blocks = (x[:cut, :cut], np.concatenate([x[:cut, cut:].ravel(), x[cut:, :cut].ravel()]), x[cut:, cut:])
    kept, truncation, discarded = (float(np.linalg.norm(b)) for b in blocks)
    complement = float(np.sqrt(max(norm**2 - inside**2, 0.0)))
    naive = scale_by_power_of_two(
        naive_gradient(loss, svd.u, svd.s, svd.v, cut), svd.exponent * loss.gradient_degree
    )
    dropped_term = naive - working(reference)
    matches = np.linalg.norm(delta - dropped_term) <= DROPPED_MATCH * norm
    dropped = float(np.linalg.norm(dropped_term)) if matches and norm else None
    return TruncationParts(cut, kept, truncation, discarded, complement, dropped)
