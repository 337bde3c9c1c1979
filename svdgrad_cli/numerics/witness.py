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
of A and of A^H in the backend's dtype, two rounding patterns of the same data (a perturbation of A
below half an ulp would round away), each turned into the gradient
by the reference's own closed form (Townsend 2016; Giles 2008) evaluated in float64, so that the
witness contains the SVD's error and not the backward formula's (budget.py adds that as its own
term). The root mean square of their differences from the reference gradient is the witness: the
frameworks' errors scatter around it (one LAPACK call's error is a sample, not a bound); see
docs/theory.md §5.5 for how far, measured.

Computed on A scaled by a power of two (svd.py), so 2^k A has exactly 2^(k d) times the witness of A,
d the gradient's degree (losses.py).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from svdgrad_cli.numerics.conditioning import spectral_hessian_rms, vector_hessian_rms
from svdgrad_cli.numerics.field import adjoint, is_complex, scale_by_power_of_two, working
from svdgrad_cli.numerics.gradients import spectral_gradient
from svdgrad_cli.numerics.losses import Loss, VectorLoss
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import averaged_weights, vector_gradient
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.numerics.svd import ScaledSVD, scale_exponents

# LAPACK's divide-and-conquer SVD of A and of A^H: two rounding patterns of the same data (a
# perturbation of A below half an ulp would round away in the dtype). xGESVD's QR iteration errs
# more than the frameworks do (on bench/budget_tightness.py's grid: a spread of 43x, against 17x).
SAMPLES = (("gesdd", False), ("gesdd", True))


def closed_form(loss: Loss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    """The reference's closed form (reference.py) read off the factors U, s, V."""
    if isinstance(loss, VectorLoss):
        return vector_gradient(loss, u, s, v, spectrum)
    return spectral_gradient(u, v, averaged_weights(spectrum, loss.weights(len(s))))


def _error(a: np.ndarray, driver: str, transposed: bool, loss: Loss, target, spectrum: Spectrum) -> float:
    """||G(the ``driver`` SVD of A, or of A^H, in A's dtype) - target||_F."""
    u, s, vh = scipy.linalg.svd(
        adjoint(a) if transposed else a, full_matrices=False, check_finite=False, lapack_driver=driver
    )
    u, v = (adjoint(vh), u) if transposed else (u, adjoint(vh))
    found = closed_form(loss, working(u), working(s), working(v), spectrum)
    return frobenius(found - target)


def rounding_witness(a: np.ndarray, loss: Loss, gradient: np.ndarray, spectrum: Spectrum, dtype) -> float:
    """The root mean square over SAMPLES of ||G(SVD of A in ``dtype``) - gradient||_F, with ``gradient``
    the reference's G(A) and ``spectrum`` its (for which weights and clusters apply)."""
    a64 = working(a)
    exponent = int(scale_exponents(a64[None])[0])
    scaled = scale_by_power_of_two(a64, -exponent).astype(dtype)  # exact: a power of two
    del a64  # not needed beside LAPACK's working set (a big matrix: tens of MiB)
    degree = loss.gradient_degree
    target = scale_by_power_of_two(working(gradient), -exponent * degree)
    with np.errstate(all="ignore"):
        errors = [_error(scaled, *sample, loss, target, spectrum) for sample in SAMPLES]
    return float(np.ldexp(np.sqrt(np.mean(np.square(errors))), exponent * degree))


def typical_sensitivity(loss: Loss, svd: ScaledSVD, spectrum: Spectrum, seed: int) -> float:
    """sqrt(max(m, n)) ||A||_F times the root mean square of ||DG[E]||_F over unit directions E: how far
    the true gradient moves, on average over directions, under a backward error of size
    sqrt(max(m, n)) ||A||_F (times eps), the typical growth of Householder rounding (Higham 2002,
    §3.8 and §19.3: sqrt(n) where the worst case has n). Deterministic (exact eigenvalues of the
    Hessian for a loss of s, Hutchinson's estimator on the seeded probes of conditioning.py for a
    loss of U and V), computed on A scaled by a power of two (``svd``), so 2^k A has exactly 2^(k d)
    times the value of A."""
    u, s, v = svd.u, svd.s, svd.v
    if isinstance(loss, VectorLoss):
        rms = vector_hessian_rms(loss, u, s, v, spectrum, seed)
    else:
        rms = spectral_hessian_rms(s, loss.weights(len(s)), spectrum, phases=is_complex(u))
    size = np.sqrt(max(len(u), len(v))) * frobenius(s) * rms
    return float(np.ldexp(size, svd.exponent * loss.gradient_degree))
