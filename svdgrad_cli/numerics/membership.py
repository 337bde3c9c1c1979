"""Distance from a candidate gradient to the (sub/Clarke) gradient set of a spectral loss.

For L(A) = sum_i w_i s_i(A) with s sorted decreasingly, L = f(s) with f(s) = <w, sort(|s|)>, an
absolutely symmetric, piecewise-linear function of s. Its Clarke generalized gradient at s is the
convex hull of the gradients of the pieces active at s: within a cluster C of tied positive values any
permutation of w_C, within the zero cluster Z any signed permutation of w_Z. Lewis and Sendov (2005,
"Nonsmooth analysis of singular values", Set-Valued Analysis) lift that to matrices:

    dL(A) = { U diag(mu) V^T : mu in df(s), (U, V) any SVD of A }.

By Rado's theorem the hull of the permutations of w_C is the set of vectors majorized by w_C, and that
of the signed permutations of w_Z is the set weakly majorized by |w_Z|. So G belongs to dL(A) iff

    G = sum_C U_C M_C V_C^T + W,   M_C symmetric with eigenvalues majorized by w_C,
    U_+^T W = 0, W V_+ = 0 (U_+, V_+: the positive clusters), singular values of W weakly majorized
    by |w_Z|.

For the convex losses this is the subdifferential of Watson (1992, nuclear norm: ||W||_2 <= 1) and
Watson (1993, Ky Fan norms: 0 <= M <= I, tr M = K - a); for sv:K it is the Clarke set of docs/theory.md
§2 (M positive semidefinite, tr M = 1), extended to s_K = 0 (||W||_* <= 1).

On complex input the same holds with unitary U, V, ^H for ^T and M Hermitian (the skew part is then
the skew-Hermitian one): f is the same function of the same real s (docs/theory.md §9).
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex, working
from svdgrad_cli.numerics.spectrum import Spectrum


def _majorization_excess(x: np.ndarray, w: np.ndarray, weak: bool) -> float:
    """How far x is from being (weakly) majorized by w: 0 when it is."""
    xs = np.cumsum(np.sort(x)[::-1])
    ws = np.cumsum(np.sort(w)[::-1])
    excess = float(np.max(np.maximum(xs - ws, 0.0), initial=0.0))
    if not weak:
        excess = max(excess, abs(float(xs[-1] - ws[-1])))
    return excess


def distance_to_set(
    gradient: np.ndarray, u: np.ndarray, v: np.ndarray, spectrum: Spectrum, w: np.ndarray
) -> float:
    """A Frobenius-scale measure of how far ``gradient`` is from dL(A); 0 for a member.

    It adds in quadrature the parts of G that no member has (cross terms between clusters), the
    skew part of each cluster block, and the (weak) majorization excess of each block's spectrum.
    """
    g = working(gradient)
    if is_complex(u):
        g = g.astype(np.complex128)
    parts = []
    covered = np.zeros_like(g)
    for cluster in spectrum.clusters:
        idx = list(cluster)
        block = adjoint(u[:, idx]) @ g @ v[:, idx]
        covered += u[:, idx] @ block @ adjoint(v[:, idx])
        skew = 0.5 * (block - adjoint(block))
        eigs = np.linalg.eigvalsh(0.5 * (block + adjoint(block)))
        parts += [np.linalg.norm(skew), _majorization_excess(eigs, w[idx], weak=False)]
    positive = [i for c in spectrum.clusters for i in c]
    u_pos, v_pos = u[:, positive], v[:, positive]
    null_part = g - u_pos @ (adjoint(u_pos) @ g)
    null_part = null_part - (null_part @ v_pos) @ adjoint(v_pos)
    covered += null_part
    if spectrum.zeros:
        sigma = np.linalg.svd(null_part, compute_uv=False)[: len(spectrum.zeros)]
        parts.append(_majorization_excess(sigma, np.abs(w[list(spectrum.zeros)]), weak=True))
    else:
        parts.append(np.linalg.norm(null_part))
    parts.append(np.linalg.norm(g - covered))
    return float(np.sqrt(np.sum(np.square(np.asarray(parts, dtype=np.float64)))))
