"""Families of matrices with exactly known spectra, for ``svdgrad sweep``.

A member is A = U diag(s) V^T. Where both sides are at least 4, U and V are exactly orthogonal with
dyadic entries: products of H4 = kron(H2, H2) / 2 on disjoint quadruples of columns and seeded
signed permutations (a butterfly; after L layers every entry is a multiple of 2^-L, and orthogonality
holds exactly, since H4 and signed permutations are orthogonal in binary). Then every entry of A is
a multiple of 2^(lo) with lo = min_j lowbit(s_j) - L_U - L_V, and |A_ik| <= s_1 (Cauchy-Schwarz on
the rows of U and V), so A is exact in a dtype with p mantissa bits whenever s_1 <= 2^(p + lo), in any
order of summation, the cast from float64 included (:func:`is_exact`). Where the bits do not fit, or a
side is below 4 (seeded QR factors, as in Stewart 1980, "The efficient generation of random orthogonal
matrices"), or the factors are a user's own (their float64 SVD), the stored matrix is the truth and its
spectrum is computed again in high precision (mpmath's SVD at REALISED_DIGITS digits) for the report:
the *realised* spectrum beside the requested one. The same construction underlies tests/test_truth.py
and the README's table of plug-in backward passes.

Requested values are quantised to MANTISSA_BITS significant bits, so that a gap of 2^-30 s_1 still
fits exactly in float64 (a gap with 53 bits of mantissa never would).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex, scale_by_power_of_two, working
from svdgrad_cli.numerics.svd import scale_exponents, thin_svd

START = 0.1  # the largest relative gap or s_K / s_1 of a sweep (less where neighbours leave no room)
SCALE_EXPONENTS = (-100, 100)  # --vary scale: A * 2^e
MANTISSA_BITS = 8
REALISED_DIGITS = 40
MAX_REALISED_ELEMENTS = 4096  # mpmath's SVD up to 64 x 64 (about a second); float64 above
H4 = np.kron([[1.0, 1.0], [1.0, -1.0]], [[1.0, 1.0], [1.0, -1.0]]) / 2
F4 = np.array([[1, 1, 1, 1], [1, 1j, -1, -1j], [1, -1, 1, -1], [1, -1j, -1, 1j]]) / 2  # the unitary DFT


@dataclass(frozen=True)
class Factors:
    """U (m x k) and V (n x k) with orthonormal columns; ``bits`` = L_U + L_V when both are exactly
    orthogonal with entries that are multiples of 2^-L, None when they are rounded."""

    u: np.ndarray
    v: np.ndarray
    bits: int | None
    kind: str  # "dyadic", "qr" or "svd": how they were made


def _layers(n: int) -> int:
    """Butterfly layers that mix every index: 1 + ceil(log4 n)."""
    return 1 + math.ceil(math.log(n, 4))


def dyadic_orthogonal(n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """An exactly orthogonal n x n matrix (n >= 4) with entries that are multiples of 2^-L, and L."""
    return _butterfly(np.eye(n), (H4,), rng)


def dyadic_unitary(n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """An exactly unitary, genuinely complex n x n matrix (n >= 4): the butterfly of
    :func:`dyadic_orthogonal` with the 4-point DFT F4 = [i^(jk)] / 2 in every other layer, so that
    the real and imaginary parts of every entry are multiples of 2^-L (F4's entries are +-1/2 and
    +-i/2, and F4 is unitary in binary as H4 is orthogonal)."""
    return _butterfly(np.eye(n, dtype=complex), (F4, H4), rng)


def _butterfly(
    q: np.ndarray, blocks: tuple[np.ndarray, ...], rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    n = len(q)
    layers = _layers(n)
    for layer in range(layers):
        q = q[:, rng.permutation(n)] * rng.choice([-1.0, 1.0], n)
        block = blocks[layer % len(blocks)]
        for j in range(0, n - 3, 4):
            q[:, j : j + 4] = q[:, j : j + 4] @ block  # exact: sums of four multiples of 2^-l, halved
    return q, layers


def seeded_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal matrix: QR of a Gaussian one with the signs of R's diagonal."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _phases(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each column times 1, i, -1 or -i: still exactly unitary, its entries still dyadic."""
    return q * (1j) ** rng.integers(0, 4, q.shape[1])


