"""Judge each backend against the float64 reference, compare backends pairwise, and decide a verdict.

Per backend: ``correct`` (the gradient is unique and within budget of it), ``valid`` (not unique,
and within budget of the gradient set), ``wrong`` (finite, neither), ``non-finite``, ``failed``
(raised), ``undefined`` (the loss has no gradient here: shown, not judged). The matrix verdict is the
worst news: wrong > non-finite > error (a backend failed) > undefined > non-unique > agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from svdgrad_cli.model import BackendResult, MatrixCase, MatrixReport, PairDiff, Reference
from svdgrad_cli.numerics.budget import spectral_budget, vector_budget
from svdgrad_cli.numerics.losses import Loss
from svdgrad_cli.numerics.membership import distance_to_set
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import build_reference, verify_reference
from svdgrad_cli.numerics.spectrum import Spectrum, default_dup_tol, default_zero_tol
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.explain import explain
from svdgrad_cli.pipeline.findings import ill_conditioned, reference_check, spectrum_findings
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict, matrix_verdict


def budget_for(reference: Reference, spectrum: Spectrum, loss: Loss, dtype, settings: Settings) -> float:
    """The error budget of every backend of one matrix (they share its dtype); see budget.py."""
    reference_norm = reference.gradient_norm or 0.0
    if settings.rtol is not None or settings.atol is not None:
        return (settings.atol or 0.0) + (settings.rtol or 0.0) * reference_norm
    amp, factor = reference.amplification, settings.budget_factor
    if loss.needs_vectors:
        return vector_budget(spectrum, reference, dtype, factor)
    return spectral_budget(spectrum, loss.weights(len(spectrum.values)), amp, dtype, factor)


def distance_function(
    reference: Reference, spectrum: Spectrum, loss: Loss, u: np.ndarray, v: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Frobenius distance to the unique gradient, or to the gradient set where it is not unique."""
    if reference.ball_radius is not None:
        return lambda g: max(0.0, frobenius(g) - reference.ball_radius)
    if reference.unique or not reference.defined:  # an undefined reference is never measured against
        return lambda g: frobenius(g - reference.gradient)
    w = loss.weights(len(spectrum.values))
    return lambda g: distance_to_set(g, u, v, spectrum, w)


def judge_backend(
    result: BackendResult, reference: Reference, budget: float, distance: Callable[[np.ndarray], float]
) -> BackendResult:
    """The same result with verdict, error and budget filled in."""
    if result.status == "failed":
        return result
    gradient = result.gradient
    finite = bool(np.all(np.isfinite(gradient)))
    status = "ok" if finite else "non-finite"
    message = None
    if not finite:
        count = int(np.sum(~np.isfinite(gradient)))
        message = f"{count}/{gradient.size} entries NaN/Inf"
    if not reference.defined:
        verdict = BackendVerdict.UNDEFINED
        return BackendResult(result.name, status, message, result.singular_values, gradient, verdict)
    if not finite:
        verdict = BackendVerdict.NON_FINITE
        return BackendResult(result.name, status, message, result.singular_values, gradient, verdict)
    error = distance(gradient.astype(np.float64))
    if error <= budget:
        verdict = BackendVerdict.CORRECT if reference.unique else BackendVerdict.VALID
    else:
        verdict = BackendVerdict.WRONG
    return BackendResult(result.name, "ok", None, result.singular_values, gradient, verdict, error, budget)


def pair_differences(results: list[BackendResult]) -> list[PairDiff]:
    """Largest entrywise |difference| between every two backends' gradients."""
    pairs = []
    for first, second in itertools.combinations(results, 2):
        if first.status != "ok" or second.status != "ok":
            pairs.append(PairDiff(first.name, second.name, None, None))
            continue
        a = first.gradient.astype(np.float64)
        b = second.gradient.astype(np.float64)
        diff = float(np.max(np.abs(a - b)))
        scale = float(max(np.max(np.abs(a)), np.max(np.abs(b))))
        pairs.append(PairDiff(first.name, second.name, diff, diff / scale if scale else None))
    return pairs


def judge_matrix(
    case: MatrixCase,
    svd: tuple[np.ndarray, np.ndarray, np.ndarray],
    raw: list[BackendResult],
    loss: Loss,
    settings: Settings,
    versions: dict[str, str | None],
    verification_wanted: Callable[[], bool],
) -> MatrixReport:
    """Judge one matrix. The reference's finite-difference self-check runs where it can change what
    a user concludes: every matrix that is not a clean ``agree`` or has a warning, and the first
    SELF_CHECKS_PER_SHAPE matrices of each shape (a bug in the closed form would show there)."""
    dtype = case.array.dtype
    shape = case.array.shape
    zero_tol = settings.zero_tol if settings.zero_tol is not None else default_zero_tol(shape, dtype)
    dup_tol = settings.dup_tol if settings.dup_tol is not None else default_dup_tol(dtype)
    reference, spectrum, u, v = build_reference(case.array, loss, zero_tol, settings.seed, svd, check=False)
    budget = budget_for(reference, spectrum, loss, dtype, settings)
    distance = distance_function(reference, spectrum, loss, u, v)
    judged = [judge_backend(r, reference, budget, distance) for r in raw]
    findings = spectrum_findings(spectrum, loss, dup_tol)
    if reference.gradient is not None:
        findings += ill_conditioned(reference.gradient_norm, budget, str(dtype))
    verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
    if verdict != MatrixVerdict.AGREE or findings or verification_wanted():
        reference = verify_reference(reference, case.array, loss, spectrum, settings.seed)
        findings += reference_check(reference)
    return MatrixReport(
        source=case.source,
        index=case.index,
        shape=tuple(shape),
        dtype=str(dtype),
        status="checked",
        verdict=verdict,
        explanation=explain(verdict, loss, reference, spectrum, judged, versions),
        backends=tuple(judged),
        reference=reference,
        warnings=tuple(findings),
        pairs=tuple(pair_differences(judged)),
        loss_weights=loss.arrays,
        matrix=case.array,
    )
