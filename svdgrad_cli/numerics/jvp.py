"""The reference directional derivative of a loss, L'(A; E) = lim_{t -> 0+} (L(A + tE) - L(A)) / t.

Issue 25, docs/theory.md §11a.

Where the gradient G is unique, L'(A; E) = <G, E>, linear in E. Where it is a set (a tie that the loss
separates, or a zero singular value), a loss of s, sum_i w_i s_i, still has a one-sided derivative
(first-order perturbation of singular values: Lewis 1995; for the nuclear norm Watson 1992):

- a cluster C of positive values equal to s_C moves, to first order, by the eigenvalues
  l_1 >= ... >= l_|C| of sym(U_C^T E V_C): position i of the cluster (in decreasing order) gets l_i;
- the zero cluster Z moves by the singular values of U_0^T E V_0, U_0 and V_0 full orthonormal
  bases of the left and right null spaces (rectangular A included); position i gets the i-th largest.

So L'(A; E) = sum over clusters of sum_i w_i l_i; for the nuclear norm at rank r that is
tr(U_r^T E V_r) + ||U_0^T E V_0||_*. This is sublinear, not linear, in E: a forward-mode JVP is linear
in E, <G_fw, E> for whichever member G_fw of the gradient set its SVD picks, so it can equal
L'(A; E) only for some E. Every member gives a value in [low, high]: for a positive cluster, w_C
paired with the l_i in the opposite and in the same order (rearrangement), for the zero cluster
-+ sum |w|_[i] s_i(U_0^T E V_0) (Lewis 1995: the set's members are U_C M V_C^T with M in the convex
hull of Q diag(w_C) Q^T). A JVP inside that interval is consistent with some member (``valid``);
outside it, wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.dilation import complete_basis
from svdgrad_cli.numerics.spectrum import Spectrum, analyse_spectrum
from svdgrad_cli.numerics.svd import stack_svd


@dataclass(frozen=True)
class DirectionalDerivative:
    """L'(A; E) and the interval of values a member of the gradient set can give along E."""

    one_sided: float | None  # None where the loss has no one-sided derivative that svdgrad derives
    low: float
    high: float
    unique: bool  # the gradient is unique: L'(A; E) = <G, E>, linear in E
    reason: str


def _cluster_terms(w: np.ndarray, moves: np.ndarray) -> tuple[float, float, float]:
    """(one-sided, low, high) of one positive cluster: w in position order, ``moves`` decreasing."""
    one_sided = float(np.dot(w, moves))
    high = float(np.dot(np.sort(w)[::-1], moves))
    low = float(np.dot(np.sort(w), moves))
    return one_sided, low, high


def _zero_terms(w: np.ndarray, moves: np.ndarray) -> tuple[float, float, float]:
    """(one-sided, low, high) of the zero cluster: ``moves`` the decreasing singular values."""
    bound = float(np.dot(np.sort(np.abs(w))[::-1], moves))
    return float(np.dot(w, moves)), -bound, bound


def spectral_directional_derivative(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, spectrum: Spectrum, e: np.ndarray
) -> tuple[float, float, float]:
    """(L'(A; E), low, high) of sum_i w_i s_i at A = U diag(s) V^T (thin U, V, real)."""
    totals = np.zeros(3)
    for cluster in spectrum.clusters:
        index = list(cluster)
        block = u[:, index].T @ e @ v[:, index]
        moves = np.linalg.eigvalsh((block + block.T) / 2)[::-1]
        totals += _cluster_terms(w[index], moves)
    if spectrum.zeros:
        rank = spectrum.rank
        null_u = np.hstack([u[:, rank:], complete_basis(u)])
        null_v = np.hstack([v[:, rank:], complete_basis(v)])
        moves = np.linalg.svd(null_u.T @ e @ null_v, compute_uv=False)
        totals += _zero_terms(w[list(spectrum.zeros)], moves)
    return float(totals[0]), float(totals[1]), float(totals[2])


def reference_jvp(
    a: np.ndarray, loss, e: np.ndarray, zero_tol: float, gradient: np.ndarray | None, unique: bool
) -> DirectionalDerivative:
    """L'(A; E) for a real matrix; ``gradient`` and ``unique`` from the float64 reference (reference.py)."""
    e = np.asarray(e, dtype=np.float64)
    if unique and gradient is not None:
        value = float(np.sum(gradient * e))
        return DirectionalDerivative(value, value, value, True, "<G, E>: the gradient is unique")
    if loss.needs_vectors:
        return DirectionalDerivative(None, 0.0, 0.0, False, "undefined: the loss has no gradient here")
    svd = stack_svd(np.asarray(a, dtype=np.float64)[None])[0]  # U, V and the structure are scale-free
    spectrum = analyse_spectrum(svd.values, (len(svd.u), len(svd.v)), zero_tol)
    w = loss.weights(len(svd.s))
    one_sided, low, high = spectral_directional_derivative(svd.u, svd.v, w, spectrum, e)
    return DirectionalDerivative(
        one_sided,
        low,
        high,
        False,
        "one-sided directional derivative L'(A;E) (Lewis 1995; nuclear norm: Watson 1992); the gradient "
        "is a set, and a linear JVP gives <G, E> for one member G",
    )
