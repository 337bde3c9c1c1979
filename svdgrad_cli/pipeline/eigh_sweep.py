"""``svdgrad sweep --decomposition eigh``: a family of symmetric matrices A = Q diag(w) Q^T with an
exactly orthogonal dyadic Q (numerics/families.py, n >= 4; seeded QR below), each point judged as
``check --decomposition eigh`` judges a matrix (eigh_check.py).

- ``--vary gap``: w = 1, 1 + d, 1 + 2d, ... (d = 2^-ceil(log2 n)) with w_{K+1} = w_K + g, g from d/2
  down by equal factors to d 2^-50, the last point exactly 0 (K = ``--at``, default n // 2);
- ``--vary scale``: the base matrix (w_{K+1} - w_K = d/2) times 2^e, e from -100 to 100.

Each point's label gives its parameter; its report its realised eigenvalues (the float64 A of a
tiny gap is the rounded one, and is what is judged).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.arrays import LoadedArray
from svdgrad_cli.numerics.families import dyadic_orthogonal, seeded_orthogonal

SMALLEST_GAP = 2.0**-50  # the last non-zero gap of --vary gap, in units of d
EXPONENTS = (-100, 100)  # --vary scale


def _spectrum(n: int, k: int, gap: float) -> np.ndarray:
    d = 2.0 ** -math.ceil(math.log2(n))
    w = 1 + d * np.arange(n, dtype=float)
    w[k] = w[k - 1] + gap * d  # 0-based k: the (K+1)-th eigenvalue
    return w


def _matrix(q: np.ndarray, w: np.ndarray, dtype: str) -> np.ndarray:
    a = (q * w) @ q.T
    return ((a + a.T) / 2).astype(dtype)


def _parameters(vary: str, points: int) -> list[float]:
    if vary == "scale":
        return [float(e) for e in np.rint(np.linspace(*EXPONENTS, points))]
    if points == 1:
        return [0.0]
    ratio = (2 * SMALLEST_GAP) ** (1 / max(points - 2, 1))
    return [0.5 * ratio**j for j in range(points - 1)] + [0.0]


def eigh_family(
    vary: str, at: int | None, points: int, n: int, seed: int, dtype: str
) -> Iterator[tuple[float, LoadedArray]]:
    """(parameter, matrix labelled by it) of each point; a UsageError for a family that cannot be made."""
    if vary not in ("gap", "scale"):
        raise UsageError(f"sweep --decomposition eigh varies gap or scale, not {vary!r}")
    k = at if at is not None else n // 2
    if n < 2 or not 1 <= k < n:
        raise UsageError(f"--at {k}: the pair w_K, w_K+1 needs 1 <= K < n = {n}")
    rng = np.random.default_rng(seed)
    q = dyadic_orthogonal(n, rng)[0] if n >= 4 else seeded_orthogonal(n, rng)
    for x in _parameters(vary, points):
        if vary == "gap":
            yield x, LoadedArray(f"gap {x:.3g}", _matrix(q, _spectrum(n, k, x), dtype))
        else:
            a = _matrix(q, _spectrum(n, k, 0.5), "float64") * 2.0**x
            yield x, LoadedArray(f"2^{x:.0f} A", a.astype(dtype))
