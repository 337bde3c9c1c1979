"""The float64 reference: the gradient (or the minimum-norm member of the gradient set) and its conditioning.

Computed from the input upcast to float64 with NumPy's LAPACK SVD, independent of any backend's
gradient code, on the matrix scaled by a power of two so that its largest entry is in [1, 2): the
scaling is exact, so every result scales back exactly and relative budgets do not depend on the
magnitude of A (docs/theory.md §5).

Losses of the singular values, L = sum_i w_i s_i (Lewis 1995; Lewis and Sendov 2005):

- L is differentiable at A iff w is constant on every cluster of tied positive singular values and
  zero on the zero cluster; the gradient is then U diag(w) V^T, the same for every SVD of A.
- Otherwise the gradient set is described in membership.py; its minimum-norm member replaces each
  w_C by its mean on the cluster and puts nothing on the zero cluster: sum_C mean(w_C) U_C V_C^T
  (for the nuclear norm at rank r, U_r V_r^T).

Losses of U and V: where the loss depends on the SVD's gauge the gradient is ``undefined`` (gauge.py);
elsewhere it is the closed form of gradients.py. Complex input (field.py, docs/theory.md §9) takes
the same path in complex128: the sets hold with unitary U, V, ^H for ^T and Hermitian M. Each
reference carries ||DG||_2, the norm of the Hessian (conditioning.py), from which budget.py derives
every error budget.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from svdgrad_cli.numerics.conditioning import natural_scale, spectral_hessian_norm, vector_hessian_norm
from svdgrad_cli.numerics.field import is_complex, scale_by_power_of_two, working, working_dtype
from svdgrad_cli.numerics.gauge import gauge_problems, sign_problems
from svdgrad_cli.numerics.gradients import (
    polar_gradient,
    projector_gradient,
    reconstruction_gradient,
    spectral_gradient,
)
from svdgrad_cli.numerics.losses import OPTIONAL_ORDER, Loss, SpectralLoss, VectorLoss, order_of
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference_result import REFINED, Reference
from svdgrad_cli.numerics.refinement import refine_scaled, refines
from svdgrad_cli.numerics.spectrum import Spectrum, analyse_spectrum
from svdgrad_cli.numerics.svd import ScaledSVD, stack_svd
from svdgrad_cli.numerics.truncated import cut_problems, top_gradient
from svdgrad_cli.numerics.uv_cotangent import UV_DESCRIPTION, uv_gradient, uv_problems
from svdgrad_cli.numerics.verification import verify_reference

DILATION_DESCRIPTION = "unique gradient, closed form of the dilation's divided differences"


def is_unique(spectrum: Spectrum, w: np.ndarray) -> bool:
    """Lewis (1995): differentiable iff w is constant on each positive cluster and 0 on the zeros."""
    constant = all(len(c) == 1 or np.ptp(w[list(c)]) == 0 for c in spectrum.clusters)
    return constant and not np.any(w[list(spectrum.zeros)])


def averaged_weights(spectrum: Spectrum, w: np.ndarray) -> np.ndarray:
    """w averaged over each tied cluster and 0 on the zeros: the minimum-norm member's weights."""
    ids = spectrum.cluster_ids()
    averaged = (np.bincount(ids, weights=w) / np.bincount(ids))[ids]
    return np.where(spectrum.zero_mask(), 0.0, averaged)


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


def for_field(description: str, on_complex: bool) -> str:
    """A set's description for complex input: adjoints and Hermitian blocks."""
    if not on_complex:
        return description
    return description.replace("^T", "^H").replace("symmetric", "Hermitian")


def _spectral_reference(svd: ScaledSVD, loss: SpectralLoss, spectrum: Spectrum, seed: int) -> Reference:
    w = loss.weights(len(spectrum.values))
    unique = is_unique(spectrum, w)
    hessian = spectral_hessian_norm(svd.s, w, spectrum, phases=is_complex(svd.u))
    return Reference(
        singular_values=spectrum.values,
        rank=spectrum.rank,
        unique=unique,
        method="closed form (float64)",
        gradient=spectral_gradient(svd.u, svd.v, averaged_weights(spectrum, w)),
        set_description=for_field(describe_set(loss, spectrum, unique), is_complex(svd.u)),
        hessian_norm=float(np.ldexp(hessian, -svd.exponent)),  # G has degree 0 in A, DG degree -1
    )


