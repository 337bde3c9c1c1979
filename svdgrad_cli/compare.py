"""Judge each backend against the float64 reference, compare backends pairwise, and decide a verdict.

Per backend: ``correct`` (the gradient is unique and within budget of it), ``valid`` (not unique, and
within budget of the gradient set), ``wrong`` (finite, neither), ``non-finite``, ``failed`` (raised),
``undefined`` (no gradient and no set to test against). The matrix verdict is the worst news:
``wrong`` > ``non-finite`` > ``error`` (a backend failed) > ``undefined`` > ``non-unique`` > ``agree``.
"""

from __future__ import annotations

import itertools

import numpy as np

from svdgrad_cli.budget import error_budget
from svdgrad_cli.membership import distance_to_set
from svdgrad_cli.model import BackendResult, PairDiff, Reference
from svdgrad_cli.spectrum import Spectrum


def judge_backend(
    result: BackendResult,
    reference: Reference,
    spectrum: Spectrum,
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    dtype: np.dtype,
    budget_factor: float,
    rtol: float | None,
    atol: float | None,
) -> BackendResult:
    """The same result with verdict, error and budget filled in."""
    if result.status == "failed":
        return result
    gradient = result.gradient
    if not np.all(np.isfinite(gradient)):
        count = int(np.sum(~np.isfinite(gradient)))
        message = f"{count} of {gradient.size} gradient entries are NaN or Inf"
        return BackendResult(
            result.name, "non-finite", message, result.singular_values, gradient, "non-finite"
        )
    g64 = gradient.astype(np.float64)
    if reference.unique:
        error = float(np.linalg.norm(g64 - reference.gradient))
    else:
        error = distance_to_set(g64, u, v, spectrum, w)
    reference_norm = float(np.linalg.norm(reference.gradient))
    budget = error_budget(spectrum, w, dtype, budget_factor, rtol, atol, reference_norm)
    if error <= budget:
        verdict = "correct" if reference.unique else "valid"
    else:
        verdict = "wrong"
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


def matrix_verdict(results: list[BackendResult], reference: Reference) -> str:
    verdicts = {r.verdict for r in results}
    for worst, matrix in (
        ("wrong", "wrong"),
        ("non-finite", "non-finite"),
        ("failed", "error"),
        ("undefined", "undefined"),
    ):
        if worst in verdicts:
            return matrix
    return "agree" if reference.unique else "non-unique"
