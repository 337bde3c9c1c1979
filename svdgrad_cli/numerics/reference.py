"""The float64 reference: gradient (or minimum-norm member of the gradient set) and its own check.

Computed from the input upcast to float64 with NumPy's LAPACK SVD, independent of any backend's
gradient code.

Losses of the singular values, L = sum_i w_i s_i (Lewis 1995; Lewis and Sendov 2005):

- L is differentiable at A iff w is constant on every cluster of tied positive singular values and
  zero on the zero cluster; the gradient is then U diag(w) V^T, which is Townsend's (2016) rule with
  Ubar = Vbar = 0 (svd_vjp.py) and is the same for every SVD of A.
- Otherwise the gradient set is described in membership.py; its minimum-norm member replaces each
  w_C by its mean on the cluster and puts nothing on the zero cluster: sum_C mean(w_C) U_C V_C^T
  (for the nuclear norm at rank r, U_r V_r^T).

Losses of U and V: the loss's cotangents go through the reverse-mode rule with the gauge-aware
treatment of clusters (gauge.py); where the loss depends on the gauge the gradient is ``undefined``.

The reference is then checked numerically, at a handful of extra SVDs (THEORY.md section 5):
central differences along seeded random directions where L is differentiable, and where L is convex
but not differentiable the one-sided subgradient inequality <G, E> <= (L(A + tE) - L(A)) / t.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from svdgrad_cli.numerics.budget import amplification, vector_amplification
from svdgrad_cli.numerics.gauge import cluster_masks, gauge_problems, sign_problems
from svdgrad_cli.numerics.losses import NUMPY_OPS, Loss, SpectralLoss, VectorLoss
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import Spectrum, analyse_spectrum
from svdgrad_cli.numerics.svd_vjp import svd_vjp

# Finite-difference directions by matrix size (each costs two to four extra SVDs).
FD_DIRECTIONS_SMALL = 2  # up to FD_SMALL_ELEMENTS entries
FD_SMALL_ELEMENTS = 256 * 256
FD_DIRECTIONS_LARGE = 1  # up to FD_MAX_ELEMENTS entries; none above
FD_MAX_ELEMENTS = 1024 * 1024
SENSITIVITY_DIRECTIONS = 2  # extra SVDs per matrix for the budget of a loss of U and V


@dataclass(frozen=True)
class Reference:
    """The float64 reference for one matrix and loss (see reference.py for the mathematics)."""

    singular_values: np.ndarray
    rank: int
    unique: bool
    method: str
    # The gradient when unique, else the minimum-norm member of the (sub/Clarke) gradient set;
    # None where the loss has no gradient at all (it depends on the SVD's arbitrary gauge).
    gradient: np.ndarray | None
    set_description: str
    finite_difference: dict | None = None
    amplification: float = 0.0  # factor by which rounding in the SVD is amplified in the gradient
    defined: bool = True
    gradient_norm: float | None = None  # kept when the arrays are dropped from a long run
    cotangent_norm: float = 0.0  # ||Ubar|| + ||sbar|| + ||Vbar|| of a loss of U and V
    sensitivity: float = 0.0  # measured ||dG|| / ||dA|| of a loss of U and V (reference.py)
    ball_radius: float | None = None  # the set is the Frobenius ball of this radius (a norm at A = 0)

    def __post_init__(self) -> None:
        if self.gradient is not None and self.gradient_norm is None:
            object.__setattr__(self, "gradient_norm", frobenius(self.gradient))


def thin_svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U (m x k), s (k), V (n x k) of a float64 matrix."""
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=np.float64), full_matrices=False)
    return u, s, vt.T


def is_unique(spectrum: Spectrum, w: np.ndarray) -> bool:
    """Lewis (1995): differentiable iff w is constant on each positive cluster and 0 on the zeros."""
    constant = all(len(c) == 1 or np.ptp(w[list(c)]) == 0 for c in spectrum.clusters)
    return constant and not np.any(w[list(spectrum.zeros)])


def minimum_norm_gradient(u: np.ndarray, v: np.ndarray, spectrum: Spectrum, w: np.ndarray) -> np.ndarray:
    """sum_C mean(w_C) U_C V_C^T: the gradient when unique, else the least-norm set member."""
    averaged = np.zeros_like(w)
    for cluster in spectrum.clusters:
        averaged[list(cluster)] = w[list(cluster)].sum() / len(cluster)
    return svd_vjp(u, spectrum.values, v, None, averaged, None)


