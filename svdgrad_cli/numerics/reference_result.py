"""The reference for one matrix and loss, as reference.py builds it and verification.py checks it:
the gradient (or the minimum-norm member of the gradient set), its conditioning and how it was found."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from svdgrad_cli.numerics.budget import gradient_scale
from svdgrad_cli.numerics.norms import frobenius

REFINED = " (refined)"  # the precision's suffix where the SVD was refined to float64's rounding
MPMATH = "mpmath"  # how a high-precision reference's ``precision`` begins ("mpmath, 40 digits")


@dataclass(frozen=True)
class Reference:
    """The reference for one matrix and loss (see the module docstring for the mathematics)."""

    singular_values: np.ndarray
    rank: int
    unique: bool
    method: str
    # The gradient when unique, else the minimum-norm member of the (sub/Clarke) gradient set;
    # None where the loss has no gradient at all (it depends on the SVD's arbitrary gauge).
    gradient: np.ndarray | None
    set_description: str
    finite_difference: dict | None = None
    defined: bool = True
    gradient_norm: float | None = None  # kept when the arrays are dropped from a long run
    hessian_norm: float = 0.0  # ||DG||_2: how fast the true gradient moves with A (conditioning.py)
    natural_scale: float = 0.0  # the size of one term of G's closed form (conditioning.py)
    ball_radius: float | None = None  # the set is the Frobenius ball of this radius (a norm at A = 0)
    # complex128 for complex input; "float64 (refined)" where the SVD was refined (refinement.py);
    # "mpmath, N digits" where float64 could not decide
    precision: str = "float64"

    def __post_init__(self) -> None:
        if self.gradient is not None and self.gradient_norm is None:
            object.__setattr__(self, "gradient_norm", frobenius(self.gradient))

    @property
    def high_precision(self) -> bool:
        """Whether this is a high-precision reference (highprec.py), whose own error is negligible."""
        return self.precision.startswith(MPMATH)

    def in_mpmath(self, gradient: np.ndarray, digits: int) -> Reference:
        """This reference with the gradient computed by mpmath at ``digits`` digits (highprec.py)."""
        return replace(
            self,
            gradient=gradient,
            gradient_norm=None,
            precision=f"{MPMATH}, {digits} digits",
            finite_difference=None,
        )

    @property
    def refined(self) -> bool:
        """Whether the float64 SVD was refined (refinement.py): its own error is then far smaller."""
        return self.precision.endswith(REFINED)

    @property
    def failed_check(self) -> bool:
        """Whether the reference failed its own finite-difference check (verification.py): then it
        certifies nothing, and no backend is judged against it (judge.py)."""
        return self.finite_difference is not None and not self.finite_difference["passed"]

    @property
    def matrix_norm(self) -> float:
        """||A||_2 = s_1."""
        return float(self.singular_values[0]) if len(self.singular_values) else 0.0

    @property
    def condition(self) -> float:
        """||A||_2 ||DG||_2 / ||G||_F: the relative condition number of the gradient (budget.py's scale
        where G is zero; inf without one)."""
        scale = gradient_scale(self)
        return self.matrix_norm * self.hessian_norm / scale if scale else float("inf")
