"""What the pictures of a matrix's report show that the report does not hold (render/matrix_plots.py):
the tolerances the run used, the tie clusters they make, machine epsilon of its dtype and each
backend's entrywise distance from the reference, all derived from the report and the settings by the
functions of numerics/ that the run itself used, so that render/ computes nothing of its own.
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.model import BackendResult, MatrixReport
from svdgrad_cli.numerics.field import working
from svdgrad_cli.numerics.spectrum import analyse_spectrum, default_dup_tol, default_zero_tol, machine_eps
from svdgrad_cli.options import Settings


def tolerances(report: MatrixReport, settings: Settings) -> tuple[float, float]:
    """(zero_tol, dup_tol) relative to s_1, as the run used them."""
    dtype = report.dtype or "float64"
    zero = settings.zero_tol
    if zero is None:
        zero = default_zero_tol(_matrix_shape(report), dtype)
    dup = settings.dup_tol if settings.dup_tol is not None else default_dup_tol(dtype)
    return zero, dup


def _matrix_shape(report: MatrixReport) -> tuple[int, int]:
    """(m, n) of a checked report's matrix."""
    m, n = report.shape
    return m, n


def tie_clusters(report: MatrixReport, zero_tol: float) -> list[tuple[int, ...]]:
    """The 0-based indices of each run of tied non-zero singular values (two or more)."""
    values = np.asarray(report.checked_reference.singular_values, dtype=np.float64)
    spectrum = analyse_spectrum(values, _matrix_shape(report), zero_tol)
    return [cluster for cluster in spectrum.clusters if len(cluster) > 1]


def report_eps(report: MatrixReport) -> float:
    """Machine epsilon of the dtype the backends computed in."""
    return machine_eps(report.dtype or "float64")


def distance_from_reference(result: BackendResult, reference: np.ndarray) -> np.ndarray:
    """|G_b - G_ref| entrywise, in the reference's precision (complex: the modulus)."""
    return np.abs(working(result.gradient) - reference)
