"""The reference checked against the loss itself: finite differences along seeded directions.

A few extra SVDs per matrix (docs/theory.md §7), on the matrix scaled by a power of two (exact, so
the check and its tolerance are the same at 2^k A as at A): central differences where L is
differentiable, with the truncation error measured by Richardson's comparison of steps h and 2h;
where L is convex but not differentiable, the support-function inequality of a norm (below). On
complex input the directions alternate between real and imaginary ones and <G, E> = Re sum conj(G) E:
the steepest-ascent convention of field.py, checked along both parts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from svdgrad_cli.numerics.field import is_complex, scale_by_power_of_two, standard_normal, working
from svdgrad_cli.numerics.losses import NUMPY_OPS, Loss, VectorLoss
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference_result import Reference
from svdgrad_cli.numerics.spectrum import Spectrum
from svdgrad_cli.numerics.svd import scale_exponents, thin_svd

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
    slack: float = 0.0,
    term_size: float = 0.0,
) -> dict | None:
    """Check a reference gradient along a few seeded directions; None when no check applies.

    ``values`` maps a stack of matrices to their loss values (one batched SVD call for all points);
    ``top`` is the length over which the gradient is smooth: s_1, or s_1 / condition where the
    gradient turns faster (a near tie the loss separates), and 1 for a zero matrix; ``extent`` is s_1;
    ``term_size`` the size of G's terms where they cancel (the reference's natural scale).
    Differentiable: central differences with h = eps^(1/3) * top; the truncation error is estimated
    by Richardson's comparison with step 2h, so the tolerance is measured, not guessed.
    Convex, non-differentiable: the convex losses here are norms, L(B) = max <Z, B> over the dual
    unit ball, and G lies in that ball, so L(A + tE) >= <G, A> + t <G, E> exactly (t = sqrt(eps) *
    top); and 0 <= L(A) - <G, A> <= ``slack``, the most that the spectrum's tolerance allows (values
    up to zero_tol * s_1 count as zero, values that far apart as tied: G is a subgradient at the
    matrix with that structure, not at A itself). Checking <G, E> against (L(A + tE) - L(A)) / t
    instead would fail wherever a value counted as zero is larger than t (the step then sees L
    differentiable there, with a gradient that G leaves out).
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
        # |L| + ||A||_2 ||G||_F (the change of L over a relative perturbation of order one), with
        # the size of G's terms for ||G||_F where they cancel (uv along each pair: G = 0, L = 0).
        scale = float(np.max(np.abs(at))) + extent * max(frobenius(gradient), term_size)
        tolerances = 2 * np.abs(fd_2h - fd_h) + 100 * eps * (scale / h + 1)
    else:
        t = np.sqrt(eps) * top
        at = values(np.concatenate([a[None], a[None] + t * directions]))
        anchor = float(np.real(np.vdot(gradient, a)))  # <G, A>
        below = max(at[0] - anchor - slack, anchor - at[0], 0.0) / t  # L(A) - <G, A> outside [0, slack]
        errors = np.append(np.maximum(predicted - (at[1:] - anchor) / t, 0.0), below)
        tolerances = np.full(count + 1, 100 * eps * (abs(at[0]) / t + 1))
    return {
        "kind": "central" if differentiable else "one-sided",
        "directions": count,
        "max_error": float(np.max(errors)),
        "tolerance": float(np.max(tolerances)),
        "passed": bool(np.all(errors <= tolerances)),
    }


def structure_slack(spectrum: Spectrum, w: np.ndarray) -> float:
    """An upper bound on L(A) - <G, A> for the minimum-norm member G of the gradient set of sum w_i s_i:
    sum_i |w_i - wbar_i| times the width of i's cluster (wbar: the cluster's mean weight, 0 on the
    zero cluster, whose width is its largest value)."""
    ids, zero, s = spectrum.cluster_ids(), spectrum.zero_mask(), spectrum.values
    slack = 0.0
    for cluster in np.unique(ids):
        members = ids == cluster
        on_zero = bool(np.any(zero & members))
        mean = 0.0 if on_zero else float(np.mean(w[members]))
        width = float(np.max(s[members])) if on_zero else float(np.ptp(s[members]))
        slack += float(np.sum(np.abs(w[members] - mean))) * width
    return slack


def _vector_values(loss: VectorLoss) -> Callable[[np.ndarray], np.ndarray]:
    def values(points: np.ndarray) -> np.ndarray:
        return np.array([float(loss.evaluate(NUMPY_OPS, *thin_svd(x))) for x in points])

    return values


def verify_reference(
    reference: Reference, a: np.ndarray, loss: Loss, spectrum: Spectrum, seed: int
) -> Reference:
    """The reference with its finite-difference check done and recorded (see finite_difference_check).
    The check runs on 2^-e A (e: the exponent of A's largest entry) and its numbers are scaled back."""
    if reference.gradient is None:
        return reference
    a64 = working(a)
    exponent = int(scale_exponents(a64[None])[0])
    degree = getattr(loss, "gradient_degree", 0)  # G(2^e A) = 2^(e * degree) G(A)
    top = float(np.ldexp(spectrum.top, -exponent))
    slack = 0.0
    if isinstance(loss, VectorLoss):
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
        slack = float(np.ldexp(structure_slack(spectrum, w), -exponent))
    # The steps stay well inside the region where the gradient is smooth: a secant across a gap the
    # loss separates measures nothing. Below a hundred roundings of A no step can resolve it.
    length = top / max(1.0, reference.condition) if differentiable else top
    if differentiable and np.finfo(np.float64).eps ** (1 / 3) * length < UNRESOLVED * top:
        return replace(reference, method=f"{reference.method}; too ill-conditioned for finite differences")
    scaled = scale_by_power_of_two(a64, -exponent)
    gradient = scale_by_power_of_two(working(reference.gradient), -exponent * degree)
    term_size = float(np.ldexp(reference.natural_scale, -exponent * degree))
    with np.errstate(all="ignore"):
        fd = finite_difference_check(
            scaled, values, gradient, differentiable, convex, seed, length, top, slack, term_size
        )
    if fd is None:
        return reference
    for key in ("max_error", "tolerance"):
        fd[key] = float(np.ldexp(fd[key], exponent * degree))
    method = f"{reference.method} + {fd['kind']} differences along {fd['directions']} direction(s)"
    return replace(reference, finite_difference=fd, method=method)
