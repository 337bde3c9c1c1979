"""``svdgrad scan``: a screen from the spectrum alone, before (or instead of) the full check.

Each matrix's singular values are computed once, in float64 (complex128), without singular vectors,
on the matrix scaled by a power of two (numerics/svd.py: exact, so the values scale back exactly).
They are grouped by the same rules as the full check's (numerics/spectrum.py: zeros and ties within
max(m, n) * eps(dtype) * s_1, or --zero-tol), and the same findings are drawn from them
(pipeline/findings.py: near-zero and near-duplicate values, and for a loss of s the ill-conditioned
warning from the same budget, whose ||DG||_2 and ||G||_F the spectrum determines: Lewis and Sendov
2005, Lewis 1995). A matrix is ``at-risk`` when one of them is a warning, that is when the full check
would warn that the loss's gradient there is not unique, undefined or ill-conditioned; else
``clear-spectrum``. Neither is a verdict on any framework: nothing is differentiated here.

``uv`` is at risk on every matrix: it depends on the sign of each singular pair (gauge.py). What
the spectrum cannot show: for polar and proj:K the size of the weights C along the singular
vectors, so their ill-conditioned warning from ||DG||_2 (dilation.py) is left to the full check; the
near-duplicate and near-zero warnings, which need no vectors, are drawn as in the full check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.loading import load_files
from svdgrad_cli.model import WARNING, Finding
from svdgrad_cli.numerics.budget import make_budget
from svdgrad_cli.numerics.conditioning import spectral_hessian_norm
from svdgrad_cli.numerics.field import is_complex, scale_by_power_of_two, working
from svdgrad_cli.numerics.losses import Loss, VectorLoss, parse_loss
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import Reference, averaged_weights, is_unique
from svdgrad_cli.numerics.spectrum import Spectrum, analyse_spectrum, default_dup_tol, default_zero_tol
from svdgrad_cli.numerics.svd import scale_exponents
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS, Settings
from svdgrad_cli.pipeline.findings import ill_conditioned, spectrum_findings
from svdgrad_cli.scan_model import Screened, ScreenVerdict


def singular_values(a: np.ndarray) -> np.ndarray:
    """The singular values of one matrix in float64, decreasing, with no singular vectors (LAPACK's
    gesdd with jobz='N'), from the matrix scaled by a power of two as svd.stack_svd scales it; a wide
    matrix as its transpose, which has the same values and which gesdd reduces faster (768x3072:
    0.20 s against 0.37 s here)."""
    a64 = working(a if a.shape[0] >= a.shape[1] else a.T)
    exponent = int(scale_exponents(a64[None])[0])
    values = np.linalg.svd(scale_by_power_of_two(a64, -exponent), compute_uv=False)
    return np.ldexp(values, exponent)


def spectral_conditioning(spectrum: Spectrum, loss: Loss, shape, dtype, settings: Settings) -> list[Finding]:
    """For a loss of s with a unique gradient, the full check's ill-conditioned warning: the budget
    of reference.py's closed form, whose ||G||_F = ||w||_2 and ||DG||_2 (conditioning.py) are
    functions of the spectrum alone."""
    if isinstance(loss, VectorLoss) or spectrum.top == 0:
        return []
    w = loss.weights(len(spectrum.values))
    if not is_unique(spectrum, w):
        return []
    hessian = spectral_hessian_norm(spectrum.values, w, spectrum, phases=is_complex(np.dtype(dtype)))
    reference = Reference(
        singular_values=spectrum.values,
        rank=spectrum.rank,
        unique=True,
        method="spectrum only",
        gradient=None,
        set_description="",
        gradient_norm=frobenius(averaged_weights(spectrum, w)),
        hessian_norm=hessian,
    )
    s = settings
    budget = make_budget(reference, shape, dtype, s.budget_factor, s.rtol, s.atol)
    return ill_conditioned(budget, str(np.dtype(dtype)))


def gauge_finding(loss: Loss) -> list[Finding]:
    """uv depends on the sign of every pair (u_i, v_i) (gauge.py's sign flips), whatever the
    spectrum: at risk on every matrix."""
    if loss.kind != "uv":
        return []
    message = (
        "uv depends on the sign (on complex input the phase) of every singular pair (u_i, v_i), "
        "whatever the spectrum: for generic weights it has no gradient."
    )
    return [Finding("gauge", message)]


def _closest(spectrum: Spectrum) -> float | None:
    positive = [i for cluster in spectrum.clusters for i in cluster]
    if len(positive) < 2:
        return None
    s = spectrum.values[positive]
    return float(np.min(-np.diff(s)) / spectrum.top)


def screen_matrix(case: MatrixCase, loss: Loss, settings: Settings) -> Screened:
    """What the spectrum of one matrix shows for ``loss`` (see the module docstring)."""
    a, shape, dtype = case.array, tuple(case.array.shape), case.array.dtype
    zero_tol = settings.zero_tol if settings.zero_tol is not None else default_zero_tol(shape, dtype)
    dup_tol = settings.dup_tol if settings.dup_tol is not None else default_dup_tol(dtype)
    spectrum = analyse_spectrum(singular_values(a), shape, zero_tol)
    findings = spectrum_findings(spectrum, loss, dup_tol)
    findings += spectral_conditioning(spectrum, loss, shape, dtype, settings) + gauge_finding(loss)
    at_risk = any(f.level == WARNING for f in findings)
    return Screened(
        source=case.source,
        index=case.index,
        shape=shape,
        dtype=str(dtype),
        verdict=ScreenVerdict.AT_RISK if at_risk else ScreenVerdict.CLEAR,
        findings=tuple(findings),
        rank=spectrum.rank,
        top=spectrum.top,
        closest=_closest(spectrum),
    )


def error_screen(error: InputError) -> Screened:
    return Screened(error.source, (), (), None, ScreenVerdict.ERROR, error=error.problem)


def screen_cases(
    items: Iterable[MatrixCase | InputError | Skipped], settings: Settings, on_stage=None
) -> Iterator:
    """One Screened per matrix or input error, and the Skipped inputs, in input order; ``on_stage``
    hears of each matrix as its singular values are computed."""
    unbound = parse_loss(settings.loss)
    for item in items:
        if isinstance(item, Skipped):
            yield item
        elif isinstance(item, InputError):
            yield error_screen(item)
        elif (misfit := unbound.check_fits(item.array.shape)) is not None:
            yield error_screen(InputError(item.label, misfit))
        else:
            if on_stage is not None:
                on_stage(f"singular values: {item.label}")
            yield screen_matrix(item, unbound, settings)


def screen_files(
    files: list, settings: Settings, max_elements: int = DEFAULT_MAX_ELEMENTS, observer=None
) -> Iterator[Screened | Skipped]:
    """Screen every matrix of ``files`` (discovery.collect_files's entries), each Screened with the
    file it came from; one tensor is in memory at a time (checkpoints are read lazily:
    inputs/checkpoints.py). An ``observer`` (render/progress.py) hears of files as check's does."""
    s = settings
    on_file, on_stage = (observer.file, observer.stage) if observer else (None, None)
    on_count = observer.counted if getattr(observer, "active", False) else None
    for entry in files:
        items = load_files(
            [entry], s.dtype, max_elements, on_file, s.select, s.skip, s.reshape, on_count, s.max_matrices
        )
        file = None if isinstance(entry, InputError) or entry == "-" else str(entry)
        for item in screen_cases(items, settings, on_stage):
            yield item if isinstance(item, Skipped) else replace(item, file=file)
