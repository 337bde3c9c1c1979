"""Error budgets: what a backward-stable evaluation of the gradient would err by, in a given precision.

A backward-stable SVD in a dtype with machine epsilon eps returns the exact factors of some A + E with
||E||_2 <~ eps ||A||_2; the exact gradient there differs from G(A) by up to ||DG||_2 ||E||, and
forming G from the factors rounds it again by about eps ||G||. So (docs/theory.md §5)

    budget = factor * eps * (||A||_2 ||DG||_2 + sqrt(max(m, n)) * scale)

where scale = max(||G||_F, natural scale),
and ||DG||_2 is the operator norm of the true gradient's derivative (conditioning.py), never a
backend's own formula: a framework that divides rounding by a gap the loss does not have is judged
against what the data justify. The worst direction, not the typical one, is what rounding excites:
on Gaussian, dense, clustered, power-law and near-rank-deficient spectra from 4x4 to 1024x1024
(bench/budget_tightness.py) torch's, TensorFlow's and JAX's float32 errors stay within 0.3 to 7 of
this unit at every size, while in units of the root-mean-square sensitivity
||A||_F ||DG||_F / sqrt(mn) (conditioning.py) they grow like sqrt(n) (median 2.7 at 4x4, 78 at
1024x1024). The second term's weight is set by recon, whose budget it is: up to 64x64 the
frameworks' errors there reach 5.5 sqrt(n) eps ||G||. The factors are fitted on the same grid:
SINGLE_FACTOR is 1.2x the largest float32 error of the four frameworks (6.65 units over 731 cases;
7.24 over 375 cases up to 256x256 in a later run). In double precision the budget is DOUBLE_FACTOR,
1.2x the frameworks' largest float64 error (11.9 units over 375 cases from 4x4 to 256x256, measured
against the refined reference), plus the reference's own error factor (reference_factor): 1 unit
for a refined SVD (refinement.py; Ogita and Aishima 2020, worst 0.37 against mpmath), 24 for
LAPACK's (worst 20 against mpmath; complex input, exact ties, zero values), 0 for mpmath, by which
a float64 result must be inside its budget (pipeline/judge.py). What the data determine (relative,
determined, justified digits) leaves that room out. No single factor on this unit, nor on
worst^a rms^(1-a) + b sqrt(n) ||G|| fitted on the grid, keeps float32 budgets within 10x of the
worst framework: its error ranges over 0.03 to 7.2 units (spread 59x at best), mostly proj:K on
power-law spectra, where forming G's terms (natural scale) overstates what frameworks err by.

Single precision (float32, complex64) is budgeted by measurement instead (docs/theory.md §5.5):
6.75 times the geometric mean of the rounding witness (witness.py: what LAPACK's SVD in that
precision errs by on this very matrix, read off by the reference's closed form; one sample) and the
typical sensitivity (witness.py: the root-mean-square move of G under a backward error of typical
size sqrt(max(m, n)) eps ||A||_F; deterministic), plus 0.3 eps sqrt(max(m, n)) term sizes for the
backward formula's own rounding; never below 2 typical sensitivities nor 0.3 units of the worst
direction, nor above SINGLE_FACTOR units; and only where the data determine the gradient (otherwise
the worst direction decides, and says so: ``indeterminate``). Each estimate alone scatters more
around the frameworks' errors than the 10x window between "honest" and "injected 10x" allows
(witness 14x, typical 44x); their geometric mean, 11x.

The budget is relative to nothing: 2^k A has the same relative budget as A. Where it reaches
UNDETERMINED of the gradient's scale, the data in that dtype do not determine the gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.spectrum import machine_eps

REFERENCE_FACTOR = 24.0  # the float64 reference's own error on LAPACK's SVD, in units (measured with mpmath)
REFINED_FACTOR = 1.0  # the same with its SVD refined (refinement.py; calibrated with mpmath)
SINGLE_FACTOR = 8.0  # the budget's constant in single precision (float32, complex64)
DOUBLE_FACTOR = (
    14.5  # double precision, the frameworks' part (1.2x 11.9 units); the reference's error is added
)
WITNESS_FACTOR = 6.75  # single precision: over the geometric mean of witness and typical sensitivity
TYPICAL_FACTOR = 2.0  # single precision: the least budget, in typical sensitivities (witness.py)
EIGH_WITNESS_FACTOR = 12.0  # eigh's witness alone (eigh_witness.py; bench/eigh_calibration.py)
EIGH_ULP_ROUNDING = 3.0  # eigh, single precision: the least budget, in n one-ulp spreads (eigh_witness.py)
FORMING_FACTOR = 0.3  # single precision: the backward formula's rounding, in eps sqrt(n) term sizes
FLOOR_FACTOR = 0.3  # single precision: the least budget, in worst-direction units (error_unit)
UNDETERMINED = 0.1  # relative budget from which the data do not determine the gradient


CANCELLED = 1e-8  # ||G|| below this times the size of its terms: the terms cancel, G is zero


def term_size(reference) -> float:
    """The size of the terms G is formed from: ||G||_F, the least size of one term (where they
    cancel), or the radius of the set at A = 0. Forming G rounds it by eps times this."""
    return max(reference.gradient_norm or 0.0, reference.natural_scale, reference.ball_radius or 0.0)


def gradient_scale(reference) -> float:
    """What relative errors and digits are measured against: ||G||_F, unless G is zero because its
    terms cancel (then the terms' size)."""
    norm = reference.gradient_norm or 0.0
    return norm if norm > CANCELLED * term_size(reference) else term_size(reference)


def error_unit(reference, shape: tuple[int, ...]) -> float:
    """||A||_2 ||DG||_2 + sqrt(max(m, n)) * term size: the error of one eps of backward error."""
    return reference.matrix_norm * reference.hessian_norm + math.sqrt(max(shape)) * term_size(reference)


@dataclass(frozen=True)
class Budget:
    """The error a backend may have here, and how sure the reference is of its own answer."""

    allowed: float  # the budget: absolute Frobenius error
    scale: float  # gradient_scale: the denominator of relative errors and of digits
    uncertainty: float  # the reference's own error, by its precision
    eps: float  # machine epsilon of the backend's dtype
    room: float = 0.0  # the part of ``allowed`` that makes room for the reference's own error

    @property
    def relative(self) -> float:
        """What the data determine, relative to the gradient: the budget without the reference's
        room (the same whichever reference judges)."""
        return (self.allowed - self.room) / self.scale if self.scale else math.inf

    @property
    def determined(self) -> bool:
        """Whether the data in this dtype determine the gradient at all (relative budget < 0.1)."""
        return self.relative < UNDETERMINED

    @property
    def justified_digits(self) -> float:
        """-log10(relative budget): the digits of the gradient that the data justify."""
        return (
            -math.log10(self.relative)
            if 0 < self.relative < math.inf
            else (math.inf if self.relative == 0 else 0.0)
        )

    def digits(self, error: float) -> float:
        """-log10(error / scale): a result's correct digits (inf when exact)."""
        if not self.scale:
            return math.inf if error == 0 else 0.0
        return -math.log10(error / self.scale) if error > 0 else math.inf


def reference_factor(reference) -> float:
    """The reference's own error in units (error_unit): 0 for a high-precision one, REFINED_FACTOR
    for a refined SVD, REFERENCE_FACTOR for LAPACK's (none given: 0)."""
    if reference is None or reference.high_precision:
        return 0.0
    return REFINED_FACTOR if reference.refined else REFERENCE_FACTOR


def reference_uncertainty(reference, shape: tuple[int, ...]) -> float:
    """The estimated error of the reference itself: reference_factor * eps(float64) * unit (0 for
    a high-precision reference: its error is below float64's rounding of the result)."""
    return reference_factor(reference) * machine_eps(np.float64) * error_unit(reference, shape)


def calibrated_factor(dtype, reference=None) -> float:
    """The budget's constant for a backend computing in ``dtype`` against ``reference``: in double
    precision the frameworks' DOUBLE_FACTOR plus the reference's own error (see the module docstring)."""
    if machine_eps(dtype) >= machine_eps(np.float32):
        return SINGLE_FACTOR
    return DOUBLE_FACTOR + reference_factor(reference)


@dataclass(frozen=True)
class Witness:
    """What rounding does on one matrix in single precision (witness.py), before the factor eps."""

    svd: float  # rounding_witness: LAPACK's SVD (eigh) in that precision, read off by the closed form
    typical: float | None  # typical_sensitivity: the gradient's move under a typical backward error, per eps
    ulp: float = 0.0  # eigh (no typical sensitivity): the gradient's move when every entry is off by one ulp


def witnessed_allowance(reference, shape: tuple[int, ...], eps: float, witness: Witness) -> float:
    """The single-precision budget (docs/theory.md §5.5): WITNESS_FACTOR times the geometric mean of
    the rounding witness (what LAPACK's SVD in this precision errs by on this matrix: one sample) and
    the typical sensitivity (the root-mean-square move under a backward error of typical size:
    deterministic, but blind to which directions rounding favours), plus the backward formula's own
    rounding, FORMING_FACTOR eps sqrt(max(m, n)) times the size of G's terms; never below
    TYPICAL_FACTOR typical sensitivities (a witness that was lucky, an exactly representable matrix
    whose SVD is exact) nor FLOOR_FACTOR units of the worst direction (one gap dominating)."""
    forming = FORMING_FACTOR * eps * math.sqrt(max(shape)) * term_size(reference)
    typical = eps * (witness.typical or 0.0)
    floor = FLOOR_FACTOR * eps * error_unit(reference, shape)
    if witness.typical is None:  # eigh: its witness alone, as calibrated (bench/eigh_calibration.py)
        data = EIGH_ULP_ROUNDING * max(shape) * witness.ulp
        return max(EIGH_WITNESS_FACTOR * witness.svd + forming, floor, data)
    return max(WITNESS_FACTOR * math.sqrt(witness.svd * typical) + forming, TYPICAL_FACTOR * typical, floor)


def make_budget(
    reference,
    shape: tuple[int, ...],
    dtype,
    factor: float | None = None,
    rtol=None,
    atol=None,
    witness: Witness | None = None,
) -> Budget:
    """The budget of a backend computing in ``dtype`` (``factor`` None: the calibrated one); rtol/atol
    replace the formula when given. ``witness``: the rounding witness (witness.py) of a single-precision
    dtype, which then sets the calibrated budget (witnessed_allowance)."""
    scale = gradient_scale(reference)
    eps = machine_eps(dtype)
    uncertainty = reference_uncertainty(reference, shape)
    if rtol is not None or atol is not None:
        allowed = (atol or 0.0) + (rtol or 0.0) * (reference.gradient_norm or 0.0)
        return Budget(allowed, scale, uncertainty, eps)
    if factor:
        return Budget(factor * eps * error_unit(reference, shape), scale, uncertainty, eps)
    allowed = calibrated_factor(dtype, reference) * eps * error_unit(reference, shape)
    room = uncertainty if eps < machine_eps(np.float32) else 0.0  # double precision: room included
    budget = Budget(allowed, scale, uncertainty, eps, room)
    if witness is None or eps != machine_eps(np.float32) or not budget.determined:
        return budget  # where the data do not determine G, the worst direction decides (theory.md §5.5)
    witnessed = min(witnessed_allowance(reference, shape, eps, witness), allowed)  # never looser
    return Budget(witnessed, scale, uncertainty, eps)
