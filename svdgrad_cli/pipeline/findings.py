"""Spectrum findings: near-zero and near-duplicate singular values, and what they do to gradients."""

from __future__ import annotations

import itertools
import math

import numpy as np

from svdgrad_cli.model import NOTE, REFERENCE_FAILED, WARNING, BackendResult, Finding, Reference
from svdgrad_cli.numerics.budget import Budget
from svdgrad_cli.numerics.field import AS_RETURNED, CONJUGATED
from svdgrad_cli.numerics.losses import Loss, VectorLoss
from svdgrad_cli.numerics.spectrum import Spectrum, span
from svdgrad_cli.verdicts import BackendVerdict


def _zero_effect(spectrum: Spectrum, loss: Loss) -> tuple[str, str]:
    """(level, what the zeros do to the gradient of this loss)."""
    zeros = list(spectrum.zeros)
    k = len(spectrum.values)
    if len(zeros) == k:
        return WARNING, "the matrix is numerically zero: every singular vector is arbitrary"
    if loss.needs_vectors and loss.kind in ("polar", "uv"):
        return WARNING, (
            f"{loss.name} depends on the basis chosen for the null space unless its weights ignore it, "
            "and frameworks' 1/s and 1/(s_i + s_j) terms divide by zero there"
        )
    if isinstance(loss, VectorLoss) or not np.any(loss.weights(k)[zeros]):
        return NOTE, f"{loss.name} does not depend on them, so its gradient is unaffected"
    return WARNING, (
        f"the gradient of {loss.name} is not unique here; backends may legitimately differ "
        "and the null-space part of their answers depends on an arbitrary basis"
    )


def near_zero(spectrum: Spectrum, loss: Loss) -> list[Finding]:
    zeros = list(spectrum.zeros)
    if not zeros:
        return []
    noun = "singular value is" if len(zeros) == 1 else "singular values are"
    where = "every one" if spectrum.top == 0 else f"{span(zeros)} <= {spectrum.zero_tol:.1e} * s_1"
    level, effect = _zero_effect(spectrum, loss)
    message = f"{len(zeros)} {noun} numerically zero ({where}): {effect}."
    return [Finding("near-zero", message, tuple(i + 1 for i in zeros), level)]


def _close_pairs(spectrum: Spectrum, dup_tol: float) -> list[tuple[int, int]]:
    """Neighbouring positive singular values within dup_tol * s_1 of each other (0-based pairs)."""
    s = spectrum.values
    positive = [i for cluster in spectrum.clusters for i in cluster]
    return [(i, j) for i, j in itertools.pairwise(positive) if s[i] - s[j] <= dup_tol * spectrum.top]


def _duplicate_effect(loss: Loss, separated: list[tuple[int, int]], tied: bool) -> str:
    if not separated:
        return (
            f"{loss.name} does not tell them apart, so its gradient is unaffected; frameworks whose "
            "rules divide by the gap can still lose digits there"
        )
    where = span(sorted({i for pair in separated for i in pair}))
    if loss.needs_vectors and loss.kind == "uv":
        return f"{loss.name} depends on the singular vectors there ({where}), which are not determined"
    if tied:
        return f"{loss.name} separates {where}, so its gradient is not unique there"
    return (
        f"{loss.name} separates {where}, so its gradient is ill-conditioned there: it turns by about "
        "eps * s_1 / gap"
    )


def _pair_count(count: int) -> str:
    return "1 pair of neighbours is" if count == 1 else f"{count} pairs of neighbours are"


def near_duplicates(spectrum: Spectrum, loss: Loss, dup_tol: float) -> list[Finding]:
    """One finding for all neighbours at most dup_tol * s_1 apart: a warning where the loss separates
    some of them (its gradient is ill-conditioned or a set there), else a note."""
    pairs = _close_pairs(spectrum, dup_tol)
    if not pairs:
        return []
    k = len(spectrum.values)
    separated = [(i, j) for i, j in pairs if loss.separates(i, j, k)]
    gaps = [float(spectrum.values[i] - spectrum.values[j]) for i, j in pairs]
    closest = pairs[int(np.argmin(gaps))]
    involved = sorted({i for pair in pairs for i in pair})
    tied_pairs = sum(gap <= spectrum.zero_tol * spectrum.top for gap in gaps)  # ties by --zero-tol
    tied = tied_pairs > 0
    if tied:
        closeness = (
            f"{_pair_count(tied_pairs)} tied to working precision (gap <= {spectrum.zero_tol:.1e} * s_1)"
        )
        more = len(pairs) - tied_pairs
        closeness += f" and {more} more at most sqrt(eps) * s_1 apart" if more else ""
    else:
        smallest = f"smallest gap {min(gaps):.1e}, {span(closest)}"
        closeness = f"{_pair_count(len(pairs))} at most sqrt(eps) * s_1 apart ({smallest})"
    message = f"{closeness} among {span(involved)}: {_duplicate_effect(loss, separated, tied)}."
    return [
        Finding("near-duplicate", message, tuple(i + 1 for i in involved), WARNING if separated else NOTE)
    ]


