"""Oracles of issue 25's tests, independent of svdgrad: the nuclear norm's directional derivative
and the derivative of its gradient, the polar factor A (A^T A)^(-1/2) (no SVD), by central
differences at 60 digits in mpmath."""

from __future__ import annotations

import mpmath
import numpy as np

DIGITS = 60
STEP = "1e-25"


def _mp(x):
    return mpmath.matrix(np.asarray(x, dtype=float).tolist())


def nuclear_jvp(a, e) -> float:
    """d/dt ||A + tE||_* at 0, a central difference of mpmath's singular values (A of full rank)."""
    with mpmath.workdps(DIGITS):
        h = mpmath.mpf(STEP)
        norm = lambda x: mpmath.fsum(mpmath.svd_r(x, compute_uv=False))  # noqa: E731
        return float((norm(_mp(a) + h * _mp(e)) - norm(_mp(a) - h * _mp(e))) / (2 * h))


def polar_jvp(a, e) -> np.ndarray:
    """d/dt P(A + tE) at 0, P(A) = A (A^T A)^(-1/2) the nuclear norm's gradient (A square, of full
    rank): the HVP of ``sum``."""
    with mpmath.workdps(DIGITS):
        h = mpmath.mpf(STEP)
        polar = lambda x: x * mpmath.inverse(mpmath.sqrtm(x.T * x))  # noqa: E731
        diff = (polar(_mp(a) + h * _mp(e)) - polar(_mp(a) - h * _mp(e))) / (2 * h)
        return np.array(diff.tolist(), dtype=float)
