"""The rounding witness (issue 20): how far the gradient of this matrix moves when its SVD is computed
in the backend's precision by a backward-stable algorithm, measured rather than bounded.

A backward-stable SVD in a dtype with machine epsilon eps returns the exact factors of A + E with
||E||_2 <~ p(m, n) eps ||A||_2 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
§19.3 and the Demmel-Kahan bidiagonal QR: Demmel and Kahan 1990); the gradient read off those factors
errs by DG[E], up to ||DG||_2 ||E|| in the worst direction. Rounding excites E in the directions
that the algorithm's Householder reflections and rotations happen to produce, not the worst one,
and the worst-direction bound overstates what the frameworks err by on dense spectra by up to the
matrix's size (bench/budget_tightness.py). So the budget's rounding term is measured on the matrix
itself: LAPACK's divide-and-conquer SVD (xGESDD, through SciPy: NumPy computes float32 in float64)
of A in the backend's dtype, and of A plus random perturbations of the size of one rounding of A
(Frobenius size eps ||A||_2: independent rounding patterns), each turned into the gradient by the
reference's own closed form (Townsend 2016; Giles 2008) evaluated in float64, so that the witness
contains the SVD's error and not the backward formula's (budget.py adds that as its own term). The
root mean square of their differences from the reference gradient is the witness: the frameworks'
errors scatter around it (one LAPACK call's error is a sample, not a bound), and on the grid of
bench/budget_tightness.py the largest of the four frameworks' float32 errors lies within 0.38 to 6.0
times it (median 1.4), against 0.05 to 6.7 units of the worst direction.

Computed on A scaled by a power of two (svd.py), so 2^k A has exactly 2^(k d) times the witness of A,
d the gradient's degree (losses.py).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from svdgrad_cli.numerics.field import adjoint, is_complex, scale_by_power_of_two, standard_normal, working
from svdgrad_cli.numerics.gradients import spectral_gradient
from svdgrad_cli.numerics.losses import Loss, VectorLoss
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import averaged_weights, vector_gradient
from svdgrad_cli.numerics.spectrum import Spectrum, machine_eps
from svdgrad_cli.numerics.svd import scale_exponents

SAMPLES = 3  # A rounded to the dtype, and A plus two rounding-sized random perturbations


def closed_form(loss: Loss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    """The reference's closed form (reference.py) read off the factors U, s, V."""
    if isinstance(loss, VectorLoss):
        return vector_gradient(loss, u, s, v, spectrum)
    return spectral_gradient(u, v, averaged_weights(spectrum, loss.weights(len(s))))


def _perturbed(a: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """A plus a random perturbation of Frobenius size ``size``."""
    e = standard_normal(rng, a.shape, is_complex(a))
    return a + e * (size / frobenius(e))


def _error(sample: np.ndarray, loss: Loss, target: np.ndarray, spectrum: Spectrum) -> tuple[float, float]:
    """||G(SVD of ``sample``, in its dtype) - target||_F, and the sample's largest singular value."""
    u, s, vh = scipy.linalg.svd(sample, full_matrices=False, check_finite=False)
    found = closed_form(loss, working(u), working(s), working(adjoint(vh)), spectrum)
    return frobenius(found - target), float(s[0]) if len(s) else 0.0


def rounding_witness(
    a: np.ndarray, loss: Loss, gradient: np.ndarray, spectrum: Spectrum, dtype, seed: int = 0
) -> float:
    """The root mean square over SAMPLES of ||G(SVD of a sample in ``dtype``) - gradient||_F, with
    ``gradient`` the reference's G(A) and ``spectrum`` its (for which weights and clusters apply)."""
    a64 = working(a)
    exponent = int(scale_exponents(a64[None])[0])
    scaled = scale_by_power_of_two(a64, -exponent)
    degree = loss.gradient_degree
    target = scale_by_power_of_two(working(gradient), -exponent * degree)
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        first, top = _error(scaled.astype(dtype), loss, target, spectrum)
        size = machine_eps(dtype) * top  # ||E||_F = eps ||A||_2: one more rounding of A
        others = [
            _error(_perturbed(scaled, size, rng).astype(dtype), loss, target, spectrum)[0]
            for _ in range(SAMPLES - 1)
        ]
    rms = np.sqrt(np.mean(np.square([first, *others])))
    return float(np.ldexp(rms, exponent * degree))