def precision_advice(dtype: str) -> str:
    """What to do where the data in ``dtype`` do not determine the gradient: a wider dtype where the
    frameworks have one, else say that none helps."""
    wider = {"float32": "float64", "complex64": "complex128"}.get(dtype)
    if wider:
        return f"compute in {wider} (--dtype {wider}) to get an answer worth comparing"
    return f"no framework computes in more than {dtype}, so no answer here is worth comparing"


def ill_conditioned(budget: Budget, dtype: str) -> list[Finding]:
    """Warn when the true gradient is ill-conditioned: the data justify fewer than half the digits of
    the dtype (relative budget over sqrt(eps)); at 0.1 they do not determine it at all."""
    if budget.relative <= math.sqrt(budget.eps):
        return []
    if not budget.determined:
        message = (
            f"in {dtype} the data do not determine the gradient here: rounding alone moves it by about "
            f"{budget.relative:.0%} of its size; {precision_advice(dtype)}."
        )
    else:
        message = (
            f"the gradient is ill-conditioned here: in {dtype} the data justify only about "
            f"{budget.justified_digits:.1f} digits of it (budget {budget.allowed:.2e} against a size of "
            f"{budget.scale:.2e}); differences below that are rounding, not signal."
        )
    return [Finding("ill-conditioned", message)]


def forward_findings(results: list[BackendResult], reference: Reference, scale: float) -> list[Finding]:
    """One finding per backend whose own forward SVD is inaccurate, saying whether that explains its
    gradient's error (then the SVD, not the gradient rule, is at fault)."""
    findings = []
    for r in results:
        check = r.forward
        if check is None or check.accurate:
            continue
        measured = ", ".join(
            f"{name} {value:.1e} ({value / check.eps:.2g} eps)"
            for name, value in (
                ("singular values", check.value_error),
                ("residual ||A - U S V^T|| / ||A||", check.residual),
                ("orthogonality", check.orthogonality),
                ("subspace angles of the top triplets (sin x gap / s_1)", check.subspace),
            )
            if value is not None
        )
        blame = ""
        off = r.verdict in (BackendVerdict.WRONG, BackendVerdict.INACCURATE)  # a correct one needs no cause
        if (
            off
            and r.error is not None
            and check.explains(r.error, reference.matrix_norm, reference.hessian_norm, scale)
        ):
            blame = " That accounts for its gradient's error: the SVD, not the gradient rule, is at fault."
        if check.transposed:
            blame += (
                " Its factors do reconstruct A with the last one transposed: it returns V^T where V is "
                "expected (or the reverse); declare which with :v or :vh at the end of its spec."
            )
        message = f"{r.name}'s forward SVD is inaccurate here: {measured}.{blame}"
        findings.append(Finding("forward-svd", message))
    return findings


def reference_check(reference: Reference) -> list[Finding]:
    """Warn when the reference failed its own finite-difference check: it certifies nothing."""
    fd = reference.finite_difference
    if fd is None or fd["passed"]:  # not failed_check
        return []
    message = (
        f"the {reference.precision} reference failed its {fd['kind']} finite-difference check "
        f"(error {fd['max_error']:.2e}, tolerance {fd['tolerance']:.2e}), so it certifies nothing: no "
        "backend is judged against it (indeterminate), and the run exits 2. The loss may be badly "
        "scaled or near a kink here."
    )
    return [Finding(REFERENCE_FAILED, message)]


def convention_note(results: list[BackendResult]) -> list[Finding]:
    """On complex input, a note naming the backends whose gradient is the conjugate of svdgrad's
    convention (field.py): judged after conjugation, never wrong for it, but code ported between
    frameworks must conjugate too."""
    conjugated = [r.name for r in results if r.convention and r.convention.startswith(CONJUGATED)]
    if not conjugated:
        return []
    steepest = [r.name for r in results if r.convention and r.convention.startswith(AS_RETURNED)]
    message = (
        f"{', '.join(conjugated)} return{'s' if len(conjugated) == 1 else ''} the complex conjugate of "
        "the steepest-ascent gradient dL/dRe A + i dL/dIm A"
        + (f" that {', '.join(steepest)} return{'s' if len(steepest) == 1 else ''}" if steepest else "")
        + "; svdgrad conjugated before judging. Code ported between these frameworks must conjugate too."
    )
    return [Finding("convention", message, level=NOTE)]


def spectrum_findings(spectrum: Spectrum, loss: Loss, dup_tol: float) -> list[Finding]:
    return near_zero(spectrum, loss) + near_duplicates(spectrum, loss, dup_tol)
