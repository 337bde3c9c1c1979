"""Everything svdgrad says about one matrix: reference, budgets, verdicts, findings and the explanation.

The float64 reference decides wherever it can; where a backend's error lies within the reference's
own error of a threshold, a high-precision reference (numerics/highprec.py) decides instead, up to
highprec.MAX_ELEMENTS entries (``--reference high``: always, at any size; ``--reference float64``:
never, and such results are judged in the backend's favour). The finite-difference self-check of the
reference runs where it can change what a user concludes: every matrix that is not a clean
``agree`` or has a warning, and the first few matrices of each shape up to 256x256 (stream.py).
"""

from __future__ import annotations

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
from svdgrad_cli.pipeline.judge import distance_function, judge_backend, pair_differences, settle_in_favour
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict, matrix_verdict

# (backend name) -> the backend's forward SVD of this matrix as (values, U, V), or None if it has none
# Verdicts whose cause the forward SVD may be (then measured even where the call returned no vectors).
EXPLAINED = (BackendVerdict.WRONG, BackendVerdict.INACCURATE, BackendVerdict.NON_FINITE)
ForwardSVD = Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray] | None]


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


def _wants_high_precision(judgement: MatrixJudgement, shape, settings: Settings) -> bool:
    if settings.reference == "float64" or not judgement.reference.unique or not judgement.reference.defined:
        return False
    if settings.reference == "high":
        return True
    undecided = any(r.verdict is None and r.status == "ok" for r in judgement.results)
    return undecided and np.prod(shape) <= highprec.MAX_ELEMENTS


def _refine(judgement: MatrixJudgement, a, loss, svd, settings, raw) -> MatrixJudgement:
    """Re-judge every backend against a high-precision reference (where it is wanted), then settle
    what is still undecided in the backends' favour."""
    if _wants_high_precision(judgement, a.shape, settings):
        reference = judgement.reference
        digits = highprec.digits_for(reference.condition)
        exact = highprec.high_precision_gradient(a, loss, judgement.spectrum, digits)
        better = replace(reference, gradient=exact, gradient_norm=None, precision=f"mpmath, {digits} digits")
        judgement = _judge_all(a, loss, better, judgement.spectrum, svd, settings, raw)
    unique = judgement.reference.unique
    judgement.results = [
        settle_in_favour(r, judgement.budget, unique) if r.verdict is None and r.status == "ok" else r
        for r in judgement.results
    ]
    return judgement


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


def assess_matrix(
    case,
    svd: ScaledSVD,
    raw: list[BackendResult],
    loss: Loss,
    settings: Settings,
    versions: dict[str, str | None],
    verification_wanted: Callable[[], bool],
    forward_svd: ForwardSVD,
) -> MatrixReport:
    """Judge one matrix (see the module docstring)."""
    a, dtype, shape = case.array, case.array.dtype, case.array.shape
    zero_tol = settings.zero_tol if settings.zero_tol is not None else default_zero_tol(shape, dtype)
    dup_tol = settings.dup_tol if settings.dup_tol is not None else default_dup_tol(dtype)
    reference, spectrum, _, _ = build_reference(a, loss, zero_tol, settings.seed, svd, check=False)
    judgement = _refine(
        _judge_all(a, loss, reference, spectrum, svd, settings, raw), a, loss, svd, settings, raw
    )
    reference, budget = judgement.reference, judgement.budget
    judged = _with_forward_checks(judgement.results, a, reference, budget, forward_svd)
    judged = _with_error_parts(judged, reference, spectrum, svd, loss)
    findings: list[Finding] = spectrum_findings(spectrum, loss, dup_tol)
    if reference.gradient is not None and reference.unique:
        findings += ill_conditioned(budget, str(dtype))
    findings += forward_findings(judged, reference, term_size(reference)) + convention_note(judged)
    verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
    if verdict != MatrixVerdict.AGREE or findings or verification_wanted():
        reference = verify_reference(reference, a, loss, spectrum, settings.seed)
        findings += reference_check(reference)
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