def synthetic_factors(shape: tuple[int, int], seed: int, complex_: bool = False) -> Factors:
    """Exactly orthogonal dyadic factors where both sides are at least 4, else seeded QR ones;
    ``complex_``: unitary ones, with column phases from {1, i, -1, -i} (exact as well)."""
    m, n = shape
    k = min(m, n)
    rng = np.random.default_rng(seed)
    if k >= 4:
        (u, lu), (v, lv) = dyadic_orthogonal(m, rng), dyadic_orthogonal(n, rng)
        u, v, bits, kind = u[:, :k], v[:, :k], lu + lv, "dyadic"
    else:
        u, v, bits, kind = seeded_orthogonal(m, rng)[:, :k], seeded_orthogonal(n, rng)[:, :k], None, "qr"
    if complex_:
        u, v = _phases(u, rng), _phases(v, rng)
    return Factors(u, v, bits, kind)


def factors_of(matrix: np.ndarray) -> tuple[Factors, np.ndarray]:
    """A user's matrix as (its singular vectors, its singular values), in double precision."""
    u, s, v = thin_svd(matrix)
    return Factors(u, v, None, "svd"), s


def base_spectrum(k: int) -> np.ndarray:
    """1, 1 - d, 1 - 2d, ... with d = 2^-ceil(log2 k): evenly spaced, dyadic, the smallest >= d."""
    step = 2.0 ** -math.ceil(math.log2(k)) if k > 1 else 1.0
    return 1.0 - step * np.arange(k)


def quantise(x: float, bits: int = MANTISSA_BITS) -> float:
    """x rounded to ``bits`` significant bits (0 stays 0)."""
    if x == 0 or not math.isfinite(x):
        return x
    mantissa, exponent = math.frexp(x)
    return math.ldexp(round(mantissa * 2**bits), exponent - bits)


def log_points(points: int, dtype: str, start: float = START) -> list[float]:
    """``points - 1`` parameter values log-spaced from ``start`` down to about 10 eps, then exact 0."""
    if points == 1:
        return [0.0]
    eps = float(np.finfo(np.dtype(dtype)).eps)
    low = min(10.0 ** (math.floor(math.log10(eps)) + 1), start)
    spaced = np.logspace(math.log10(start), math.log10(low), points - 1) if points > 2 else [start]
    return [*(float(x) for x in spaced), 0.0]


def logit_points(points: int, level: float) -> list[float]:
    """Exact 0, ``points - 2`` values of x in (0, 1) evenly spaced in log10(x / (1 - x)) from about
    10 ``level`` to 1 minus that, then exact 1 (one point: 1; two: 0 and 1). An odd count has 1/2
    in the middle."""
    if points <= 2:
        return [1.0] if points == 1 else [0.0, 1.0]
    edge = math.ceil(math.log10(10 * level))
    inner = np.linspace(edge, -edge, points - 2) if points > 3 else [0.0]
    return [0.0, *(1.0 / (1.0 + 10.0 ** -float(t)) for t in inner), 1.0]


def doubling_points(points: int) -> list[float]:
    """2^e with e evenly spaced over SCALE_EXPONENTS (rounded to integers)."""
    exponents = np.rint(np.linspace(*SCALE_EXPONENTS, points)) if points > 1 else np.zeros(1)
    return [2.0 ** int(e) for e in exponents]


def lowest_bit(x: float) -> int:
    """The exponent of the lowest set bit of a finite non-zero float (x = odd * 2^lowest_bit)."""
    numerator, denominator = float(x).as_integer_ratio()
    return (numerator & -numerator).bit_length() - denominator.bit_length()


def is_exact(factors: Factors, values: np.ndarray, dtype: str) -> bool:
    """Whether U diag(values) V^T is computed without rounding in float64 and stored exactly in dtype
    (see the module docstring for the bound)."""
    nonzero = [float(x) for x in values if x != 0]
    if factors.bits is None or not nonzero:
        return factors.bits is not None
    info = np.finfo(np.dtype(dtype))
    lo = min(lowest_bit(x) for x in nonzero) - factors.bits
    top = max(abs(x) for x in nonzero)
    fits = top <= 2.0 ** (info.nmant + 1 + lo) and top <= float(info.max)
    return bool(fits and lo >= int(info.minexp) - int(info.nmant))


def assemble(factors: Factors, values: np.ndarray, dtype: str) -> np.ndarray:
    """U diag(values) V^H, computed in double precision and stored in ``dtype``."""
    product = (factors.u * np.asarray(values, dtype=np.float64)) @ adjoint(factors.v)
    return product.astype(dtype)


