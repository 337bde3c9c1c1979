"""The reference checked against the loss itself: finite differences along seeded directions.

A few extra SVDs per matrix (docs/theory.md §7): central differences where L is differentiable, with
the truncation error measured by Richardson's comparison of steps h and 2h; where L is convex but not
differentiable, the one-sided subgradient inequality <G, E> <= (L(A + tE) - L(A)) / t. On complex
input the directions alternate between real and imaginary ones and <G, E> = Re sum conj(G) E: the
steepest-ascent convention of field.py, checked along both parts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from svdgrad_cli.numerics.field import is_complex, standard_normal, working
from svdgrad_cli.numerics.losses import NUMPY_OPS, Loss, VectorLoss
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.numerics.svd import thin_svd

if TYPE_CHECKING:
    from svdgrad_cli.numerics.reference import Reference

# Finite-difference directions by matrix size (each costs two to four extra SVDs).
FD_DIRECTIONS_SMALL = 2  # up to FD_SMALL_ELEMENTS entries
FD_SMALL_ELEMENTS = 256 * 256
FD_DIRECTIONS_LARGE = 1  # up to FD_MAX_ELEMENTS entries; none above
FD_MAX_ELEMENTS = 1024 * 1024
UNRESOLVED = 100 * np.finfo(np.float64).eps  # relative steps below this are lost in the rounding of A


@functools.lru_cache(maxsize=64)
def _directions(shape: tuple[int, int], count: int, seed: int, on_complex: bool = False) -> np.ndarray:
    """``count`` seeded random directions of unit Frobenius norm, stacked (shared, read-only); on
    complex input real and imaginary in turn (one alone is complex in both parts)."""
    rng = np.random.default_rng(seed)
    if on_complex and count == 1:
        e = standard_normal(rng, (count, *shape), True)
    elif on_complex:
        e = rng.standard_normal((count, *shape)) * np.where(np.arange(count) % 2, 1j, 1)[:, None, None]
    else:
        e = rng.standard_normal((count, *shape))
    e /= np.linalg.norm(e, axis=(1, 2), keepdims=True)
    e.flags.writeable = False
    return e


def finite_difference_check(
    a: np.ndarray,
    values: Callable[[np.ndarray], np.ndarray],
    gradient: np.ndarray,
    differentiable: bool,
    convex: bool,
    seed: int,
    top: float,
    extent: float,
) -> dict | None:
    """Check a reference gradient along a few seeded directions; None when no check applies.

    ``values`` maps a stack of matrices to their loss values (one batched SVD call for all points);
    ``top`` is the length over which the gradient is smooth: s_1, or s_1 / condition where the
    gradient turns faster (a near tie the loss separates), and 1 for a zero matrix; ``extent`` is s_1.
    Differentiable: central differences with h = eps^(1/3) * top; the truncation error is estimated
    by Richardson's comparison with step 2h, so the tolerance is measured, not guessed.
    Convex, non-differentiable: <G, E> <= (L(A + tE) - L(A)) / t + tol with t = sqrt(eps) * top.
    Non-convex and non-differentiable (sv:K inside a tie): no inequality holds; not checked.
    """
    if a.size > FD_MAX_ELEMENTS or (not differentiable and not convex):
        return None
    top = top or 1.0
    count = FD_DIRECTIONS_SMALL if a.size <= FD_SMALL_ELEMENTS else FD_DIRECTIONS_LARGE
    eps = np.finfo(np.float64).eps
    directions = _directions(a.shape, count, seed, is_complex(a))
    predicted = np.real(np.tensordot(np.conj(directions), gradient, axes=2))
    if differentiable:
        h = eps ** (1 / 3) * top
        steps = np.array([h, -h, 2 * h, -2 * h])
        points = a[None] + steps[None, :, None, None] * directions[:, None]
        at = values(points.reshape(-1, *a.shape)).reshape(count, 4)
        fd_h = (at[:, 0] - at[:, 1]) / (2 * h)
        fd_2h = (at[:, 2] - at[:, 3]) / (4 * h)
        errors = np.abs(fd_h - predicted)
        # L is a sum of terms that may cancel: its rounding is eps times their size, about
        # |L| + ||A||_2 ||G||_F (the change of L over a relative perturbation of order one).
        scale = float(np.max(np.abs(at))) + extent * frobenius(gradient)
        tolerances = 2 * np.abs(fd_2h - fd_h) + 100 * eps * (scale / h + 1)
    else:
        t = np.sqrt(eps) * top
        at = values(np.concatenate([a[None], a[None] + t * directions]))
        errors = np.maximum(predicted - (at[1:] - at[0]) / t, 0.0)
        tolerances = np.full(count, 100 * eps * (abs(at[0]) / t + 1))
    return {
        "kind": "central" if differentiable else "one-sided",
        "directions": count,
        "max_error": float(np.max(errors)),
        "tolerance": float(np.max(tolerances)),
        "passed": bool(np.all(errors <= tolerances)),
    }


def _vector_values(loss: VectorLoss) -> Callable[[np.ndarray], np.ndarray]:
    def values(points: np.ndarray) -> np.ndarray:
        return np.array([float(loss.evaluate(NUMPY_OPS, *thin_svd(x))) for x in points])

    return values


def verify_reference(
    reference: Reference, a: np.ndarray, loss: Loss, spectrum: Spectrum, seed: int
) -> Reference:
    """The reference with its finite-difference check done and recorded (see finite_difference_check)."""
    if reference.gradient is None:
        return reference
    a64 = working(a)
    if loss.needs_vectors:
        values, differentiable, convex = (
            _vector_values(loss),
            reference.unique,
            reference.ball_radius is not None,
        )
    else:
        w = loss.weights(len(spectrum.values))
        values, differentiable, convex = (
            lambda points: np.linalg.svd(points, compute_uv=False) @ w,
            reference.unique,
            loss.convex,
        )
    # The steps stay well inside the region where the gradient is smooth: a secant across a gap the
    # loss separates measures nothing. Below a hundred roundings of A no step can resolve it.
    length = spectrum.top / max(1.0, reference.condition) if differentiable else spectrum.top
    if differentiable and np.finfo(np.float64).eps ** (1 / 3) * length < UNRESOLVED * spectrum.top:
        return replace(reference, method=f"{reference.method}; too ill-conditioned for finite differences")
    with np.errstate(all="ignore"):
        fd = finite_difference_check(
            a64, values, reference.gradient, differentiable, convex, seed, length, spectrum.top
        )
    if fd is None:
        return reference
    method = f"{reference.method} + {fd['kind']} differences along {fd['directions']} direction(s)"
    return replace(reference, finite_difference=fd, method=method)
