"""Iterative refinement of the reference's SVD: singular vectors accurate to float64's rounding.

LAPACK's SVD is backward stable, so its singular vectors err by about eps s_1 / gap (Wedin), and the
float64 reference built on them errs by a few units of budget.py: as much as a backend. A Newton-like
step of Ogita and Aishima (2020, "Iterative refinement for singular value decomposition based on
matrix multiplication", J. Comput. Appl. Math. 373, Algorithm 1) corrects U and V to first order from
three residuals, which must be computed more accurately than float64 (they are of order eps):

    R = I - U^T U,   S = I - V^T V,   T = U^T A V.

With U' = U (I + F) and V' = V (I + G), orthogonality to first order asks F + F^T = R and
G + G^T = S, and (I + F)^T T (I + G) diagonal asks T + F^T D + D G = D, whose diagonal gives the
refined values d_i = t_ii / (1 - (r_ii + s_ii) / 2) and whose (i, j) and (j, i) entries give, with
a = -t_ij and b = t_ji + r_ij d_i + s_ij d_j, the sum and difference

    f_ji + g_ij = (a + b) / (d_i + d_j),   f_ji - g_ij = (b - a) / (d_i - d_j),   f_ii = r_ii / 2.

The difference's numerator vanishes with the gap for a true SVD perturbed by rounding, so a near tie
costs only the residuals' own error divided by the gap. Tall A (m > n) adds the part of A V outside
span U: W = (A V - U (I + R) T) D^-1, U' = U (I + F) + W (the thin form of the algorithm's last
m - n rows, with (U^T U)^-1 = I + R to first order); wide A is refined as A^T.

The residuals come from error-free products (Ozaki, Ogita, Oishi and Rump 2012, "Error-free
transformations of matrix multiplication by using fast routines of matrix multiplication and its
applications", Numer. Algorithms 59): each factor is split into a head on a grid coarse enough that
the heads' product is exact in float64 and a tail of about 2^-21 its size, so X Y = hi + lo with hi
exact and lo rounded: the residuals carry about 2^-21 eps of error, not eps, for the cost of three
float64 products each (np.longdouble products would cost more than the SVD at 1024x1024).

A step is accepted only where it converges: the steps' corrections must fall to float64's rounding
of orthonormal factors (STEPS at most), a pair's difference term weighed by how far the residuals
resolve its gap (below RESIDUAL s_1 it can only be known to RESIDUAL eps s_1 / gap, which moves a
gradient by a negligible part of its budget); exact or unresolved ties (a gap below about eps s_1), zero
or tiny singular values and complex input keep LAPACK's factors, and the reference says which it is
(reference.py). tests/test_refinement.py checks the refined factors against mpmath at 50 digits.
"""

from __future__ import annotations

import math

import numpy as np

from svdgrad_cli.numerics.field import scale_by_power_of_two
from svdgrad_cli.numerics.svd import ScaledSVD

STEPS = 4  # steps at most: two suffice from LAPACK's factors, four down to gaps of about 1e-13 s_1
CONVERGED = 64.0  # the last correction may be this many eps times sqrt(k): rounding, not error
RESIDUAL = 2.0**-20  # the residuals' relative error (about 2^-21 eps, twice for safety), in eps
EPS = float(np.finfo(np.float64).eps)


def _head(x: np.ndarray, axis: int, inner: int) -> np.ndarray:
    """The head of Ozaki's split of x along ``axis`` (rows: 1, columns: 0): x rounded to the grid
    2^(e + beta - 52), e the exponent of the row's (column's) largest entry, beta such that a sum of
    ``inner`` products of two heads is exact in float64 (Ozaki et al. 2012, Algorithm 3)."""
    beta = math.ceil((53 + math.log2(max(inner, 1))) / 2)
    largest = np.max(np.abs(x), axis=axis, keepdims=True)
    sigma = np.ldexp(np.ones_like(largest), np.frexp(largest)[1] + beta)
    return np.where(largest > 0, (x + sigma) - sigma, 0.0)


