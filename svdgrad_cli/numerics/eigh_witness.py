"""The rounding witness of an eigh gradient (issue 27, as witness.py for the SVD, issue 20): how far the
gradient of this matrix moves when its eigendecomposition is computed in single precision by a
backward-stable algorithm, measured rather than bounded.

A backward-stable eigh in a dtype with machine epsilon eps returns the exact eigenpairs of A + E with
E Hermitian and ||E||_2 <~ p(n) eps ||A||_2 (Higham 2002, §8 and ch. 19 for Householder
tridiagonalisation; Demmel 1997, §5.3), so the gradient read off them errs by DG[E], up to
||DG||_2 ||E|| in the worst direction; rounding excites E in the directions the reflections and
rotations happen to produce. So the budget's rounding term is measured on the matrix itself: LAPACK's
divide-and-conquer (xSYEVD / xHEEVD) and implicit-QR (xSYEV / xHEEV) eigh, through SciPy, in the
backend's dtype, each reading the lower and then the upper triangle (four rounding patterns of the
same data: the reduction to tridiagonal form runs from opposite ends), each turned into the gradient
by the reference's own closed form (eigh_reference.reference_from) in float64, so that the witness
holds the decomposition's error and not the backward formula's (budget.py adds that as its own term).
The largest of their differences from the reference gradient is the witness: a sample, not a bound,
so budget.py's EIGH_WITNESS_FACTOR is calibrated by bench/eigh_calibration.py. Unlike the SVD's
(witness.py: the root mean square of two divide-and-conquer samples), TensorFlow's eigh (Eigen's
tridiagonal QR) errs by up to 23 such samples (expm, 64x64 Gaussian float32); on the grid of
bench/eigh_calibration.py from 4x4 to 128x128 the largest honest framework error ranges over 0.61 to
22.7 of them (median 1.9), against 0.25 to 11.8 (median 1.3) of this witness.

Computed on A scaled by a power of two (svd.scale_exponents) and scaled back exactly, so that 2^k A
has the same float32 rounding pattern as A: for a loss whose gradient has degree d in A, 2^k A has
2^(k d) times the witness of A, and the same relative budget.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from svdgrad_cli.numerics.budget import Witness
from svdgrad_cli.numerics.eigh_losses import EighLoss
from svdgrad_cli.numerics.eigh_reference import EighReference, reference_from
from svdgrad_cli.numerics.field import is_complex, scale_by_power_of_two, working
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.svd import scale_exponents

# (driver, lower): divide and conquer (xSYEVD) and implicit QR (xSYEV, the algorithm of Eigen's
# solver, which TensorFlow calls), each reading the lower and then the upper triangle
SAMPLES = (("evd", True), ("evd", False), ("ev", True), ("ev", False))
EPS32 = float(np.finfo(np.float32).eps)  # the witness is computed in single precision


def _scaled(a: np.ndarray) -> tuple[np.ndarray, int]:
    """(A / 2^e with its largest entry in [1, 2), e), exact."""
    exponent = int(scale_exponents(working(a)[None])[0])
    return scale_by_power_of_two(working(a), -exponent), exponent


def _error(w: np.ndarray, q: np.ndarray, exponent: int, loss: EighLoss, target: np.ndarray | None) -> float:
    """||G(w 2^e, Q) - target||_F by the reference's closed form (inf where the sample's eigenvalues
    land on a tie the reference does not have: then the witness cannot stand for the budget)."""
    found = reference_from(np.ldexp(working(w), exponent), working(q), loss, EPS32).gradient
    return float("inf") if found is None or target is None else frobenius(found - target)


def rounding_witness(a: np.ndarray, loss: EighLoss, reference: EighReference, dtype) -> float:
    """The largest over SAMPLES of ||G(eigh of A in ``dtype``) - G||_F, G the reference's."""
    scaled, exponent = _scaled(a)
    single = scaled.astype(dtype)  # exact: a power of two of a matrix stored in ``dtype``
    errors = []
    with np.errstate(all="ignore"):
        for driver, lower in SAMPLES:
            w, q = scipy.linalg.eigh(single, lower=lower, driver=driver, check_finite=False)
            errors.append(_error(w, q, exponent, loss, reference.gradient))
    return max(errors)


def ulp_spread(a: np.ndarray, loss: EighLoss, reference: EighReference, seed: int = 0) -> float:
    """||G(A + D o ulp(A)) - G||_F for one seeded Hermitian sign pattern D, in float64: how far the
    gradient moves when every entry of A is off by one ulp of its own dtype (the data's own rounding)."""
    scaled, exponent = _scaled(a)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=a.shape)
    signs = np.triu(signs) + np.triu(signs, 1).T  # symmetric: the moved matrix stays Hermitian
    ulp = np.spacing(np.abs(scale_by_power_of_two(a, -exponent)))  # exact: a power of two
    moved = scaled + signs * working(ulp.real if is_complex(ulp) else ulp)
    w, q = np.linalg.eigh(moved)
    with np.errstate(all="ignore"):
        return _error(w, q, exponent, loss, reference.gradient)


def eigh_witness(a: np.ndarray, loss: EighLoss, reference: EighReference, seed: int = 0) -> Witness:
    """Both measures of budget.py's Witness for a single-precision matrix ``a``."""
    svd, ulp = rounding_witness(a, loss, reference, a.dtype), ulp_spread(a, loss, reference, seed)
    return Witness(svd, typical=None, ulp=ulp)  # budget.py: eigh's witness alone, EIGH_WITNESS_FACTOR
