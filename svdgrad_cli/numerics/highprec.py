"""A high-precision reference with mpmath, for the matrices where float64 cannot decide a verdict.

The float64 reference errs by about eps(float64) ||A||_2 ||DG||_2 (budget.py); judging a float64
backend whose error lies within that of its budget needs a reference that is better by orders of
magnitude. mpmath's SVD (Golub-Kahan bidiagonalisation and implicit QR in arbitrary precision) of the
exact input, then the closed forms of gradients.py evaluated on NumPy object arrays of mpmath
numbers: the same formulas, another precision. The digits follow the conditioning: 30 more than the
decimal exponent of the gradient's relative condition number, so that about 30 digits survive.
Complex input uses mpmath's complex SVD (svd_c) and the same formulas with adjoints (field.py).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex, scale_by_power_of_two, working
from svdgrad_cli.numerics.gradients import polar_gradient, projector_gradient, spectral_gradient
from svdgrad_cli.numerics.losses import Loss, SpectralLoss, order_of
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.numerics.svd import scale_exponents
from svdgrad_cli.numerics.truncated import top_gradient

if TYPE_CHECKING:  # mpmath is imported where it is used: most runs never need it
    import mpmath

MAX_ELEMENTS = 4096  # automatically up to 64 x 64 (about 7 s at 50 digits); --reference high above
MIN_DIGITS = 40
SPARE_DIGITS = 30


def digits_for(condition: float) -> int:
    """Decimal digits that leave SPARE_DIGITS correct after a loss of log10(condition) of them."""
    lost = math.log10(condition) if math.isfinite(condition) and condition > 1 else 0.0
    return max(MIN_DIGITS, SPARE_DIGITS + math.ceil(lost))


def _as_objects(matrix: mpmath.matrix) -> np.ndarray:
    return np.array(matrix.tolist(), dtype=object)


def high_precision_gradient(a: np.ndarray, loss: Loss, spectrum: Spectrum, digits: int) -> np.ndarray:
    """The reference gradient of a loss with a unique gradient at ``a``, computed with ``digits``
    decimal digits and rounded to float64. ``loss`` must be bound to the shape (losses of U and V)."""
    import mpmath

    a64 = working(a)
    exponent = int(scale_exponents(a64[None])[0])
    scaled = scale_by_power_of_two(a64, -exponent)  # exact, so mpmath sees the input itself, scaled
    on_complex = is_complex(a64)
    svd = mpmath.svd_c if on_complex else mpmath.svd_r
    to_number = complex if on_complex else float
    with mpmath.workdps(digits):
        u, s, vh = svd(mpmath.matrix(scaled.tolist()), full_matrices=False)
        u, v = _as_objects(u), adjoint(_as_objects(vh))
        s = np.array([s[i] for i in range(s.rows)], dtype=object)
        gradient = _gradient(loss, u, s, v, spectrum)
        values = np.array([[to_number(x) for x in row] for row in gradient])
    degree = getattr(loss, "gradient_degree", 0)
    return scale_by_power_of_two(values, exponent * degree)


def _gradient(loss: Loss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    if isinstance(loss, SpectralLoss):
        return spectral_gradient(u, v, loss.weights(len(s)).astype(object))
    constants = {name: value.astype(object) for name, value in loss.arrays.items()}
    if loss.order is not None and loss.kind in ("polar", "recon"):  # truncated map (truncated.py)
        return top_gradient(replace(loss, arrays=constants), u, s, v, spectrum.zero_mask())
    if loss.kind == "polar":
        return polar_gradient(u, s, v, constants["C"], spectrum.zero_mask())
    if loss.kind == "proj":
        return projector_gradient(u, s, v, constants["C"], order_of(loss))
    import mpmath

    norm = mpmath.sqrt(mpmath.fsum(x * x for x in s))
    return spectral_gradient(u, v, s / norm)
