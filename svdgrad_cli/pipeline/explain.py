"""One or two sentences per verdict: why (which singular values, which gap) and what to do."""

from __future__ import annotations

import re

import numpy as np

from svdgrad_cli.model import BackendResult, Reference
from svdgrad_cli.numerics.budget import gradient_scale, term_size
from svdgrad_cli.numerics.losses import Loss, SpectralLoss
from svdgrad_cli.numerics.spectrum import Spectrum, span
from svdgrad_cli.pipeline.findings import precision_advice
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

FIX_YOUR_OWN = (
    "The backward pass is the plug-in's own: --save-repro DIR writes the matrix and a script that runs "
    "it alone, to debug it (for a plug-in that replaces a framework's SVD call; of a python: function, "
    "-f json --include-arrays keeps the matrix and its gradients)."
)
REPORT_UPSTREAM = (
    "Report it upstream with the framework's version: --save-repro DIR writes the matrix and a "
    "script that reproduces it with that framework alone."
)

# The command line's advice in an explanation, and what the Python API (run.py) says instead.
PYTHON_ADVICE = {
    FIX_YOUR_OWN: "The backward pass is the plug-in's own: {call} returns the report, whose results "
    "hold the matrix (.matrix), the reference (.reference.gradient) and each backend's .gradient and "
    ".error_parts, to debug it.",
    REPORT_UPSTREAM: "Report it upstream with the framework's version: {call} returns the report, whose "
    "results hold the matrix (.matrix) and both gradients (.reference.gradient, .backends[i].gradient).",
    "is printed by --show-reference.": "is the report's .reference.gradient.",
}


def for_python(explanation: str, call: str) -> str:
    """An explanation with its command-line advice (flags) said as the Python ``call`` gives it."""
    for flag, words in PYTHON_ADVICE.items():
        explanation = explanation.replace(flag, words.format(call=call))
    return re.sub(r"\(--dtype (\w+)\)", r"(dtype='\1')", explanation)


def why_not_unique(spectrum: Spectrum, w: np.ndarray) -> str:
    """Name the clusters that make the gradient of a spectral loss set-valued."""
    reasons = []
    for cluster in spectrum.clusters:
        if np.ptp(w[list(cluster)]) > 0:
            reasons.append(f"{span(cluster)} are tied but weighted differently")
    if spectrum.zeros and np.any(w[list(spectrum.zeros)]):
        reasons.append(f"{len(spectrum.zeros)} weighted singular value(s) are zero ({span(spectrum.zeros)})")
    return "; ".join(reasons)


def _digits(value: float | None) -> str:
    return "all" if value is None or value == float("inf") or value > 16 else f"{max(value, 0.0):.1f}"


def _agree(loss: Loss, reference: Reference, results: list[BackendResult]) -> str:
    worst = max((r.budget_multiple or 0.0 for r in results), default=0.0)
    justified = next((r.justified_digits for r in results if r.justified_digits is not None), None)
    margin = f"worst: {worst:.2g}x its error budget" if worst else "every one exactly"
    return (
        f"The gradient of {loss.name} is unique here and every backend matches the {reference.precision} "
        f"reference to the {_digits(justified)} digits the data justify ({margin})."
    )


def _indeterminate(loss: Loss, reference: Reference, results: list[BackendResult], dtype: str) -> str:
    budgets = [r.budget for r in results if r.budget is not None]
    relative = max(budgets) / (reference.gradient_norm or 1.0) if budgets else 0.0
    return (
        f"In this precision the data do not determine the gradient of {loss.name} here: rounding A alone "
        f"may move it by about {relative:.0%} of its size (relative condition {reference.condition:.3g}), "
        f"so no backend can be called correct, and none is wrong within that: {precision_advice(dtype)}."
    )


def _unverified(reference: Reference, fd: dict) -> str:
    return (
        f"The {reference.precision} reference failed its own {fd['kind']} finite-difference check (error "
        f"{fd['max_error']:.2e}, tolerance {fd['tolerance']:.2e}): a reference that fails its own check "
        "certifies nothing, so no backend is called correct, valid or wrong against it. Try --reference "
        "high, or another --seed for the check's directions."
    )


def _non_unique(loss: Loss, reference: Reference, spectrum: Spectrum) -> str:
    remedy = (
        "any member serves a convex loss in training"
        if loss.convex
        else "any member of the Clarke gradient is an equally valid answer"
    )
    if isinstance(loss, SpectralLoss):
        why = why_not_unique(spectrum, loss.weights(len(spectrum.values)))
    else:  # a loss of U and V is non-unique only at A = 0, where its set is a ball
        why = reference.set_description
    return (
        f"The gradient of {loss.name} is not unique here ({why}); every backend returned a valid member "
        f"of the set, so differences between them are expected: {remedy}. The minimum-norm member "
        f"(norm {reference.gradient_norm:.4g}) is printed by --show-reference."
    )


def _undefined(loss: Loss, reference: Reference) -> str:
    reason = reference.set_description.removeprefix("undefined: ")
    return (
        f"{loss.name} has no gradient here: {reason}. Every backend's number depends on an arbitrary "
        "choice inside its SVD, so none is judged; fix the gauge in the loss (e.g. a sign or phase "
        "convention, or a loss of subspaces rather than vectors) before differentiating it."
    )


