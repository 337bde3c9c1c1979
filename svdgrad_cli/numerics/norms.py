"""Frobenius norms that neither overflow nor underflow at magnitudes near 1e+-300."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import working


def frobenius(x) -> float:
    """||x||_F computed as scale * ||x / scale||_F with scale = max |x_ij| (LAPACK's dnrm2 idea).

    ``np.linalg.norm`` squares the entries, so it overflows above about 1e154 and loses everything
    below about 1e-154; NaN and Inf propagate as usual.
    """
    values = working(x)
    if values.size == 0:
        return 0.0
    scale = float(np.max(np.abs(values)))
    if scale == 0.0 or not np.isfinite(scale):
        return scale
    return scale * float(np.linalg.norm(values / scale))