def vector_gradient(loss: VectorLoss, u: np.ndarray, s: np.ndarray, v: np.ndarray, spectrum: Spectrum):
    """The closed form of gradients.py for a loss of U and V that has a gradient here."""
    if loss.kind in OPTIONAL_ORDER and loss.order is not None:  # truncated map (truncated.py)
        return top_gradient(loss, u, s, v, spectrum.zero_mask())
    if loss.kind == "polar":
        return polar_gradient(u, s, v, loss.arrays["C"], spectrum.zero_mask())
    if loss.kind == "proj":
        return projector_gradient(u, s, v, loss.arrays["C"], order_of(loss))
    if loss.kind == "uv":  # the user's cotangents (uv_cotangent.py)
        return uv_gradient(u, s, v, loss.arrays["C_U"], spectrum)
    return reconstruction_gradient(u, s, v, frobenius(s))


def _vector_problems(loss: VectorLoss, svd: ScaledSVD, spectrum: Spectrum) -> list[str]:
    """Sentences naming the gauge freedoms the loss depends on here (none: it has a gradient)."""
    u, s, v = svd.u, svd.s, svd.v
    if loss.kind == "uv":  # read per pair: a first-order test at one SVD is not enough
        return uv_problems(u, s, v, loss.arrays["C_U"], loss.arrays["C_V"], spectrum)
    u_bar, s_bar, v_bar = loss.cotangents(u, s, v)
    clusters, null_space, phases = gauge_problems(u, v, u_bar, s_bar, v_bar, spectrum)
    problems = clusters + cut_problems(s_bar, spectrum)  # a cut inside a multiplet (truncated.py)
    problems += sign_problems(loss, u, s, v, spectrum, null_space is None, known=phases)
    return problems if null_space is None else [*problems, null_space]


def _vector_reference(svd: ScaledSVD, loss: VectorLoss, spectrum: Spectrum, seed: int) -> Reference:
    if spectrum.top == 0 and loss.zero_ball_radius is not None:
        return Reference(
            unique=False,
            method="subdifferential of a norm at A = 0",
            gradient=np.zeros((len(svd.u), len(svd.v)), dtype=svd.u.dtype),
            set_description=f"subdifferential of {loss.name} at A = 0: the Frobenius ball of radius "
            f"{loss.zero_ball_radius:g} (the dual-norm unit ball)",
            ball_radius=loss.zero_ball_radius,
            singular_values=spectrum.values,
            rank=spectrum.rank,
        )
    problems = _vector_problems(loss, svd, spectrum)
    if problems:
        return Reference(
            unique=False,
            defined=False,
            method="gauge analysis (float64)",
            gradient=None,
            set_description="undefined: " + "; ".join(problems),
            singular_values=spectrum.values,
            rank=spectrum.rank,
        )
    degree = loss.gradient_degree  # G(2^e A) = 2^(e * degree) G(A)
    gradient = vector_gradient(loss, svd.u, svd.s, svd.v, spectrum)
    hessian = vector_hessian_norm(loss, svd.u, svd.s, svd.v, spectrum, seed)
    return Reference(
        unique=True,
        method="closed form in the SVD basis (float64)",
        gradient=scale_by_power_of_two(gradient, svd.exponent * degree),
        set_description=UV_DESCRIPTION if loss.kind == "uv" else DILATION_DESCRIPTION,
        hessian_norm=float(np.ldexp(hessian, svd.exponent * (degree - 1))),
        natural_scale=float(np.ldexp(natural_scale(loss, svd.s), svd.exponent * degree)),
        singular_values=spectrum.values,
        rank=spectrum.rank,
    )


def build_reference(
    a: np.ndarray,
    loss: Loss,
    zero_tol: float,
    seed: int = 0,
    svd: ScaledSVD | None = None,
    check: bool = True,
    refine: bool = True,
) -> tuple[Reference, Spectrum, np.ndarray, np.ndarray]:
    """Reference, spectrum, U and V for one matrix (any float or complex dtype; computed in float64
    or complex128).

    ``loss`` must be bound to the matrix's shape (``loss.bind``) when it is a loss of U and V.
    ``svd`` is the scaled SVD of ``a`` when the caller computed it for a whole stack (stack_svd).
    ``check``: run the finite-difference self-check now (the pipeline decides later, judge.py).
    ``refine``: refine the SVD where that converges (refinement.py; False: LAPACK's, as calibrated).
    """
    a64 = working(a)
    svd = svd or stack_svd(a64[None])[0]
    refined = refine_scaled(a64, svd) if refine and refines(a.dtype) else None  # None: does not apply
    svd = refined or svd
    precision = working_dtype(a64).name + (REFINED if refined else "")
    spectrum = analyse_spectrum(svd.values, a64.shape, zero_tol)
    with np.errstate(all="ignore"):  # overflow is detected below and reported, not printed
        if isinstance(loss, VectorLoss):
            built = _vector_reference(svd, loss, spectrum, seed)
        else:
            built = _spectral_reference(svd, loss, spectrum, seed)
        reference = replace(built, precision=precision)
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
    return reference, spectrum, svd.u, svd.v
