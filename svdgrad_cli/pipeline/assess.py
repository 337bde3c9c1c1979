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

All of this is the VJP of the thin SVD (:class:`MatrixAssessment`). ``ASSESSMENTS`` maps each target
svdgrad can judge (numerics/differentiated.py) to its assessment: a class whose ``before_backends``
gives, per matrix of a batch, the reference's factorization and what of the reference needs no
backend (computed while the backends run), and which, built with them, gives the
MatrixReport from ``report()``. A new target is one more class and entry; a
target without one is a one-line usage error (``assessment_for``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.model import BackendResult, Finding, MatrixReport
from svdgrad_cli.numerics import highprec
from svdgrad_cli.numerics.budget import Budget, Witness, make_budget, term_size
from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET, Target
from svdgrad_cli.numerics.error_parts import decompose, free_blocks
from svdgrad_cli.numerics.forward import check_forward
from svdgrad_cli.numerics.losses import Loss, VectorLoss
from svdgrad_cli.numerics.reference import Reference, build_reference
from svdgrad_cli.numerics.spectrum import Spectrum, default_dup_tol, default_zero_tol, machine_eps
from svdgrad_cli.numerics.svd import ScaledSVD, stack_svd
from svdgrad_cli.numerics.truncated import truncation_parts
from svdgrad_cli.numerics.verification import verify_reference
from svdgrad_cli.numerics.witness import rounding_witness, typical_sensitivity
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
from svdgrad_cli.pipeline.plan import RunPlan
from svdgrad_cli.verdicts import (
    BackendStatus,
    BackendVerdict,
    MatrixStatus,
    MatrixVerdict,
    ReferencePrecision,
    matrix_verdict,
)

# (backend name) -> the backend's forward SVD of this matrix as (values, U, V), or None if it has none
# Verdicts whose cause the forward SVD may be (then measured even where the call returned no vectors).
EXPLAINED = (BackendVerdict.WRONG, BackendVerdict.INACCURATE, BackendVerdict.NON_FINITE)
ForwardSVD = Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray] | None]
# A float64 reference whose own relative error exceeds this resolves fewer than half of float64's
# digits: a bound on a backend's error there hides what the backend got right.
LOOSE_BOUND = math.sqrt(np.finfo(np.float64).eps)


# A matrix's float64 reference, its spectrum and its rounding witness (None where none sets the budget)
FirstReference = tuple[Reference, Spectrum, Witness | None]


def first_reference(a: np.ndarray, loss: Loss, settings: Settings, svd: ScaledSVD) -> FirstReference:
    """The float64 reference, spectrum and rounding witness of one matrix, from its SVD (the one SVD
    of A that serves the reference, the spectrum, the warnings and the witness's target): all of it
    needs no backend's answer, so it is computed while the backends run (stream.py)."""
    zero_tol = settings.zero_tol if settings.zero_tol is not None else default_zero_tol(a.shape, a.dtype)
    reference, spectrum, _, _ = build_reference(a, loss, zero_tol, settings.seed, svd, check=False)
    return reference, spectrum, witness_of(a, loss, settings, svd, (reference, spectrum))


def witness_of(
    a: np.ndarray, loss: Loss, settings: Settings, svd: ScaledSVD, judged: tuple[Reference, Spectrum]
):
    """What a single-precision backward-stable SVD errs by here (witness.py), where it sets the
    budget: a unique gradient, single precision, no budget of the user's; else None."""
    reference, spectrum = judged
    given = settings.budget_factor or settings.rtol is not None or settings.atol is not None
    single = machine_eps(a.dtype) == machine_eps(np.float32)  # what SciPy computes in
    if given or not single or not reference.unique or reference.gradient is None:
        return None
    found = rounding_witness(a, loss, reference.gradient, spectrum, a.dtype)
    return Witness(found, typical_sensitivity(loss, svd, spectrum, settings.seed))


