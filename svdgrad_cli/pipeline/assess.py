"""Everything svdgrad says about one matrix: reference, budgets, verdicts, findings and the explanation.

The float64 reference decides wherever it can; a high-precision reference (numerics/highprec.py)
replaces it up to highprec.MAX_ELEMENTS entries where a backend's error lies within the reference's
own error of a threshold, or where a backend's error is only bounded (judge.py) and the float64
reference resolves fewer than half of float64's digits, so the bound would hide what the backend got
right (``--reference high``: always, at any size; ``--reference float64``: never, and such results
are judged in the backend's favour, with bounds for errors). The finite-difference self-check of the
reference runs where it can change what a user concludes: every matrix that is not a clean ``agree``
or has a warning, and the first few matrices of each shape up to 256x256 (stream.py). A reference
that fails it is replaced by the high-precision one where that is affordable and passes; otherwise
it certifies nothing and every backend judged against it is ``indeterminate``, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from svdgrad_cli.model import BackendResult, Finding, MatrixReport
from svdgrad_cli.numerics import highprec
from svdgrad_cli.numerics.budget import Budget, make_budget, term_size
from svdgrad_cli.numerics.error_parts import decompose, free_blocks
from svdgrad_cli.numerics.forward import check_forward
from svdgrad_cli.numerics.losses import Loss
from svdgrad_cli.numerics.reference import Reference, build_reference
from svdgrad_cli.numerics.spectrum import Spectrum, default_dup_tol, default_zero_tol
from svdgrad_cli.numerics.svd import ScaledSVD
from svdgrad_cli.numerics.verification import verify_reference
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.explain import explain
from svdgrad_cli.pipeline.findings import (
    convention_note,
    forward_findings,
    ill_conditioned,
    reference_check,
    spectrum_findings,
)
from svdgrad_cli.pipeline.judge import (
    distance_function,
    judge_backend,
    pair_differences,
    settle_in_favour,
    unverified,
)
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict, matrix_verdict

# (backend name) -> the backend's forward SVD of this matrix as (values, U, V), or None if it has none
# Verdicts whose cause the forward SVD may be (then measured even where the call returned no vectors).
EXPLAINED = (BackendVerdict.WRONG, BackendVerdict.INACCURATE, BackendVerdict.NON_FINITE)
ForwardSVD = Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray] | None]
# A float64 reference whose own relative error exceeds this resolves fewer than half of float64's
# digits: a bound on a backend's error there hides what the backend got right.
LOOSE_BOUND = math.sqrt(np.finfo(np.float64).eps)


@dataclass
class MatrixJudgement:
    """The reference, budget and judged backends of one matrix, as they are refined."""

    reference: Reference
    spectrum: Spectrum
    budget: Budget
    results: list[BackendResult]


def _judge_all(case_array, loss: Loss, reference: Reference, spectrum, svd, settings, raw) -> MatrixJudgement:
    s = settings
    budget = make_budget(reference, case_array.shape, case_array.dtype, s.budget_factor, s.rtol, s.atol)
    w = None if loss.needs_vectors else loss.weights(len(spectrum.values))
    distance = distance_function(reference, spectrum, w, svd.u, svd.v)
    unique = reference.unique
    judged = [judge_backend(r, reference, budget, distance, unique) for r in raw]
    return MatrixJudgement(reference, spectrum, budget, judged)


def _can_use_high_precision(reference: Reference, shape, settings: Settings) -> bool:
    """Whether a high-precision reference may be computed: a unique gradient, not --reference
    float64, and affordable (any size with --reference high)."""
    if settings.reference == "float64" or reference.high_precision:
        return False
    if not reference.unique or not reference.defined:
        return False
    return settings.reference == "high" or np.prod(shape) <= highprec.MAX_ELEMENTS


def _wants_high_precision(judgement: MatrixJudgement, shape, settings: Settings) -> bool:
    if not _can_use_high_precision(judgement.reference, shape, settings):
        return False
    undecided = any(r.verdict is None and r.status == "ok" for r in judgement.results)
    budget = judgement.budget
    loose = budget.uncertainty > LOOSE_BOUND * budget.scale
    bounded = loose and any(r.error_is_bound for r in judgement.results)
    return settings.reference == "high" or undecided or bounded


def _high_precision(reference: Reference, a, loss: Loss, spectrum: Spectrum) -> Reference:
    digits = highprec.digits_for(reference.condition)
    exact = highprec.high_precision_gradient(a, loss, spectrum, digits)
    return replace(
        reference,
        gradient=exact,
        gradient_norm=None,
        precision=f"mpmath, {digits} digits",
        finite_difference=None,
    )


def _settled(judgement: MatrixJudgement) -> MatrixJudgement:
    """What is still undecided, settled in the backends' favour (no better reference to ask)."""
    unique = judgement.reference.unique
    judgement.results = [
        settle_in_favour(r, judgement.budget, unique) if r.verdict is None and r.status == "ok" else r
        for r in judgement.results
    ]
    return judgement


def _refine(judgement: MatrixJudgement, a, loss, svd, settings, raw) -> MatrixJudgement:
    """Re-judge every backend against a high-precision reference (where it is wanted), then settle
    what is still undecided in the backends' favour."""
    if _wants_high_precision(judgement, a.shape, settings):
        better = _high_precision(judgement.reference, a, loss, judgement.spectrum)
        judgement = _judge_all(a, loss, better, judgement.spectrum, svd, settings, raw)
    return _settled(judgement)


