"""Spectrum findings: near-zero and near-duplicate singular values, and what they do to gradients."""

from __future__ import annotations

import math

import numpy as np

from svdgrad_cli.model import BackendResult, Finding, Reference
from svdgrad_cli.numerics.budget import Budget
from svdgrad_cli.numerics.losses import Loss
from svdgrad_cli.numerics.spectrum import Spectrum, span


def _zero_effect(spectrum: Spectrum, loss: Loss) -> str:
    zeros = list(spectrum.zeros)
    if len(zeros) == len(spectrum.values):
        return "the matrix is numerically zero: every singular vector is arbitrary"
    if loss.needs_vectors:
        return (
            "the 1/(s_i + s_j) and 1/s_i terms of the SVD's reverse-mode rule divide by zero there; "
            f"{loss.name} has a gradient only if it ignores the null-space basis"
        )
    if np.any(loss.weights(len(spectrum.values))[zeros]):
        return (
            f"the gradient of {loss.name} is not unique here; backends may legitimately differ "
            "and the null-space part of their answers depends on an arbitrary basis"
        )
    return f"{loss.name} puts no weight on them, so its gradient is still unique"


def near_zero(spectrum: Spectrum, loss: Loss) -> list[Finding]:
    zeros = list(spectrum.zeros)
    if not zeros:
        return []
    noun = "singular value is" if len(zeros) == 1 else "singular values are"
    where = "every one" if spectrum.top == 0 else f"{span(zeros)} <= {spectrum.zero_tol:.1e} * s_1"
    message = f"{len(zeros)} {noun} numerically zero ({where}): {_zero_effect(spectrum, loss)}."
    return [Finding("near-zero", message, tuple(i + 1 for i in zeros))]


def _duplicate_effect(spectrum: Spectrum, loss: Loss, run: list[int], tied: bool, gap: float) -> str:
    if loss.needs_vectors:
        return (
            "1/(s_i - s_j) terms of the SVD's reverse-mode rule blow up there (frameworks without a "
            f"guard return NaN); {loss.name} has a gradient only if it ignores the basis inside the cluster"
        )
    w = loss.weights(len(spectrum.values))
    if np.ptp(w[run]) == 0:
        return (
            f"{loss.name} weighs them equally, so its gradient is unique; singular vectors there "
            "are arbitrary and 1/(s_i^2 - s_j^2) terms can blow up in losses that use U or V"
        )
    if tied:
        return f"{loss.name} separates them, so its gradient is not unique here"
    return (
        f"{loss.name} separates them, so its gradient is ill-conditioned: singular vectors "
        f"move by about eps * s_1 / {gap:.1e}"
    )


def near_duplicates(spectrum: Spectrum, loss: Loss, dup_tol: float) -> list[Finding]:
    """One finding per run of positive neighbours whose gap is <= dup_tol * s_1."""
    s = spectrum.values
    runs: list[list[int]] = []
    for i in (i for c in spectrum.clusters for i in c):
        if runs and s[runs[-1][-1]] - s[i] <= dup_tol * spectrum.top:
            runs[-1].append(i)
        else:
            runs.append([i])
    findings = []
    for run in (r for r in runs if len(r) > 1):
        gap = float(np.min(-np.diff(s[run])))
        tied = all(spectrum.cluster_of(i) == spectrum.cluster_of(run[0]) for i in run)
        closeness = "equal to working precision" if tied else f"close (smallest gap {gap:.2e})"
        effect = _duplicate_effect(spectrum, loss, run, tied, gap)
        findings.append(
            Finding("near-duplicate", f"{span(run)} are {closeness}: {effect}.", tuple(i + 1 for i in run))
        )
    return findings


def ill_conditioned(budget: Budget, dtype: str) -> list[Finding]:
    """Warn when the true gradient is ill-conditioned: the data justify fewer than half the digits of
    the dtype (relative budget over sqrt(eps)); at 0.1 they do not determine it at all."""
    if budget.relative <= math.sqrt(budget.eps):
        return []
    if not budget.determined:
        message = (
            f"in {dtype} the data do not determine the gradient here: rounding alone moves it by about "
            f"{budget.relative:.0%} of its size; compute in float64 to get an answer worth comparing."
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
            )
            if value is not None
        )
        blame = ""
        if r.error is not None and check.explains(
            r.error, reference.matrix_norm, reference.hessian_norm, scale
        ):
            blame = " That accounts for its gradient's error: the SVD, not the gradient rule, is at fault."
        message = f"{r.name}'s forward SVD is inaccurate here: {measured}.{blame}"
        findings.append(Finding("forward-svd", message))
    return findings


def reference_check(reference: Reference) -> list[Finding]:
    """Warn when the reference failed its own finite-difference check: its verdicts need care."""
    fd = reference.finite_difference
    if fd is None or fd["passed"]:
        return []
    message = (
        f"the float64 reference failed its {fd['kind']} finite-difference check "
        f"(error {fd['max_error']:.2e}, tolerance {fd['tolerance']:.2e}); the loss may be badly scaled "
        "or near a kink here, so treat "
        "the verdicts with care."
    )
    return [Finding("reference-check", message)]


def spectrum_findings(spectrum: Spectrum, loss: Loss, dup_tol: float) -> list[Finding]:
    return near_zero(spectrum, loss) + near_duplicates(spectrum, loss, dup_tol)
