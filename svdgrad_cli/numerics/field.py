"""Real or complex: the working type of a matrix, the adjoint, and the pairing that defines a gradient.

For complex input svdgrad's gradient of a real loss L is the steepest-ascent direction
G = dL/d(Re A) + i dL/d(Im A) = 2 dL/d(conj A) (twice the conjugate Wirtinger derivative), so that
dL = Re <G, dA> = Re sum conj(G_ij) dA_ij, as for real input (docs/theory.md §9). Every formula of the
reference is written with the adjoint X^H, which is the transpose for real arrays: one code for both
fields, and for NumPy object arrays of mpmath numbers (highprec.py).
"""

from __future__ import annotations

import numpy as np

# How a backend's gradient of complex input was read (BackendResult.convention starts with one):
CONJUGATED = "conjugated"  # the framework returns dL/dRe A - i dL/dIm A (JAX, autograd)
AS_RETURNED = "as returned"  # it returns svdgrad's dL/dRe A + i dL/dIm A (torch, TensorFlow)


def is_complex(x) -> bool:
    """Whether ``x`` (an array or a dtype) holds complex numbers."""
    dtype = x if isinstance(x, np.dtype) else np.asarray(x).dtype
    return dtype.kind == "c"


def working_dtype(x) -> np.dtype:
    """float64, or complex128 for complex input: the precision of the reference."""
    return np.dtype(np.complex128 if is_complex(x) else np.float64)


def working(a) -> np.ndarray:
    """``a`` in the reference's working precision (a view where it already is)."""
    return np.asarray(a, dtype=working_dtype(a))


def adjoint(x: np.ndarray) -> np.ndarray:
    """X^H over the last two axes (X^T for real arrays)."""
    swapped = np.swapaxes(x, -1, -2)
    return np.conj(swapped) if swapped.dtype.kind in "cO" else swapped


def scale_by_power_of_two(x: np.ndarray, exponent) -> np.ndarray:
    """x * 2**exponent, exact (np.ldexp, part by part for complex x)."""
    if is_complex(x):
        return np.ldexp(x.real, exponent) + 1j * np.ldexp(x.imag, exponent)
    return np.ldexp(x, exponent)


def standard_normal(rng: np.random.Generator, shape, complex_: bool) -> np.ndarray:
    """Standard normal entries; complex ones with independent parts of variance 1/2 (E|z|^2 = 1)."""
    if not complex_:
        return rng.standard_normal(shape)
    parts = rng.standard_normal((2, *shape))
    return (parts[0] + 1j * parts[1]) * np.sqrt(0.5)