@dataclass
class MatrixJudgement:
    """The reference, budget and judged backends of one matrix, as they are refined."""

    reference: Reference
    spectrum: Spectrum
    budget: Budget
    results: list[BackendResult]


def _undecided(result: BackendResult) -> bool:
    """A result that answered and is still to be decided (judge.py left its verdict None)."""
    return result.verdict is None and result.status is BackendStatus.OK


class MatrixAssessment:
    """The judgement of one matrix for the VJP of the thin SVD, in named steps (see the module
    docstring): ``float64_reference``, ``judged``, ``refined``, ``with_findings``, ``verified``,
    ``with_error_parts``; ``report`` runs them."""

    # The reference's factorization of a batch (b, m, n), computed while the backends run (stream.py)
    # and handed to the constructor one matrix at a time as ``svd``.
    factorize = staticmethod(stack_svd)

    @classmethod
    def before_backends(
        cls, stack: np.ndarray, loss: Loss, settings: Settings
    ) -> list[tuple[ScaledSVD, FirstReference]]:
        """Each matrix's factorization and first_reference: all of the reference that needs no
        backend's answer, computed in the background while the backends run (stream.py)."""
        svds = cls.factorize(stack)
        return [(svd, first_reference(a, loss, settings, svd)) for a, svd in zip(stack, svds, strict=True)]

    def __init__(
        self,
        case,
        svd: ScaledSVD,
        raw: list[BackendResult],
        loss: Loss,
        plan: RunPlan,
        versions: dict[str, str | None],
        verification_wanted: Callable[[], bool],
        forward_svd: ForwardSVD,
        first: FirstReference | None = None,
    ) -> None:
        self.case, self.a, self.svd, self.raw, self.loss = case, case.array, svd, raw, loss
        self.first = first  # the float64 reference, spectrum and witness (before_backends)
        self.plan, self.settings, self.versions = plan, plan.settings, versions
        self.verification_wanted, self.forward_svd = verification_wanted, forward_svd
        s = plan.settings
        self.dup_tol = s.dup_tol if s.dup_tol is not None else default_dup_tol(self.a.dtype)

    def report(self) -> MatrixReport:
        """Judge the matrix (see the module docstring)."""
        reference, spectrum = self.float64_reference()
        judgement = self.refined(self.judged(reference, spectrum))
        judged, findings = self.with_findings(judgement)
        reference = judgement.reference
        verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
        if verdict != MatrixVerdict.AGREE or findings or self.verification_wanted():
            checked = self.verified(judgement)
            if checked.results is not judgement.results:  # re-judged against the high-precision reference
                judged, findings = self.with_findings(checked)
            reference = checked.reference
            if reference.failed_check:
                judged = [unverified(r, reference) for r in judged]
            findings += reference_check(reference)
        judged = self.with_error_parts(judged, reference, judgement.spectrum)
        judged = self.with_truncation_parts(judged, reference)
        return self.matrix_report(judged, findings, reference, judgement.spectrum)

    def float64_reference(self) -> tuple[Reference, Spectrum]:
        """The reference in the working precision (float64 or complex128), and the spectrum."""
        if self.first is None:
            self.first = first_reference(self.a, self.loss, self.settings, self.svd)
        return self.first[0], self.first[1]

    def judged(self, reference: Reference, spectrum: Spectrum) -> MatrixJudgement:
        """Every backend judged against a reference, with the budget of this matrix."""
        a, s, loss, svd = self.a, self.settings, self.loss, self.svd
        witness = self.rounding_witness(reference, spectrum)
        budget = make_budget(reference, a.shape, a.dtype, s.budget_factor, s.rtol, s.atol, witness)
        w = None if isinstance(loss, VectorLoss) else loss.weights(len(spectrum.values))
        distance = distance_function(reference, spectrum, w, svd.u, svd.v)
        results = [judge_backend(r, reference, budget, distance, reference.unique) for r in self.raw]
        return MatrixJudgement(reference, spectrum, budget, results)

    def rounding_witness(self, reference: Reference, spectrum: Spectrum) -> Witness | None:
        """The witness of ``reference`` (witness_of): first_reference's where it is that one."""
        if self.first is not None and reference is self.first[0]:
            return self.first[2]
        return witness_of(self.a, self.loss, self.settings, self.svd, (reference, spectrum))

    def can_use_high_precision(self, reference: Reference) -> bool:
        """Whether a high-precision reference may be computed: a unique gradient, not --reference
        float64, and affordable (any size with --reference high); never for uv, whose cotangents
        mean something only at the float64 SVD they were taken at (mpmath's picks other phases)."""
        chosen = self.settings.reference
        if chosen is ReferencePrecision.FLOAT64 or reference.high_precision:
            return False
        if not reference.unique or not reference.defined:
            return False
        if getattr(self.loss, "kind", None) == "uv":  # cotangents of the float64 SVD's own phases
            return False
        return chosen is ReferencePrecision.HIGH or np.prod(self.a.shape) <= highprec.MAX_ELEMENTS

    def wants_high_precision(self, judgement: MatrixJudgement) -> bool:
        if not self.can_use_high_precision(judgement.reference):
            return False
        undecided = any(_undecided(r) for r in judgement.results)
        budget = judgement.budget
        loose = budget.uncertainty > LOOSE_BOUND * budget.scale
        bounded = loose and any(r.error_is_bound for r in judgement.results)
        return self.settings.reference is ReferencePrecision.HIGH or undecided or bounded

    def high_precision(self, reference: Reference, spectrum: Spectrum) -> Reference:
        digits = highprec.digits_for(reference.condition)
        return reference.in_mpmath(
            highprec.high_precision_gradient(self.a, self.loss, spectrum, digits), digits
        )

    @staticmethod
    def settled(judgement: MatrixJudgement) -> MatrixJudgement:
        """What is still undecided, settled in the backends' favour (no better reference to ask)."""
        unique = judgement.reference.unique
        judgement.results = [
            settle_in_favour(r, judgement.budget, unique) if _undecided(r) else r for r in judgement.results
        ]
        return judgement

    def refined(self, judgement: MatrixJudgement) -> MatrixJudgement:
        """Every backend re-judged against a high-precision reference (where it is wanted), then
        what is still undecided settled in the backends' favour."""
        if self.wants_high_precision(judgement):
            better = self.high_precision(judgement.reference, judgement.spectrum)
            judgement = self.judged(better, judgement.spectrum)
        return self.settled(judgement)

    def verified(self, judgement: MatrixJudgement) -> MatrixJudgement:
        """The judgement with its reference's finite-difference check done; a reference that fails it
        is replaced by the high-precision one where that may be computed and passes (a new judgement)."""
        a, loss, seed, spectrum = self.a, self.loss, self.settings.seed, judgement.spectrum
        reference = verify_reference(judgement.reference, a, loss, spectrum, seed)
        if reference.failed_check and self.can_use_high_precision(reference):
            better = verify_reference(self.high_precision(reference, spectrum), a, loss, spectrum, seed)
            if not better.failed_check:
                better = replace(better, method=f"{better.method}; the float64 reference failed this check")
                return self.settled(self.judged(better, spectrum))
            reference = better
        return replace(judgement, reference=reference)

    def with_forward_checks(self, judgement: MatrixJudgement) -> list[BackendResult]:
        """Each result with its forward SVD measured: always where the call returned vectors, and for
        a finding also by asking the backend for its SVD with vectors."""
        reference, budget = judgement.reference, judgement.budget
        used = self.loss.triplets(self.a.shape)  # the leading triplets the loss reads (truncated.py)
        checked = []
        for r in judgement.results:
            if r.singular_values is None:
                checked.append(r)
                continue
            values, u, v = r.singular_values, r.u, r.v
            if u is None and r.verdict in EXPLAINED:
                factors = self.forward_svd(r.name)
                if factors is not None:
                    values, u, v = factors
            forward = check_forward(self.a, reference.singular_values, values, u, v, budget.eps, used)
            checked.append(replace(r, forward=forward))
        return checked

    def with_findings(self, judgement: MatrixJudgement) -> tuple[list[BackendResult], list[Finding]]:
        """The judged results with their forward SVDs measured, and the findings about the matrix."""
        reference, spectrum = judgement.reference, judgement.spectrum
        judged = self.with_forward_checks(judgement)
        findings: list[Finding] = spectrum_findings(spectrum, self.loss, self.dup_tol)
        if reference.gradient is not None and reference.unique:  # the conditioning's, as scan.py's
            s = self.settings
            conditioned = make_budget(reference, self.a.shape, self.a.dtype, s.budget_factor, s.rtol, s.atol)
            findings += ill_conditioned(conditioned, str(self.a.dtype))
        findings += forward_findings(judged, reference, term_size(reference)) + convention_note(judged)
        return judged, findings

    def with_error_parts(self, results, reference: Reference, spectrum: Spectrum) -> list[BackendResult]:
        """Each wrong or inaccurate result with its error split by part of the SVD rule
        (error_parts.py), where there is a gradient (set) to split against: not at A = 0 nor where
        the loss has none."""
        if reference.gradient is None or reference.ball_radius is not None:
            return results
        loss, svd = self.loss, self.svd
        w = None if isinstance(loss, VectorLoss) or reference.unique else loss.weights(len(spectrum.values))
        free = free_blocks(spectrum, w)
        return [
            replace(
                r,
                error_parts=decompose(r.gradient, reference.gradient, svd.u, svd.v, spectrum, r.error, free),
            )
            if r.verdict in (BackendVerdict.WRONG, BackendVerdict.INACCURATE)
            else r
            for r in results
        ]

    def with_truncation_parts(self, results, reference: Reference) -> list[BackendResult]:
        """Each result's error parts also split at its cut (numerics/truncated.py): the triplets it
        returned where fewer than all, else those the loss uses where fewer than all."""
        svd, loss = self.svd, self.loss
        full = len(svd.s)
        returned = [full if r.singular_values is None else len(r.singular_values) for r in results]
        cuts = [kept if kept < full else loss.triplets((full, full)) for kept in returned]
        return [
            replace(
                r,
                error_parts=replace(
                    r.error_parts, truncation=truncation_parts(r.gradient, reference.gradient, loss, svd, cut)
                ),
            )
            if r.error_parts is not None and cut < full and reference.unique
            else r
            for r, cut in zip(results, cuts, strict=True)
        ]

    def matrix_report(self, judged, findings, reference: Reference, spectrum: Spectrum) -> MatrixReport:
        case, a, loss = self.case, self.a, self.loss
        verdict = matrix_verdict((r.verdict for r in judged), reference.unique, reference.defined)
        return MatrixReport(
            source=case.source,
            index=case.index,
            shape=tuple(a.shape),
            dtype=str(a.dtype),
            stored_dtype=case.stored_dtype,
            reshaped=case.reshaped,
            status=MatrixStatus.CHECKED,
            verdict=verdict,
            explanation=explain(verdict, loss, reference, spectrum, judged, self.versions, str(a.dtype)),
            backends=tuple(judged),
            reference=reference,
            warnings=tuple(findings),
            pairs=tuple(pair_differences(judged)),
            loss_weights=loss.arrays,
            matrix=a,
            target=self.plan.target,
        )


# What judges each target (numerics/differentiated.py): a new target is one more entry.
ASSESSMENTS: dict[Target, type[MatrixAssessment]] = {DEFAULT_TARGET: MatrixAssessment}


def assessment_for(target: Target) -> type[MatrixAssessment]:
    """The assessment class of ``target``; a UsageError (one line) for a target svdgrad cannot judge yet."""
    if target not in ASSESSMENTS:
        known = ", ".join(str(t) for t in ASSESSMENTS)
        raise UsageError(f"svdgrad cannot judge {target} yet (it judges {known})")
    return ASSESSMENTS[target]
