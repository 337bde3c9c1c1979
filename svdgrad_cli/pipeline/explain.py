"""One or two sentences per verdict: why (which singular values, which gap) and what to do."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.model import BackendResult, Reference
from svdgrad_cli.numerics.losses import Loss
from svdgrad_cli.numerics.spectrum import Spectrum, span
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

REPORT_UPSTREAM = (
    "Report it upstream with the framework's version: --save-repro DIR writes the matrix and a "
    "script that reproduces it with that framework alone."
)


def why_not_unique(spectrum: Spectrum, w: np.ndarray) -> str:
    """Name the clusters that make the gradient of a spectral loss set-valued."""
    reasons = []
    for cluster in spectrum.clusters:
        if np.ptp(w[list(cluster)]) > 0:
            reasons.append(f"{span(cluster)} are tied but weighted differently")
    if spectrum.zeros and np.any(w[list(spectrum.zeros)]):
        reasons.append(f"{len(spectrum.zeros)} weighted singular value(s) are zero ({span(spectrum.zeros)})")
    return "; ".join(reasons)


def _agree(loss: Loss, results: list[BackendResult]) -> str:
    worst = max((r.budget_multiple or 0.0 for r in results), default=0.0)
    return (
        f"The gradient of {loss.name} is unique here and every backend matches the float64 "
        f"reference (worst: {worst:.2g}x its error budget)."
    )


def _non_unique(loss: Loss, reference: Reference, spectrum: Spectrum) -> str:
    remedy = (
        "any member serves a convex loss in training"
        if loss.convex
        else "any member of the Clarke gradient is an equally valid answer"
    )
    why = why_not_unique(spectrum, loss.weights(len(spectrum.values)))
    return (
        f"The gradient of {loss.name} is not unique here ({why}); every backend returned a valid member "
        f"of the set, so differences between them are expected: {remedy}. The minimum-norm member "
        f"(norm {reference.gradient_norm:.4g}) is printed by --show-reference."
    )


def _undefined(loss: Loss, reference: Reference) -> str:
    reason = reference.set_description.removeprefix("undefined: ")
    return (
        f"{loss.name} has no gradient here: {reason}. Every backend's number depends on an arbitrary "
        "choice inside its SVD, so none is judged; fix the gauge in the loss (e.g. a sign convention, "
        "or a loss of subspaces rather than vectors) before differentiating it."
    )


def _names(results: list[BackendResult], versions) -> str:
    names = [f"{r.name} {versions.get(r.name) or ''}".strip() for r in results]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _problems(reference: Reference, spectrum: Spectrum, results, versions) -> str:
    parts = []
    wrong = [r for r in results if r.verdict == BackendVerdict.WRONG]
    for r in wrong:
        target = "gradient" if reference.unique else "gradient set"
        parts.append(
            f"{_names([r], versions)} is {r.budget_multiple:.3g}x over its error budget from the reference "
            f"{target} (error {r.error:.3g}, budget {r.budget:.3g})."
        )
    if wrong:
        parts.append(REPORT_UPSTREAM)
    non_finite = [r for r in results if r.verdict == BackendVerdict.NON_FINITE]
    if non_finite:
        cause = ""
        if spectrum.zeros or any(len(c) > 1 for c in spectrum.clusters):
            cause = " at tied or zero singular values, where 1/(s_i^2 - s_j^2) terms divide by zero"
        parts.append(
            f"{_names(non_finite, versions)} returned NaN/Inf{cause}; the float64 reference is finite."
        )
    for r in (r for r in results if r.verdict == BackendVerdict.FAILED):
        parts.append(f"{_names([r], versions)} failed: {r.message}")
    return " ".join(parts) or "No backend could be judged."


def explain(
    verdict: str,
    loss: Loss,
    reference: Reference,
    spectrum: Spectrum,
    results: list[BackendResult],
    versions: dict[str, str | None],
) -> str:
    if verdict == MatrixVerdict.AGREE:
        return _agree(loss, results)
    if verdict == MatrixVerdict.NON_UNIQUE:
        return _non_unique(loss, reference, spectrum)
    if verdict == MatrixVerdict.UNDEFINED:
        return _undefined(loss, reference)
    return _problems(reference, spectrum, results, versions)
