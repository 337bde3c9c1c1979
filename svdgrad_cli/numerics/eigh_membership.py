"""How far a symmetric matrix is from an eigh loss's gradient: ||G_b - G|| where G is unique, and the
Frobenius distance to the set {Q_F Q_F^T + Q_T W Q_T^T : 0 <= W <= I, tr W = r} of a sum of
eigenvalues whose selection cuts a tie (eigh_reference.py), computed exactly: in the basis Q the set
fixes every entry outside the tie block T, and inside it the nearest W is the matrix with the
eigenvectors of the given block and its eigenvalues projected onto the capped simplex
{0 <= mu <= 1, sum mu = r} (Frobenius distance is unitarily invariant; the projection of a symmetric
matrix onto a spectral set is spectral, Lewis 1996, Lewis and Sendov 2005).
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.eigh_reference import EighReference
from svdgrad_cli.numerics.field import adjoint
from svdgrad_cli.numerics.norms import frobenius

BISECTIONS = 200  # halvings of the shift of the capped-simplex projection (to float64's resolution)


def symmetric_part(g: np.ndarray) -> np.ndarray:
    """(G + G^H) / 2: what a gradient says along symmetric (Hermitian) directions."""
    return (g + adjoint(g)) / 2


def capped_simplex(x: np.ndarray, r: int) -> np.ndarray:
    """The Euclidean projection of x onto {0 <= mu <= 1, sum mu = r}: clip(x - tau, 0, 1) with the
    shift tau found by bisection (the sum is non-increasing in tau)."""
    low, high = float(np.min(x)) - 1.0, float(np.max(x))
    for _ in range(BISECTIONS):
        tau = (low + high) / 2
        if np.sum(np.clip(x - tau, 0.0, 1.0)) > r:
            low = tau
        else:
            high = tau
    return np.clip(x - (low + high) / 2, 0.0, 1.0)


def distance(g: np.ndarray, reference: EighReference) -> float:
    """The Frobenius distance from the symmetric part of ``g`` to the reference's gradient (set)."""
    assert reference.gradient is not None
    sym = symmetric_part(g)
    if reference.edge is None:
        return frobenius(sym - reference.gradient)
    _, block, r = reference.edge
    q = reference.vectors
    inner = adjoint(q) @ sym @ q
    target = adjoint(q) @ reference.gradient @ q
    outside = np.ones(inner.shape, dtype=bool)
    outside[np.ix_(block, block)] = False
    mu, basis = np.linalg.eigh(inner[np.ix_(block, block)])
    nearest = (basis * capped_simplex(mu, r)) @ adjoint(basis)
    inside = frobenius(inner[np.ix_(block, block)] - nearest)
    return float(np.hypot(frobenius(np.where(outside, inner - target, 0.0)), inside))