def describe_set(loss: SpectralLoss, spectrum: Spectrum, unique: bool) -> str:
    """One sentence naming the gradient (set) and its source."""
    if unique:
        return "unique gradient U diag(w) V^T (Lewis 1995)"
    if loss.kind == "sum":
        r = spectrum.rank
        return (
            f"nuclear-norm subdifferential at rank {r}: U{r} V{r}^T + W with U{r}^T W = 0, "
            f"W V{r} = 0, ||W||_2 <= 1 (Watson 1992)"
        )
    if loss.kind == "topk":
        return (
            "Ky Fan subdifferential: U_a V_a^T + U_C M V_C^T over the tied cluster C, M symmetric, "
            "0 <= M <= I, tr M = K - a (Watson 1993); null-space part with ||W||_2 <= 1, "
            "||W||_* <= K - a"
        )
    return (
        "Clarke gradient of s_K: U_C M V_C^T over the cluster C holding s_K, M symmetric positive "
        "semidefinite with tr M = 1 (Lewis and Sendov 2005); at s_K = 0, W in the null spaces "
        "with ||W||_* <= 1"
    )


@functools.lru_cache(maxsize=64)
def _directions(shape: tuple[int, int], count: int, seed: int) -> np.ndarray:
    """``count`` seeded random directions of unit Frobenius norm, stacked (shared, read-only)."""
    e = np.random.default_rng(seed).standard_normal((count, *shape))
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
) -> dict | None:
    """Check a reference gradient along a few seeded directions; None when no check applies.

    ``values`` maps a stack of matrices to their loss values (one batched SVD call for all points);
    ``top`` is s_1, the scale of the steps (1 for a zero matrix).
    Differentiable: central differences with h = eps^(1/3) * s_1; the truncation error is estimated
    by Richardson's comparison with step 2h, so the tolerance is measured, not guessed.
    Convex, non-differentiable: <G, E> <= (L(A + tE) - L(A)) / t + tol with t = sqrt(eps) * s_1.
    Non-convex and non-differentiable (sv:K inside a tie): no inequality holds; not checked.
    """
    if a.size > FD_MAX_ELEMENTS or (not differentiable and not convex):
        return None
    top = top or 1.0
    count = FD_DIRECTIONS_SMALL if a.size <= FD_SMALL_ELEMENTS else FD_DIRECTIONS_LARGE
    eps = np.finfo(np.float64).eps
    directions = _directions(a.shape, count, seed)
    predicted = np.tensordot(directions, gradient, axes=2)
    if differentiable:
        h = eps ** (1 / 3) * top
        steps = np.array([h, -h, 2 * h, -2 * h])
        points = a[None] + steps[None, :, None, None] * directions[:, None]
        at = values(points.reshape(-1, *a.shape)).reshape(count, 4)
        fd_h = (at[:, 0] - at[:, 1]) / (2 * h)
        fd_2h = (at[:, 2] - at[:, 3]) / (4 * h)
        errors = np.abs(fd_h - predicted)
        scale = float(np.max(np.abs(at)))
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


def _spectral_reference(a64, loss: SpectralLoss, spectrum, u, v, seed) -> Reference:
    w = loss.weights(len(spectrum.values))
    unique = is_unique(spectrum, w)
    return Reference(
        singular_values=spectrum.values,
        rank=spectrum.rank,
        unique=unique,
        method="closed form (float64)",
        gradient=minimum_norm_gradient(u, v, spectrum, w),
        set_description=describe_set(loss, spectrum, unique),
        amplification=amplification(spectrum, w),
    )


def _vector_values(loss: VectorLoss) -> Callable[[np.ndarray], np.ndarray]:
    def values(points: np.ndarray) -> np.ndarray:
        return np.array([float(loss.evaluate(NUMPY_OPS, *thin_svd(x))) for x in points])

    return values


def _vector_gradient(loss: VectorLoss, spectrum: Spectrum, u, v, cotangents=None) -> np.ndarray:
    """Townsend's rule with the cluster masks of gauge.py (the loss must be gauge invariant here)."""
    u_bar, s_bar, v_bar = cotangents or loss.cotangents(u, spectrum.values, v)
    tied, zero = cluster_masks(spectrum)
    return svd_vjp(u, spectrum.values, v, u_bar, s_bar, v_bar, tied, zero)


def gradient_sensitivity(a: np.ndarray, loss: VectorLoss, gradient: np.ndarray, spectrum, seed: int) -> float:
    """How fast the reference gradient moves with A: max ||G(A + hE) - G(A)||_F / h over
    SENSITIVITY_DIRECTIONS seeded unit directions, h = sqrt(eps) * s_1 (budget.py folds it in).

    Measured rather than bounded: a loss of U and V may or may not feel the 1/gap terms, depending
    on whether its cotangents couple the nearly tied vectors, and the bound would have to assume
    they do (1/gap^2), which lets anything pass near a tie.
    """
    h = np.sqrt(np.finfo(np.float64).eps) * (spectrum.top or 1.0)
    worst = 0.0
    for e in _directions(a.shape, SENSITIVITY_DIRECTIONS, seed + 1):
        u, s, v = thin_svd(a + h * e)
        moved = _vector_gradient(loss, analyse_spectrum(s, a.shape, spectrum.zero_tol), u, v)
        worst = max(worst, frobenius(moved - gradient) / h)
    return worst


