"""Error budgets of a JVP and of an HVP, from the conditioning of each map (issue 25; docs/theory.md §11a).

- JVP, <G, E>: a backend whose gradient errs by dG gives <G + dG, E>, off by at most ||dG||_F ||E||_F
  (Cauchy-Schwarz). So the gradient's budget (budget.py), its scale and its reference uncertainty,
  each times ||E||_F. Relative to ||G||_F ||E||_F, the size of the terms of the sum.
- HVP, H(A)[E]: a backward-stable SVD gives the exact HVP of some A + dA with ||dA||_2 <~ eps ||A||_2,
  off by ||D_A H(A)[E]||_2 ||dA|| (the HVP map's conditioning, hvp.py's ``sensitivity``); forming H
  from its terms, each of size up to ||DG||_2 ||E||_F (the Hessian's norm, conditioning.py), rounds
  it by about eps sqrt(max(m, n)) times that. So

      budget = factor * eps * (||A||_2 ||D_A H[E]||_2 + sqrt(max(m, n)) * max(||H[E]||_F, ||DG||_2 ||E||_F))

  Measured (bench/calibrate_modes.py: random Q1 diag(s) Q2^T, s in [1, 2], 4x4 to 64x64; sum, sv:1,
  topk:2, proj:2; three directions; every framework's paths): float32 errors reach 7.09 units
  (median 1.1, 95th percentile 3.4), float64 8.16 (median 1.0). So HVP_SINGLE_FACTOR is 1.4x the
  largest float32 error; in float64 the gradient's DOUBLE_FACTOR (budget.py), which leaves room for
  the float64 reference's own error, holds them too. Where the budget reaches UNDETERMINED of
  ||H[E]||, the data in that dtype do not determine the HVP (``indeterminate``). The JVPs' errors
  stay below 0.8 units of the gradient's budget times ||E||_F (largest 0.64 in float32, 0.79 in
  float64).
"""

from __future__ import annotations

import math

import numpy as np

from svdgrad_cli.numerics.budget import CANCELLED, REFERENCE_FACTOR, Budget, calibrated_factor, make_budget
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import machine_eps

HVP_SINGLE_FACTOR = 10.0  # float32: 1.4x the largest measured error (module docstring)


def hvp_factor(dtype) -> float:
    """The HVP budget's constant: HVP_SINGLE_FACTOR in single precision, the gradient's in double."""
    return calibrated_factor(dtype) if machine_eps(dtype) < machine_eps(np.float32) else HVP_SINGLE_FACTOR


def jvp_budget(reference, shape: tuple[int, int], dtype, direction: np.ndarray, factor=None) -> Budget:
    """The budget of a JVP along ``direction``: the gradient's budget times ||E||_F."""
    gradient = make_budget(reference, shape, dtype, factor)
    size = frobenius(direction)
    return Budget(gradient.allowed * size, gradient.scale * size, gradient.uncertainty * size, gradient.eps)


def hvp_unit(hvp, hessian_norm: float, shape: tuple[int, int], direction: np.ndarray) -> tuple[float, float]:
    """(the error of one eps of backward error, the size of the HVP's terms) (module docstring)."""
    terms = max(frobenius(hvp.value), hessian_norm * frobenius(direction))
    return hvp.matrix_norm * hvp.sensitivity + math.sqrt(max(shape)) * terms, terms


def hvp_budget(
    hvp, hessian_norm: float, shape: tuple[int, int], dtype, direction: np.ndarray, factor=None
) -> Budget:
    """The budget of a backend's H(A)[E] computed in ``dtype`` (``hvp`` from hvp.reference_hvp)."""
    unit, terms = hvp_unit(hvp, hessian_norm, shape, direction)
    norm = frobenius(hvp.value)
    scale = norm if norm > CANCELLED * terms else terms
    eps = machine_eps(dtype)
    allowed = (factor or hvp_factor(dtype)) * eps * unit
    return Budget(allowed, scale, REFERENCE_FACTOR * machine_eps(np.float64) * unit, eps)
