"""The float64 (complex128) SVDs of the reference: of a whole stack at once, each matrix scaled by a
power of two.

Scaling by 2**-e with e the exponent of the largest entry is exact, so the singular vectors do not
depend on the magnitude of A and every derived quantity scales back exactly (docs/theory.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.field import adjoint, scale_by_power_of_two, working


@dataclass(frozen=True)
class ScaledSVD:
    """The thin SVD of A * 2**-exponent: A = U diag(s * 2**exponent) V^H, exactly."""

    u: np.ndarray
    s: np.ndarray
    v: np.ndarray
    exponent: int

    @property
    def values(self) -> np.ndarray:
        """The singular values of A itself."""
        return np.ldexp(self.s, self.exponent)


def scale_exponents(stack: np.ndarray) -> np.ndarray:
    """Per matrix of a (b, m, n) stack, the power of two that brings its largest entry into [1, 2)."""
    largest = np.max(np.abs(stack), axis=(-2, -1))
    return np.where(largest > 0, np.frexp(largest)[1] - 1, 0)


def stack_svd(stack: np.ndarray) -> list[ScaledSVD]:
    """The scaled thin SVD of every matrix of a (b, m, n) stack, in one LAPACK call."""
    stack = working(stack)
    exponents = scale_exponents(stack)
    scaled = scale_by_power_of_two(stack, -exponents[:, None, None])
    del stack  # a float64 copy of float32 input, not needed beside LAPACK's working set
    u, s, vh = np.linalg.svd(scaled, full_matrices=False)
    return [ScaledSVD(u[i], s[i], adjoint(vh[i]), int(exponents[i])) for i in range(len(s))]


def thin_svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U (m x k), s (k), V (n x k) of a matrix, in float64 or complex128."""
    u, s, vh = np.linalg.svd(working(a), full_matrices=False)
    return u, s, adjoint(vh)
