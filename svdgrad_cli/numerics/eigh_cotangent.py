"""A user's cotangents of eigh (``--loss wq``, ``--cotangents``): when they give a gradient, which it is.

The user's model computes (w, Q) = eigh(A) and a loss f(w, Q) downstream; its cotangents are
C_w = df/dw (length n, real) and C_Q = df/dQ (n x n; complex for Hermitian A, field.py's convention
dL = Re <C_Q, dQ>), taken at the eigenvectors Q of A that NumPy's float64 (complex128) eigh returns:
a cotangent of Q means something only together with the Q it was taken at. With B = Q^H dA Q,
dw_i = B_ii and dQ = Q Omega, Omega_ij = B_ij / (w_j - w_i) (i != j), so dL = Re <K, B> with
K = diag(C_w) + F o M, M = Q^H C_Q, F_ij = 1/(w_j - w_i) and G = Q herm(K) Q^H (Giles 2008, §3.1;
Seeger et al. 2017). G is the gradient of every loss with these cotangents that does not depend on
the gauge of eigh near Q (reads a tie's eigenvectors only through its projector, docs/theory.md
§11c); where the cotangents show a dependence to first order, no loss with them is a function of A:

- Omega_ii is any imaginary number on complex input (q_i -> e^{i phi} q_i): f must not depend on it to
  first order, Im M_ii = 0 (torch.linalg.eigh's backward raises where it is not);
- inside a cluster C of tied eigenvalues Q_C -> Q_C R for any unitary R, Omega_CC any
  skew-Hermitian matrix: M_CC must be Hermitian (f invariant to first order), and C_w constant on C
  (tied eigenvalues have no separate derivatives). F is then 0 inside C: the cluster's projector
  P_C = Q_C Q_C^H is analytic where C is separated from the rest of the spectrum (Kato 1995, II §1.4).

Real signs q_i -> -q_i are discrete: no first-order condition, the derivative of f along them is
not seen by a cotangent. Otherwise ``undefined`` with the reason, as gauge.py says it for the SVD.
(MatrixAlgebraKit.jl's eigh pullback tests the same anti-Hermitian part of V^H dV on its
degenerate blocks.) Near ties, adjacent clusters count as one where M is Hermitian on their union to
the rounding of its data (``invariant_groups``): Giles' term there would divide rounding by the gap.

Each backend differentiates, on its own eigh, the gauge-invariant loss whose cotangents at Q are
(C_w, C_Q) wherever that matters: <C_w, w> + Re sum_C <C_Q[:, C], P_C R_C> with R = that Q (the
``anchored`` loss): invariant under every backend's choice of signs, phases and bases inside ties,
so each answers the same question in its own gauge, and its eigh's reverse-mode rule receives the
user's cotangent carried to its own eigenvectors (C_Q[:, C] R_C^H Q_C for its Q_C).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex
from svdgrad_cli.numerics.gauge import GAUGE_RTOL
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import span

GAUGE_FACTOR = 8.0  # a cotangent from single-precision data keeps its invariance to ~n eps(dtype)


def tie_groups(w: np.ndarray, tol: float) -> list[np.ndarray]:
    """The clusters of ascending ``w``: runs whose consecutive gaps are at most ``tol``."""
    breaks = np.flatnonzero(np.diff(w) > tol) + 1
    return np.split(np.arange(len(w)), breaks)


def invariant_groups(w: np.ndarray, q: np.ndarray, c_q, tol: float, eps: float) -> list[np.ndarray]:
    """The clusters of the cotangent: the ties, adjacent ones joined where the skew-Hermitian part of
    M = Q^H C_Q over their union is within the rounding of its data (GAUGE_FACTOR n eps ||C_Q||_F):
    there the cotangent does not tell their eigenvectors apart, and Giles' term
    (M_ij - conj M_ji) / (2 (w_j - w_i)) of a near tie would divide rounding by the gap."""
    m = adjoint(q) @ c_q
    skew = m - adjoint(m)
    rounding = GAUGE_FACTOR * len(w) * eps * frobenius(c_q)
    groups: list[np.ndarray] = []
    for group in tie_groups(w, tol):
        union = np.concatenate([groups[-1], group]) if groups else group
        if groups and frobenius(skew[np.ix_(union, union)]) <= rounding:
            groups[-1] = union
        else:
            groups.append(group)
    return groups


def cluster_mask(groups: list[np.ndarray], n: int) -> np.ndarray:
    """The n x n mask of pairs (i, j) in one group (the diagonal included)."""
    ids = np.zeros(n, dtype=int)
    for k, group in enumerate(groups):
        ids[group] = k
    return ids[:, None] == ids[None, :]


def _names(indices) -> str:
    return span(indices).replace("s_", "w_")


def gauge_problems(w: np.ndarray, q: np.ndarray, c_w, c_q, tol: float, eps: float) -> list[str]:
    """A sentence per freedom of eigh at A that the cotangents (C_w, C_Q) depend on (none: defined).
    ``tol`` joins ties; ``eps`` is the matrix's precision (the cotangents' invariance is relative)."""
    rtol = max(GAUGE_RTOL, GAUGE_FACTOR * len(w) * eps)
    size = (frobenius(c_q) + frobenius(c_w)) * rtol or np.finfo(float).tiny
    m = adjoint(q) @ c_q
    skew = m - adjoint(m)
    phases, problems = [], []
    for group in tie_groups(w, tol):
        if len(group) > 1 and np.ptp(c_w[group]) > size:
            problems.append(
                f"{_names(group)} are tied and C_w differs across them: tied eigenvalues have no "
                f"separate derivatives"
            )
        if frobenius(skew[np.ix_(group, group)]) <= size:
            continue
        if len(group) == 1:
            phases += list(group)
        else:
            problems.append(
                f"{_names(group)} are tied and the loss depends on the basis chosen inside that cluster "
                f"(Q_C^H C_Q[:, C] is not Hermitian)"
            )
    if phases:
        problems.insert(
            0,
            f"the loss depends on the phase e^(i phi) of q_i, which any complex eigh may choose "
            f"({_names(phases)}: Im q_i^H C_Q[:, i] != 0)",
        )
    return problems


def inner_matrix(w: np.ndarray, q: np.ndarray, c_w, c_q, same: np.ndarray) -> np.ndarray:
    """herm(diag(C_w) + F o M) in the basis Q, F 0 inside clusters: G = Q (this) Q^H."""
    with np.errstate(divide="ignore"):
        f = np.where(same, 0.0, 1.0 / (w[None, :] - w[:, None]))
    k = f * (adjoint(q) @ c_q)
    return np.diag(c_w).astype(k.dtype) + (k + adjoint(k)) / 2


def conditioning(w: np.ndarray, inner: np.ndarray, c_w, c_q, same: np.ndarray) -> float:
    """||DG||_2 estimated: G = Q (diag(C_w) + X) Q^H turns with Q (||dQ|| <= ||dA|| / gap: the
    commutator with diag(C_w) + X) and X with w and M (||C_Q||_2 / gap^2); gap between clusters."""
    gaps = np.abs(w[:, None] - w[None, :])[~same]
    if not len(gaps):
        return 0.0
    gap = np.min(gaps)  # a NumPy float: a tiny gap gives inf, never a ZeroDivisionError
    x = inner - np.diag(np.diag(inner))
    spread = float(np.ptp(c_w)) if len(c_w) else 0.0
    with np.errstate(divide="ignore", over="ignore"):
        rotation = (spread + 2 * float(np.linalg.norm(x, 2))) / gap
        return float(rotation + 2 * float(np.linalg.norm(c_q, 2)) / gap / gap)  # gap**2 could underflow


def anchored(loss, reference):
    """``loss`` (a bound ``wq`` with C_Q) with the anchors of its gauge-invariant form: R, the
    eigenvectors C_Q was taken at, and S, the mask of the reference's clusters (complex on complex
    input, so that every framework multiplies like with like); any other loss as it is."""
    if loss.kind != "wq" or "C_Q" not in loss.arrays:
        return loss
    q = reference.vectors
    dtype = np.complex128 if is_complex(q) or loss.on_complex else np.float64
    anchors = {"R": np.asarray(q, dtype=dtype), "S": reference.clusters.astype(dtype)}
    return replace(loss, arrays={**loss.arrays, **anchors})
