"""Frobenius norms that neither overflow nor underflow at magnitudes near 1e+-300."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import working

# Where the plain norm is exact to rounding: below 1e140 no square overflowed, and above 1e-140 the
# squares that underflow (of entries below 1e-154) add less than 1e-28 of the sum of squares.
SAFE_NORMS = (1e-140, 1e140)


def frobenius(x) -> float:
    """||x||_F; outside SAFE_NORMS as scale * ||x / scale||_F with scale = max |x_ij| (LAPACK's dnrm2).

    ``np.linalg.norm`` squares the entries, so it overflows above about 1e154 and loses everything
    below about 1e-154; NaN and Inf propagate as usual.
    """
    values = working(x)
    if np.iscomplexobj(values):  # its real and imaginary parts: complex division by a tiny scale overflows
        values = np.ascontiguousarray(values).view(np.float64)
    if values.size == 0:
        return 0.0
    with np.errstate(over="ignore", under="ignore"):  # then outside SAFE_NORMS
        plain = float(np.linalg.norm(values))
    if SAFE_NORMS[0] < plain < SAFE_NORMS[1]:
        return plain
    scale = float(np.max(np.abs(values)))
    if scale == 0.0 or not np.isfinite(scale):
        return scale
    return scale * float(np.linalg.norm(values / scale))
