"""The exact gradient of an eigh loss (eigh_losses.py) at a real symmetric A, from A's float64 eigh.

A loss L is a function on symmetric matrices; its gradient G is the symmetric matrix with
dL = <G, dA> for every symmetric dA (a framework's answer is judged by its symmetric part: what it
adds off the symmetric subspace only says which triangle it reads; docs/theory.md). With A = Q diag(w) Q^T:

- tr f(A) (eigsum, logdet, entropy): G = Q diag(f'(w)) Q^T, unique even at ties (Lewis 1996: a
  spectral function is differentiable iff its symmetric f is); its derivative is the Daleckii-Krein
  Schur product with the first divided differences f'[w_i, w_j], whose largest entry is ||DG||_2.
- the sum of the K lowest (highest) eigenvalues: tr of an indicator; G = Q_S Q_S^T for the selected
  set S when the gap at its edge is open, ||DG||_2 = 1/gap. At a tie across the edge (block T of t
  eigenvalues, r of them selected) it is concave (convex) and not differentiable: its super- (sub-)
  differential is {Q_S' Q_S'^T + Q_T W Q_T^T : 0 <= W <= I, tr W = r} (Lewis 1995, Overton and Womersley
  1993), whose minimum-norm member has W = (r/t) I (eigh_membership.py measures the distance to it).
- w_K: G = q_K q_K^T iff w_K is simple (||DG||_2 = 1/min gap); else undefined.
- <Cs, Q diag(d) Q^T> (proj:K with d the indicator of the K lowest, vec with d drawn, expm with
  d = e^w): by the Daleckii-Krein formula G = Q (Gamma o Q^T Cs Q) Q^T with Gamma_ij = (d_i - d_j)/(w_i -
  w_j), 0 where d_i = d_j for proj and vec, defined iff no tie separates different d (proj:K: iff
  w_K < w_{K+1}); for expm, exp(A) is smooth and Gamma_ij = e^{w_i} at ties (Higham 2008, Thm 3.11).
- the user's cotangents (wq): Giles' reverse-mode rule, defined iff they do not depend on the gauge
  of eigh (eigh_cotangent.py).

Eigenvalues closer than TIE_FACTOR * n * eps * ||A||_2 are tied: float64 cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics import eigh_cotangent
from svdgrad_cli.numerics.budget import gradient_scale
from svdgrad_cli.numerics.eigh_losses import SPECTRAL, EighLoss
from svdgrad_cli.numerics.field import adjoint
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference_result import MPMATH

OVERFLOW = float(np.log(np.finfo(np.float64).max))  # e^w is not a float64 above this
TIE_FACTOR = 4.0  # ties: gaps within TIE_FACTOR * n * eps(float64) * ||A||_2 (LAPACK's eigenvalue error)


@dataclass(frozen=True)
class EighReference:
    """The reference of one matrix and loss. ``gradient`` is the gradient when unique, the
    minimum-norm member of the gradient set when not, None where the loss has none (``defined``
    False, ``method`` says why). The remaining fields serve budget.py (make_budget)."""

    eigenvalues: np.ndarray
    vectors: np.ndarray
    gradient: np.ndarray | None
    unique: bool
    defined: bool
    method: str
    hessian_norm: float = 0.0  # ||DG||_2, the conditioning of G (1/gap, divided differences)
    edge: tuple[np.ndarray, np.ndarray, int] | None = None  # (fixed selected, tie block, r) of a set
    precision: str = "float64"
    natural_scale: float = 0.0
    ball_radius: float | None = None
    refined = False
    overflows: bool = False  # the loss itself is not a float64 (expm of a large w): nothing decides
    clusters: np.ndarray | None = None  # wq: the mask of the cotangent's clusters (eigh_cotangent.py)

    @property
    def gradient_norm(self) -> float | None:
        return None if self.gradient is None else frobenius(self.gradient)

    @property
    def matrix_norm(self) -> float:
        return float(np.max(np.abs(self.eigenvalues))) if len(self.eigenvalues) else 0.0

    @property
    def high_precision(self) -> bool:
        """Whether mpmath computed the gradient (eigh_highprec.py): its own error is negligible."""
        return self.precision.startswith(MPMATH)

    @property
    def condition(self) -> float:
        """||A||_2 ||DG||_2 / ||G||_F (budget.py's scale): the gradient's relative condition number."""
        scale = gradient_scale(self)
        return self.matrix_norm * self.hessian_norm / scale if scale else float("inf")


def tie_tolerance(w: np.ndarray) -> float:
    """Gaps below this are ties in float64."""
    return TIE_FACTOR * len(w) * np.finfo(np.float64).eps * float(np.max(np.abs(w), initial=0.0))


def _spectral_derivatives(kind: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(f'(w), the matrix of divided differences f'[w_i, w_j]) of tr f, or None outside f's domain."""
    if kind == "eigsum":
        return np.ones_like(w), np.zeros((len(w), len(w)))
    if np.any(w <= 0):
        return None
    first = 1 / w if kind == "logdet" else -(np.log(w) + 1)
    second = -1 / w**2 if kind == "logdet" else -1 / w
    gap = w[:, None] - w[None, :]
    close = np.abs(gap) <= tie_tolerance(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        divided = np.where(
            close, (second[:, None] + second[None, :]) / 2, (first[:, None] - first[None, :]) / gap
        )
    return first, divided


def _spectral(loss: EighLoss, w, q) -> EighReference:
    derivatives = _spectral_derivatives(loss.kind, w)
    if derivatives is None:
        reason = f"{loss.name} needs A positive definite; its least eigenvalue is {w[0]:.3g}"
        return EighReference(w, q, None, True, False, reason)
    first, divided = derivatives
    gradient = (q * first) @ adjoint(q)
    method = "Q diag(f'(w)) Q^T (Lewis 1996), unique at ties"
    return EighReference(w, q, gradient, True, True, method, float(np.max(np.abs(divided))))


def selection(loss: EighLoss, n: int) -> np.ndarray:
    """The indices a sum of eigenvalues selects (ascending order)."""
    k = loss.order or 0
    return (
        np.arange(k - 1, k)
        if loss.kind == "eig"
        else (np.arange(k) if loss.kind == "lowk" else np.arange(n - k, n))
    )


def _edge_gap(w: np.ndarray, chosen: np.ndarray) -> float:
    """The least gap between a selected and an unselected eigenvalue (inf if all are selected)."""
    other = np.setdiff1d(np.arange(len(w)), chosen)
    if len(other) == 0:
        return float("inf")
    return float(np.min(np.abs(w[chosen][:, None] - w[other][None, :])))


def _eigenvalue_sum(loss: EighLoss, w, q) -> EighReference:
    chosen = selection(loss, len(w))
    gap = _edge_gap(w, chosen)
    if gap > tie_tolerance(w):
        hessian = 0.0 if gap == float("inf") else 1 / gap
        gradient = q[:, chosen] @ adjoint(q[:, chosen])
        return EighReference(
            w, q, gradient, True, True, "Q_S Q_S^T: the gap at the selection's edge is open", hessian
        )
    if loss.kind == "eig":
        reason = f"w_{loss.order} = {w[chosen[0]]:.6g} is a multiple eigenvalue: it has no gradient"
        return EighReference(w, q, None, False, False, reason)
    return _edge_set(loss, w, q, chosen)


def _edge_set(loss: EighLoss, w, q, chosen) -> EighReference:
    """The sub/superdifferential of a sum of eigenvalues whose selection cuts a tie, by its
    minimum-norm member (see the module docstring)."""
    edge_value = w[chosen[0]] if loss.kind == "topk" else w[chosen[-1]]
    block = np.flatnonzero(np.abs(w - edge_value) <= tie_tolerance(w))
    fixed = np.setdiff1d(chosen, block)
    r = len(np.intersect1d(chosen, block))
    gradient = q[:, fixed] @ adjoint(q[:, fixed]) + (r / len(block)) * (q[:, block] @ adjoint(q[:, block]))
    outside = np.setdiff1d(np.arange(len(w)), block)
    near = np.min(np.abs(w[block][:, None] - w[outside][None, :])) if len(outside) else np.inf
    hessian = 0.0 if not np.isfinite(near) else 1 / near
    kind = "superdifferential" if loss.kind == "lowk" else "subdifferential"
    method = f"{kind}: a tie of {len(block)} eigenvalues crosses the edge of the {loss.order} selected"
    return EighReference(w, q, gradient, False, True, method, hessian, (fixed, block, r))


def _divided_differences(loss: EighLoss, w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Gamma_ij = (d_i - d_j)/(w_i - w_j): for expm (d = e^w) e^w_i on the diagonal and at ties;
    for proj/vec (d not a function of w) 0 where d_i = d_j (the caller refuses ties between others)."""
    gap = w[:, None] - w[None, :]
    tied = np.abs(gap) <= tie_tolerance(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        if loss.kind == "expm":  # e^max(a,b) (1 - e^-|a-b|)/|a-b|: no cancellation, no inf * 0
            top, spread = np.maximum(w[:, None], w[None, :]), np.abs(gap)
            midpoint = np.exp((w[:, None] + w[None, :]) / 2)  # the tie limit, to O(gap^2)
            return np.where(tied, midpoint, np.exp(top) * -np.expm1(-spread) / spread)
        divided = (d[:, None] - d[None, :]) / gap
    return np.where(d[:, None] != d[None, :], divided, 0.0)


def _weighted_projector(loss: EighLoss, w, q) -> EighReference:
    if loss.kind == "expm" and np.max(w) > OVERFLOW:
        reason = f"the loss overflows float64: e^w_max = e^{np.max(w):.6g} > {np.finfo(float).max:.3g}"
        return EighReference(w, q, None, False, False, reason, overflows=True)
    d = loss.vector_weights(w)
    tied = np.abs(w[:, None] - w[None, :]) <= tie_tolerance(w)
    separated = d[:, None] != d[None, :]
    clash = np.argwhere(np.triu(separated & tied, 1)) if loss.kind != "expm" else np.empty((0, 2), int)
    if len(clash):
        i, j = clash[0]
        reason = f"w_{i + 1} = w_{j + 1} = {w[i]:.6g} tie where {loss.name} tells their eigenvectors apart"
        return EighReference(w, q, None, False, False, reason)
    gamma = _divided_differences(loss, w, d)
    m = adjoint(q) @ loss.weight_matrix() @ q
    gradient = q @ (gamma * m) @ adjoint(q)
    method = "Q (Gamma o Q^T C Q) Q^T, Gamma the divided differences (Daleckii-Krein)"
    natural = float(np.max(np.abs(gamma * m)))
    return EighReference(
        w, q, gradient, True, True, method, _second_order(loss, w, d, m), natural_scale=natural
    )


def _second_order(loss: EighLoss, w, d, m) -> float:
    """||DG||_2 estimated as 2 ||M||_2 times the largest second divided difference of d: e^{w_n}/2
    for expm; for proj/vec, max |Gamma| / the least gap between eigenvalues of different d."""
    norm = float(np.linalg.norm(m, 2))
    if loss.kind == "expm":
        return norm * float(np.exp(np.max(w)))
    different = d[:, None] != d[None, :]
    if not np.any(different):
        return 0.0
    gaps = np.abs(w[:, None] - w[None, :])[different]
    gamma = np.abs(d[:, None] - d[None, :])[different] / gaps
    return 2 * norm * float(np.max(gamma)) / float(np.min(gaps))


def _cotangent(loss: EighLoss, w, q, eps: float) -> EighReference:
    """The user's cotangents (C_w, C_Q): Giles' rule where no gauge of eigh moves them
    (eigh_cotangent.py), else undefined with the freedoms they depend on."""
    c_w = loss.arrays.get("C_w", np.zeros(len(w)))
    c_q = loss.arrays.get("C_Q", np.zeros_like(q))
    problems = eigh_cotangent.gauge_problems(w, q, c_w, c_q, tie_tolerance(w), eps)
    if problems:  # the backends still differentiate the loss anchored at the ties
        ties = eigh_cotangent.cluster_mask(eigh_cotangent.tie_groups(w, tie_tolerance(w)), len(w))
        return EighReference(w, q, None, False, False, "; ".join(problems), clusters=ties)
    groups = eigh_cotangent.invariant_groups(w, q, c_q, tie_tolerance(w), eps)
    same = eigh_cotangent.cluster_mask(groups, len(w))
    inner = eigh_cotangent.inner_matrix(w, q, c_w, c_q, same)
    method = "Q herm(diag(C_w) + F o Q^H C_Q) Q^H, F_ij = 1/(w_j - w_i) across clusters (Giles 2008)"
    if "C_Q" in loss.arrays and any(len(group) > 1 for group in groups):
        method += "; for a loss reading each cluster's eigenvectors through its projector"
    hessian = eigh_cotangent.conditioning(w, inner, c_w, c_q, same)
    gradient = q @ inner @ adjoint(q)
    return EighReference(w, q, gradient, True, True, method, hessian, clusters=same)


def eigh_reference(a: np.ndarray, loss: EighLoss) -> EighReference:
    """The reference of ``loss`` at the symmetric matrix ``a`` (float64 eigh)."""
    w, q = np.linalg.eigh(np.asarray(a, dtype=np.complex128 if np.iscomplexobj(a) else np.float64))
    return reference_from(w, q, loss, float(np.finfo(a.dtype).eps))


def reference_from(w: np.ndarray, q: np.ndarray, loss: EighLoss, eps: float) -> EighReference:
    """The reference of ``loss`` read off an eigendecomposition Q diag(w) Q^H (w ascending, float64);
    ``eps``: the input's machine epsilon (what a user's cotangent is rounded to, eigh_cotangent.py)."""
    if loss.kind == "wq":
        return _cotangent(loss, w, q, eps)
    if loss.kind in SPECTRAL:
        return _spectral(loss, w, q)
    if loss.kind in ("eig", "lowk", "topk"):
        return _eigenvalue_sum(loss, w, q)
    return _weighted_projector(loss, w, q)
