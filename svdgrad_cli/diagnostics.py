"""Spectrum findings: near-zero and near-duplicate singular values, and what they do to gradients."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.losses import SpectralLoss
from svdgrad_cli.model import Finding
from svdgrad_cli.spectrum import Spectrum


def _span(indices: list[int]) -> str:
    """1-based indices as 's_3-s_5' for a run, or 's_2, s_4' otherwise."""
    one_based = [i + 1 for i in indices]
    if len(one_based) > 2 and one_based == list(range(one_based[0], one_based[-1] + 1)):
        return f"s_{one_based[0]}-s_{one_based[-1]}"
    return ", ".join(f"s_{i}" for i in one_based)


def near_zero(spectrum: Spectrum, loss: SpectralLoss, w: np.ndarray) -> list[Finding]:
    zeros = list(spectrum.zeros)
    if not zeros:
        return []
    count = len(zeros)
    noun = "singular value is" if count == 1 else "singular values are"
    if len(zeros) == len(spectrum.values):
        effect = "the matrix is numerically zero: every singular vector is arbitrary"
    elif np.any(w[zeros]):
        effect = (
            f"the gradient of {loss.name} is not unique here; backends may legitimately differ "
            "and the null-space part of their answers depends on an arbitrary basis"
        )
    else:
        effect = f"{loss.name} puts no weight on them, so its gradient is still unique"
    message = f"{count} {noun} numerically zero ({_span(zeros)} <= {spectrum.zero_tol:.1e} * s_1): {effect}."
    return [Finding("near-zero", message, tuple(i + 1 for i in zeros))]


def near_duplicates(spectrum: Spectrum, loss: SpectralLoss, w: np.ndarray, dup_tol: float) -> list[Finding]:
    """One finding per run of positive neighbours whose gap is <= dup_tol * s_1."""
    s = spectrum.values
    runs: list[list[int]] = []
    for i in (i for c in spectrum.clusters for i in c):
        if runs and s[runs[-1][-1]] - s[i] <= dup_tol * spectrum.top:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [_duplicate_finding(spectrum, loss, w, run) for run in runs if len(run) > 1]


def _duplicate_finding(spectrum: Spectrum, loss: SpectralLoss, w: np.ndarray, run: list[int]) -> Finding:
    s = spectrum.values
    gap = float(np.min(-np.diff(s[run])))
    tied = all(spectrum.cluster_of(i) == spectrum.cluster_of(run[0]) for i in run)
    closeness = "equal to working precision" if tied else f"close (smallest gap {gap:.2e})"
    if np.ptp(w[run]) == 0:
        effect = (
            f"{loss.name} weighs them equally, so its gradient is unique; singular vectors there "
            "are arbitrary and 1/(s_i^2 - s_j^2) terms can blow up in losses that use U or V"
        )
    elif tied:
        effect = f"{loss.name} separates them, so its gradient is not unique here"
    else:
        effect = (
            f"{loss.name} separates them, so its gradient is ill-conditioned: singular vectors "
            f"move by about eps * s_1 / {gap:.1e}"
        )
    message = f"{_span(run)} are {closeness}: {effect}."
    return Finding("near-duplicate", message, tuple(i + 1 for i in run))


def ill_conditioned(reference_norm: float, budget: float, dtype: str) -> list[Finding]:
    """Warn when rounding alone may move the gradient by a tenth of its own size."""
    if budget <= 0.1 * reference_norm:
        return []
    message = (
        f"in {dtype} the gradient is determined only to about {budget:.1e} "
        f"(its norm is {reference_norm:.2e}): differences below that are rounding, not signal."
    )
    return [Finding("ill-conditioned", message)]


def spectrum_findings(spectrum: Spectrum, loss: SpectralLoss, dup_tol: float) -> list[Finding]:
    w = loss.weights(len(spectrum.values))
    return near_zero(spectrum, loss, w) + near_duplicates(spectrum, loss, w, dup_tol)