def _verified(judgement: MatrixJudgement, a, loss, svd, settings, raw) -> MatrixJudgement:
    """The judgement with its reference's finite-difference check done; a reference that fails it
    is replaced by the high-precision one where that may be computed and passes (a new judgement)."""
    seed, spectrum = settings.seed, judgement.spectrum
    reference = verify_reference(judgement.reference, a, loss, spectrum, seed)
    if reference.failed_check and _can_use_high_precision(reference, a.shape, settings):
        better = verify_reference(_high_precision(reference, a, loss, spectrum), a, loss, spectrum, seed)
        if not better.failed_check:
            better = replace(better, method=f"{better.method}; the float64 reference failed this check")
            return _settled(_judge_all(a, loss, better, spectrum, svd, settings, raw))
        reference = better
    return replace(judgement, reference=reference)


def _with_forward_checks(results, a, reference: Reference, budget: Budget, forward_svd: ForwardSVD):
    """Each result with its forward SVD measured: always where the call returned vectors, and for a
    finding also by asking the backend for its SVD with vectors."""
    checked = []
    for r in results:
        if r.singular_values is None:
            checked.append(r)
            continue
        values, u, v = r.singular_values, r.u, r.v
        if u is None and r.verdict in EXPLAINED:
            factors = forward_svd(r.name)
            if factors is not None:
                values, u, v = factors
        forward = check_forward(a, reference.singular_values, values, u, v, budget.eps)
        checked.append(replace(r, forward=forward))
    return checked


def _with_error_parts(results, reference: Reference, spectrum: Spectrum, svd: ScaledSVD, loss: Loss):
    """Each wrong or inaccurate result with its error split by part of the SVD rule (error_parts.py),
    where there is a gradient (set) to split against: not at A = 0 nor where the loss has none."""
    if reference.gradient is None or reference.ball_radius is not None:
        return results
    w = None if loss.needs_vectors or reference.unique else loss.weights(len(spectrum.values))
    free = free_blocks(spectrum, w)
    return [
        replace(
            r, error_parts=decompose(r.gradient, reference.gradient, svd.u, svd.v, spectrum, r.error, free)
        )
        if r.verdict in (BackendVerdict.WRONG, BackendVerdict.INACCURATE)
        else r
        for r in results
    ]


def _judged_with_findings(judgement: MatrixJudgement, a, loss: Loss, dup_tol: float, forward_svd: ForwardSVD):
    """The judged results with their forward SVDs measured, and the findings about the matrix."""
    reference, budget, spectrum = judgement.reference, judgement.budget, judgement.spectrum
    judged = _with_forward_checks(judgement.results, a, reference, budget, forward_svd)
    findings: list[Finding] = spectrum_findings(spectrum, loss, dup_tol)
    if reference.gradient is not None and reference.unique:
        findings += ill_conditioned(budget, str(a.dtype))
    findings += forward_findings(judged, reference, term_size(reference)) + convention_note(judged)
    return judged, findings


def first_reference(
    a: np.ndarray, loss: Loss, settings: Settings, svd: ScaledSVD
) -> tuple[Reference, Spectrum]:
    """The float64 reference and spectrum of one matrix, from its SVD (the one SVD of A that serves
    the reference, the spectrum and the warnings); computed while the backends run (stream.py)."""
    zero_tol = settings.zero_tol if settings.zero_tol is not None else default_zero_tol(a.shape, a.dtype)
    reference, spectrum, _, _ = build_reference(a, loss, zero_tol, settings.seed, svd, check=False)
    return reference, spectrum


def assess_matrix(
    case,
    svd: ScaledSVD,
    raw: list[BackendResult],
    loss: Loss,
    settings: Settings,
    versions: dict[str, str | None],
    verification_wanted: Callable[[], bool],
    forward_svd: ForwardSVD,
    first: tuple[Reference, Spectrum] | None = None,
) -> MatrixReport:
    """Judge one matrix (see the module docstring); ``first``: its first_reference, where computed."""
    a, dtype, shape = case.array, case.array.dtype, case.array.shape
    dup_tol = settings.dup_tol if settings.dup_tol is not None else default_dup_tol(dtype)
    reference, spectrum = first or first_reference(a, loss, settings, svd)
    judgement = _refine(
        _judge_all(a, loss, reference, spectrum, svd, settings, raw), a, loss, svd, settings, raw
    )
    judged, findings = _judged_with_findings(judgement, a, loss, dup_tol, forward_svd)
    reference = judgement.reference
    verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
    if verdict != MatrixVerdict.AGREE or findings or verification_wanted():
        checked = _verified(judgement, a, loss, svd, settings, raw)
        if checked.results is not judgement.results:  # re-judged against the high-precision reference
            judged, findings = _judged_with_findings(checked, a, loss, dup_tol, forward_svd)
        reference = checked.reference
        if reference.failed_check:
            judged = [unverified(r, reference) for r in judged]
        findings += reference_check(reference)
    judged = _with_error_parts(judged, reference, spectrum, svd, loss)
    verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
    return MatrixReport(
        source=case.source,
        index=case.index,
        shape=tuple(shape),
        dtype=str(dtype),
        stored_dtype=case.stored_dtype,
        reshaped=case.reshaped,
        status="checked",
        verdict=verdict,
        explanation=explain(verdict, loss, reference, spectrum, judged, versions, str(dtype)),
        backends=tuple(judged),
        reference=reference,
        warnings=tuple(findings),
        pairs=tuple(pair_differences(judged)),
        loss_weights=loss.arrays,
        matrix=a,
    )