def accurate_product(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X Y as hi + lo: hi the exact product of the heads, lo the rest, rounded once per product."""
    inner = x.shape[1]
    x_hi, y_hi = _head(x, 1, inner), _head(y, 0, inner)
    return x_hi @ y_hi, x_hi @ (y - y_hi) + (x - x_hi) @ y


def _defect(q: np.ndarray) -> np.ndarray:
    """I - Q^T Q, to about 2^-21 of its own size."""
    hi, lo = accurate_product(q.T, q)
    return (np.eye(q.shape[1]) - hi) - lo


def _paired(upper: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """``upper`` above the diagonal, ``sums - upper^T`` below it and 0 on it: x_ij + x_ji = sums_ij
    exactly as orthogonality asks (each half solved apart would carry its own rounding divided by
    the gap into the symmetric part, i.e. into U^T U and V^T V)."""
    above = np.triu(np.ones(upper.shape, dtype=bool), 1)
    x = np.where(above, upper, 0.0)
    return x + np.where(above.T, sums - x.T, 0.0)


def _step(a: np.ndarray, u: np.ndarray, v: np.ndarray):
    """One step of Ogita and Aishima's refinement for m >= n: (U', d, V', size of the correction)."""
    r, s = _defect(u), _defect(v)
    av_hi, av_lo = accurate_product(a, v)
    t_hi, t_lo = accurate_product(u.T, av_hi)
    t = t_hi + (t_lo + u.T @ av_lo)
    d = np.diag(t) / (1 - (np.diag(r) + np.diag(s)) / 2)
    left = -t  # a_ij
    right = t.T + d[:, None] * r + s * d[None, :]  # b_ij
    with np.errstate(divide="ignore", invalid="ignore"):
        total = _paired((left + right) / (d[:, None] + d[None, :]), r + s)
        difference = _paired((right - left) / (d[:, None] - d[None, :]), r - s)
    f = ((total + difference) / 2).T + np.diag(np.diag(r) / 2)
    g = (total - difference) / 2 + np.diag(np.diag(s) / 2)
    resolved = np.minimum(1.0, np.abs(d[:, None] - d[None, :]) / (RESIDUAL * d[0]))
    size = max(np.max(np.abs(total)), np.max(np.abs(difference) * resolved), np.max(np.abs(np.diag(r))))
    u_new = u + u @ f
    if u.shape[0] > u.shape[1]:  # the part of A V outside span U
        ut_hi, ut_lo = accurate_product(u, t)
        w = ((av_hi - ut_hi) + (av_lo - ut_lo - u @ (r @ t))) / d
        u_new = u_new + w
        size = max(size, np.max(np.abs(w) * np.minimum(1.0, d / (RESIDUAL * d[0]))))
    return u_new, d, v + v @ g, float(max(size, np.max(np.abs(np.diag(s)))))


def _distinct_positive(s: np.ndarray) -> bool:
    """Whether the singular values are finite, positive and strictly decreasing."""
    return bool(np.all(np.isfinite(s)) and s[-1] > 0 and np.all(np.diff(s) < 0))


def _refinable(a: np.ndarray, s: np.ndarray) -> bool:
    """Whether refinement applies: a real float64 matrix with distinct positive singular values (at a
    zero value or an exact tie the factors are not determined)."""
    real = not np.iscomplexobj(a) and a.dtype == np.float64
    return real and a.size > 0 and _distinct_positive(s)


def refines(dtype) -> bool:
    """Whether refinement can matter for a matrix of ``dtype``: where the backends compute in double
    precision. In single precision their budget (budget.py: SINGLE_FACTOR units of float32's eps) is
    10^8 times the unrefined reference's own error (REFERENCE_FACTOR units of float64's), so no
    verdict moves, while the refinement's products cost as much as the SVD itself (2048x2048: the
    SVD and the refinement took about the same time)."""
    dtype = np.dtype(dtype)
    return dtype.kind not in "fc" or np.finfo(dtype).eps < np.finfo(np.float32).eps


def refine_svd(a: np.ndarray, u: np.ndarray, s: np.ndarray, v: np.ndarray):
    """The thin SVD (U, s, V) of a real float64 ``a`` refined to float64's rounding, or None where
    refinement does not converge or does not apply (see the module docstring)."""
    if not _refinable(a, s):
        return None
    if a.shape[0] < a.shape[1]:
        refined = refine_svd(a.T, v, s, u)
        return None if refined is None else (refined[2], refined[1], refined[0])
    limit = CONVERGED * EPS * math.sqrt(len(s))
    for _ in range(STEPS):
        with np.errstate(all="ignore"):
            u, s, v, size = _step(a, u, v)
        if not (np.isfinite(size) and _distinct_positive(s)):
            return None
        if size <= limit:
            return u, s, v
    return None


def refine_scaled(a: np.ndarray, svd: ScaledSVD) -> ScaledSVD | None:
    """The refined form of ``svd``, the scaled SVD of ``a`` (svd.py), or None (refine_svd)."""
    refined = refine_svd(scale_by_power_of_two(a, -svd.exponent), svd.u, svd.s, svd.v)
    return None if refined is None else ScaledSVD(refined[0], refined[1], refined[2], svd.exponent)