def _vector_reference(a64, loss: VectorLoss, spectrum, u, v, seed) -> Reference:
    s = spectrum.values
    u_bar, s_bar, v_bar = loss.cotangents(u, s, v)
    clusters, null_space = gauge_problems(u, v, u_bar, s_bar, v_bar, spectrum)
    problems = sign_problems(loss, u, s, v, spectrum, check_alone=null_space is None) + clusters
    if null_space is not None:
        problems.append(null_space)
    common = {
        "singular_values": s,
        "rank": spectrum.rank,
        "amplification": vector_amplification(spectrum),
        "cotangent_norm": frobenius(u_bar) + frobenius(s_bar) + frobenius(v_bar),
    }
    if spectrum.top == 0 and loss.zero_ball_radius is not None:
        return Reference(
            unique=False,
            method="subdifferential of a norm at A = 0",
            gradient=np.zeros_like(a64),
            set_description=f"subdifferential of {loss.name} at A = 0: the Frobenius ball of radius "
            f"{loss.zero_ball_radius:g} (the dual-norm unit ball)",
            ball_radius=loss.zero_ball_radius,
            **common,
        )
    if problems:
        return Reference(
            unique=False,
            defined=False,
            method="gauge analysis (float64)",
            gradient=None,
            set_description="undefined: " + "; ".join(problems),
            **common,
        )
    gradient = _vector_gradient(loss, spectrum, u, v, (u_bar, s_bar, v_bar))
    return Reference(
        unique=True,
        sensitivity=gradient_sensitivity(a64, loss, gradient, spectrum, seed),
        method="reverse-mode rule (Townsend 2016, float64)",
        gradient=gradient,
        set_description="unique gradient by the gauge-aware reverse-mode rule (Townsend 2016)",
        **common,
    )


def verify_reference(
    reference: Reference, a: np.ndarray, loss: Loss, spectrum: Spectrum, seed: int
) -> Reference:
    """The reference with its finite-difference check done and recorded (see finite_difference_check)."""
    if reference.gradient is None:
        return reference
    a64 = np.asarray(a, dtype=np.float64)
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
    with np.errstate(all="ignore"):
        fd = finite_difference_check(
            a64, values, reference.gradient, differentiable, convex, seed, spectrum.top
        )
    if fd is None:
        return reference
    method = f"{reference.method} + {fd['kind']} differences along {fd['directions']} direction(s)"
    return replace(reference, finite_difference=fd, method=method)


def build_reference(
    a: np.ndarray,
    loss: Loss,
    zero_tol: float,
    seed: int = 0,
    svd: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    check: bool = True,
) -> tuple[Reference, Spectrum, np.ndarray, np.ndarray]:
    """Reference, spectrum, U and V for one matrix (any float dtype; computed in float64).

    ``loss`` must be bound to the matrix's shape (``loss.bind``) when it is a loss of U and V.
    ``svd`` is the float64 thin SVD (U, s, V) of ``a`` when the caller computed it for a whole stack.
    ``check``: run the finite-difference self-check now (the pipeline decides later, see check.py).
    """
    a64 = np.asarray(a, dtype=np.float64)
    u, s, v = thin_svd(a64) if svd is None else svd
    spectrum = analyse_spectrum(s, a64.shape, zero_tol)
    build = _vector_reference if loss.needs_vectors else _spectral_reference
    with np.errstate(all="ignore"):  # overflow is detected below and reported, not printed
        reference = build(a64, loss, spectrum, u, v, seed)
    if reference.gradient is not None and not np.all(np.isfinite(reference.gradient)):
        reference = replace(
            reference,
            defined=False,
            unique=False,
            gradient=None,
            gradient_norm=None,
            set_description="undefined: the gradient overflows float64 at this scale (entries beyond 1e308)",
        )
    if check:
        reference = verify_reference(reference, a64, loss, spectrum, seed)
    return reference, spectrum, u, v


def stack_svd(stack: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """thin_svd of every matrix of a (b, m, n) stack, in one LAPACK call."""
    u, s, vt = np.linalg.svd(np.asarray(stack, dtype=np.float64), full_matrices=False)
    return [(u[i], s[i], vt[i].T) for i in range(len(stack))]