def _names(results: list[BackendResult], versions) -> str:
    names = [f"{r.name} {versions.get(r.name) or ''}".strip() for r in results]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _gap_cause(reference: Reference, spectrum: Spectrum) -> str:
    """Name a (near) tie that frameworks' rules divide by while the true gradient does not."""
    if not reference.unique or not spectrum.top:
        return ""
    tied = next((c for c in spectrum.clusters if len(c) > 1), None)
    if tied is not None:
        where = f"At the repeated singular value {span(tied)}"
    else:
        positive = [i for cluster in spectrum.clusters for i in cluster]
        gaps = np.abs(np.diff(spectrum.values[positive]))
        if not len(gaps):
            return ""
        i = int(np.argmin(gaps))
        if gaps[i] / spectrum.top * max(reference.condition, 1.0) >= 1e-3:  # the true gradient feels it
            return ""
        where = f"Near {span([positive[i], positive[i + 1]])} (gap {gaps[i]:.2g})"
    return (
        f"{where} frameworks' reverse-mode rules have 1/(s_i - s_j) terms, which divide the rounding of a "
        "coupling that is zero in exact arithmetic by the gap (or are dropped whole by guards such as "
        f"TensorFlow's safe reciprocal); the true gradient has no such term (its relative condition is "
        f"{reference.condition:.3g})."
    )


def _forward_cause(r: BackendResult, reference: Reference) -> str:
    check = r.forward
    if check is None or r.error is None:
        return ""
    scale = term_size(reference)
    if check.explains(r.error, reference.matrix_norm, reference.hessian_norm, scale):
        return (
            f" Its forward SVD is itself inaccurate (worst relative error {check.worst:.1e}), "
            "which accounts for it."
        )
    return ""


def _deviation(r: BackendResult, reference: Reference, versions) -> str:
    target = "gradient" if reference.unique else "gradient set"
    if r.error is None or r.budget is None:  # judged wrong or inaccurate: both are measured
        raise ValueError(f"{r.name}: a {r.verdict} result without its error and budget")
    relative = r.error / (gradient_scale(reference) or 1.0)
    kind = "wrong" if r.verdict == BackendVerdict.WRONG else "inaccurate"
    at_most, at_least = r.bound_marks  # a bound only under a --rtol/--atol budget below the reference's error
    return (
        f"{_names([r], versions)} is {kind}: {at_most}{relative:.2g} relative error from the reference "
        f"{target} ({at_least}{_digits(r.digits)} correct digits where the data justify "
        f"{_digits(r.justified_digits)}; error {at_most}{r.error:.3g}, budget {r.budget:.3g})."
        f"{_forward_cause(r, reference)}"
    )


def _problems(reference: Reference, spectrum: Spectrum, results, versions) -> str:
    parts = [
        *_off(reference, spectrum, results, versions),
        _non_finite(reference, spectrum, results, versions),
        *_not_run(results, versions),
    ]
    return " ".join(p for p in parts if p) or "No backend could be judged."


def _off(reference: Reference, spectrum: Spectrum, results, versions) -> list[str]:
    """The wrong and inaccurate backends, the likely cause, and where to report it."""
    off = [r for r in results if r.verdict in (BackendVerdict.WRONG, BackendVerdict.INACCURATE)]
    if not off:
        return []
    plugins = [r for r in off if not r.built_in]
    advice = REPORT_UPSTREAM if len(plugins) < len(off) else FIX_YOUR_OWN
    return [*(_deviation(r, reference, versions) for r in off), _gap_cause(reference, spectrum), advice]


def _non_finite(reference: Reference, spectrum: Spectrum, results, versions) -> str:
    non_finite = [r for r in results if r.verdict == BackendVerdict.NON_FINITE]
    if not non_finite:
        return ""
    tied = bool(spectrum.zeros) or any(len(c) > 1 for c in spectrum.clusters)
    cause = " at tied or zero singular values, where 1/(s_i^2 - s_j^2) terms divide by zero" if tied else ""
    if reference.defined:
        return f"{_names(non_finite, versions)} returned NaN/Inf{cause}; the reference is finite."
    reason = reference.set_description.removeprefix("undefined: ")
    return (
        f"{_names(non_finite, versions)} returned NaN/Inf{cause}. The loss has no gradient here "
        f"either ({reason}): change the loss or the matrix, not the framework."
    )


def _not_run(results, versions) -> list[str]:
    """The backends whose call raised, and those that do not implement this gradient."""
    failed = [
        f"{_names([r], versions)} failed: {r.message}" for r in results if r.verdict == BackendVerdict.FAILED
    ]
    unsupported = [
        f"{_names([r], versions)} does not implement this gradient ({r.message})."
        for r in results
        if r.verdict == BackendVerdict.UNSUPPORTED
    ]
    return failed + unsupported


def explain(
    verdict: str,
    loss: Loss,
    reference: Reference,
    spectrum: Spectrum,
    results: list[BackendResult],
    versions: dict[str, str | None],
    dtype: str,
) -> str:
    """What the verdict means for this matrix, in sentences (``dtype``: the one the backends used)."""
    if verdict == MatrixVerdict.AGREE:
        return _agree(loss, reference, results)
    fd = reference.finite_difference
    if verdict == MatrixVerdict.INDETERMINATE and fd is not None and not fd["passed"]:  # failed_check
        return _unverified(reference, fd)
    if verdict == MatrixVerdict.INDETERMINATE:
        return _indeterminate(loss, reference, results, dtype)
    if verdict == MatrixVerdict.NON_UNIQUE:
        return _non_unique(loss, reference, spectrum)
    if verdict == MatrixVerdict.UNDEFINED:
        return _undefined(loss, reference)
    return _problems(reference, spectrum, results, versions)