def high_precision_values(matrix: np.ndarray, digits: int = REALISED_DIGITS) -> np.ndarray:
    """The singular values of a stored matrix with mpmath (each float entry converted exactly),
    rounded to float64, in decreasing order."""
    a = working(matrix)
    if a.size == 0:
        return np.zeros(0)
    exponent = int(scale_exponents(a[None])[0])
    scaled = scale_by_power_of_two(a, -exponent)  # exact; keeps mpmath away from its own exponent range
    svd = mpmath.svd_c if is_complex(a) else mpmath.svd_r
    with mpmath.workdps(digits):
        values = svd(mpmath.matrix(scaled.tolist()), compute_uv=False)
        out = np.array([float(mpmath.re(values[i])) for i in range(len(values))])
    return np.sort(np.ldexp(out, exponent))[::-1]


def realised_values(matrix: np.ndarray, built: np.ndarray, exact: bool) -> tuple[np.ndarray, str]:
    """The spectrum of the stored matrix and how it is known: ``exact`` (by construction), ``mpmath``,
    or ``float64`` (NumPy's SVD, above MAX_REALISED_ELEMENTS entries)."""
    if exact:
        return np.sort(np.abs(np.asarray(built, dtype=np.float64)))[::-1], "exact"
    if matrix.size <= MAX_REALISED_ELEMENTS:
        return high_precision_values(matrix), "mpmath"
    return np.linalg.svd(np.asarray(matrix), compute_uv=False).astype(np.float64), "float64"


def zero_level(shape: tuple[int, int], dtype: str) -> float:
    """Relative to s_1, the level below which a value counts as zero (spectrum.default_zero_tol)."""
    return max(shape) * float(np.finfo(np.dtype(dtype)).eps)


def positive_count(values: np.ndarray, level: float) -> int:
    """How many values are above ``level`` s_1 (numerically non-zero)."""
    return int(np.sum(values > level * values[0])) if len(values) and values[0] > 0 else 0


def closest_pair(values: np.ndarray, level: float) -> int:
    """K of the closest pair s_K, s_{K+1} of non-zero values (1 where there is no pair)."""
    positive = positive_count(values, level)
    gaps = values[: positive - 1] - values[1:positive]
    return int(np.argmin(gaps)) + 1 if len(gaps) else 1


def first_zero(values: np.ndarray, level: float) -> int:
    """K of the first zero value of a rank-deficient spectrum, else of the smallest value (K >= 2)."""
    return max(min(positive_count(values, level) + 1, len(values)), 2)


def start_below(room: float) -> float:
    """The first point of a sweep: START, or the power of ten below half the ``room`` (relative to
    s_1) that the neighbours of the moved values leave."""
    return min(START, 10.0 ** math.floor(math.log10(room / 2))) if room > 0 else START


def zero_profile(values: np.ndarray, at: int, level: float) -> np.ndarray:
    """s_i / s_K for i >= K as the values had them, or 1, (r-1)/r, ..., 1/r (r = k - K + 1) where
    some of them are already zero."""
    tail = np.asarray(values[at - 1 :], dtype=np.float64)
    if len(tail) and tail[-1] > level * values[0]:
        return tail / tail[0]
    return (len(tail) - np.arange(len(tail))) / len(tail)


def with_gap(values: np.ndarray, at: int, gap: float) -> np.ndarray:
    """The spectrum with s_{K+1} = s_K - gap s_1, the gap quantised to MANTISSA_BITS bits."""
    s = np.array(values, dtype=np.float64)
    s[at] = s[at - 1] - quantise(gap * float(s[0]))
    return s


def vanishing(values: np.ndarray, at: int, size: float, profile: np.ndarray) -> np.ndarray:
    """The spectrum with s_i = size s_1 profile_i for i >= K, each quantised to MANTISSA_BITS bits."""
    s = np.array(values, dtype=np.float64)
    top = float(s[0])
    s[at - 1 :] = [quantise(size * top * float(r)) for r in profile]
    return s


def across_cut(values: np.ndarray, at: int, x: float, profile: np.ndarray) -> np.ndarray:
    """The spectrum with s_{K+1} = x s_K and the values below it s_{K+1} profile_i (profile_1 = 1),
    quantised to MANTISSA_BITS bits: x itself up to 1/2, 1 - x above (so that s_{K+1} can come
    within 2^-50 s_K of s_K exactly), never above s_{K+1}."""
    s = np.array(values, dtype=np.float64)
    kept = float(s[at - 1])
    first = quantise(x * kept) if x <= 0.5 else kept - quantise((1.0 - x) * kept)
    s[at:] = [first, *(min(quantise(first * float(r)), first) for r in profile[1:])]
    return s
