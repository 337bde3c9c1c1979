"""One or two sentences per verdict: why (which singular values, which gap) and what to do."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.losses import SpectralLoss
from svdgrad_cli.model import BackendResult, Reference
from svdgrad_cli.spectrum import Spectrum


def _indices(indices) -> str:
    return ", ".join(f"s_{i + 1}" for i in indices)


def why_not_unique(spectrum: Spectrum, w: np.ndarray) -> str:
    """Name the clusters that make the gradient set-valued."""
    reasons = []
    for cluster in spectrum.clusters:
        if np.ptp(w[list(cluster)]) > 0:
            reasons.append(f"{_indices(cluster)} are tied but weighted differently")
    if spectrum.zeros and np.any(w[list(spectrum.zeros)]):
        count = len(spectrum.zeros)
        reasons.append(f"{count} weighted singular value(s) are zero ({_indices(spectrum.zeros)})")
    return "; ".join(reasons)


def explain(
    verdict: str,
    loss: SpectralLoss,
    reference: Reference,
    spectrum: Spectrum,
    results: list[BackendResult],
    versions: dict[str, str | None],
) -> str:
    w = loss.weights(len(spectrum.values))
    if verdict == "agree":
        worst = max((r.budget_multiple or 0.0 for r in results), default=0.0)
        return (
            f"The gradient of {loss.name} is unique here and every backend matches the float64 "
            f"reference (worst: {worst:.2g}x its error budget)."
        )
    if verdict == "non-unique":
        remedy = (
            "any member serves a convex loss in training"
            if loss.convex
            else "any member of the Clarke gradient is an equally valid answer"
        )
        return (
            f"The gradient of {loss.name} is not unique here ({why_not_unique(spectrum, w)}); every "
            f"backend returned a valid member of the set, so differences between them are expected: "
            f"{remedy}. The minimum-norm member (norm {np.linalg.norm(reference.gradient):.4g}) is "
            "printed by --show-reference."
        )
    bad = [r for r in results if r.verdict in ("wrong", "non-finite", "failed")]
    parts = []
    for r in bad:
        name = f"{r.name} {versions.get(r.name) or ''}".strip()
        if r.verdict == "wrong":
            target = "gradient" if reference.unique else "gradient set"
            parts.append(
                f"{name} is {r.budget_multiple:.3g}x over its error budget from the reference "
                f"{target} (error {r.error:.3g}, budget {r.budget:.3g}); report it with the "
                "backend's version and the reproducer that --save-repro DIR writes."
            )
        elif r.verdict == "non-finite":
            cause = ""
            if spectrum.zeros or any(len(c) > 1 for c in spectrum.clusters):
                cause = " at tied or zero singular values, where 1/(s_i^2 - s_j^2) terms divide by zero"
            parts.append(
                f"{name} returned NaN/Inf{cause}; the float64 reference is finite "
                f"({reference.set_description})."
            )
        else:
            parts.append(f"{name} failed: {r.message}")
    return " ".join(parts) or "No backend could be judged."
