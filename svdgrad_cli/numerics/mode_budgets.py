"""Error budgets of a JVP and of an HVP, from the conditioning of each map (issue 25; budget.py's reasoning).

- JVP, <G, E>: a backend whose gradient errs by dG gives <G + dG, E>, off by at most ||dG||_F ||E||_F
  (Cauchy-Schwarz). So the gradient's budget (budget.py), its scale and its reference uncertainty,
  each times ||E||_F. Relative to ||G||_F ||E||_F, the size of the terms of the sum.
- HVP, H(A)[E]: a backward-stable SVD gives the exact HVP of some A + dA with ||dA||_2 <~ eps ||A||_2,
  off by ||D_A H(A)[E]||_2 ||dA|| (the HVP map's conditioning, hvp.py's ``sensitivity``); forming H
  from its terms, each of size up to ||DG||_2 ||E||_F (the Hessian's norm, conditioning.py), rounds
  it by about eps sqrt(max(m, n)) times that. So

      budget = factor * eps * (||A||_2 ||D_A H[E]||_2 + sqrt(max(m, n)) * max(||H[E]||_F, ||DG||_2 ||E||_F))

  with the gradient's calibrated factors (budget.py). Every term has degree d - 1 in A (G of
  degree d): exact 2^k scaling of A leaves the relative budget unchanged (tests/test_modes_numerics.py).
  Measured: at random 6x6 matrices the frameworks' float32 HVP errors are within 0.02 to 0.3 of
  this budget (README, Second order); where the budget reaches UNDETERMINED of ||H[E]||, the data
  in that dtype do not determine the HVP (``indeterminate``).
"""

from __future__ import annotations

import math

import numpy as np

from svdgrad_cli.numerics.budget import CANCELLED, REFERENCE_FACTOR, Budget, calibrated_factor, make_budget
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import machine_eps


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
    allowed = (factor or calibrated_factor(dtype)) * eps * unit
    return Budget(allowed, scale, REFERENCE_FACTOR * machine_eps(np.float64) * unit, eps)
