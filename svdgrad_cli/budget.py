"""Error budgets: how far a backend's gradient may honestly be from the float64 reference.

A backward-stable SVD in a dtype with unit roundoff eps is exact for some A + E with
||E|| <~ max(m, n) * eps * s_1. To first order the gradient G = U diag(w) V^T of a spectral loss then
moves, in the SVD basis, by (Townsend 2016, the partial fractions of the reverse-mode rule)

    dG_ij ~ E_ij * ( |w_i - w_j| / |s_i - s_j| + |w_i + w_j| / (s_i + s_j) )     (i != j)
    dG    ~ E * |w_i| / s_i                                                     (m != n: the complement)

so the amplification is  amp = max over pairs (and i, for m != n) of those factors, where pairs inside
one tie cluster keep only the second term (the set absorbs rotations in the cluster) and pairs inside
the zero cluster are skipped (they are the non-unique part). The budget of a backend in dtype d is

    budget = factor * eps(d) * max(m, n) * (sqrt(k) * max|w| + s_1 * amp)

with factor = 10 by default (``--budget-factor``). ``--rtol``/``--atol`` replace the whole formula by
atol + rtol * ||G_ref||_F. A result is reported as error / budget: "3.2x budget".
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.spectrum import Spectrum, machine_eps


def amplification(spectrum: Spectrum, w: np.ndarray) -> float:
    """max factor by which a relative perturbation of A is amplified in the gradient (see above)."""
    s = spectrum.values
    k = len(s)
    cluster_id = np.empty(k, dtype=int)
    for c_id, cluster in enumerate((*spectrum.clusters, spectrum.zeros)):
        cluster_id[list(cluster)] = c_id
    zero = np.zeros(k, dtype=bool)
    zero[list(spectrum.zeros)] = True
    i, j = np.triu_indices(k, 1)
    keep = ~(zero[i] & zero[j])
    i, j = i[keep], j[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        across = np.where(cluster_id[i] != cluster_id[j], np.abs(w[i] - w[j]) / np.abs(s[i] - s[j]), 0.0)
        along = np.abs(w[i] + w[j]) / (s[i] + s[j])
        factors = np.nan_to_num(across + along, nan=0.0, posinf=np.inf)
        amp = float(np.max(factors, initial=0.0))
        m, n = spectrum.shape
        if m != n:
            rect = np.abs(w[~zero]) / s[~zero]
            amp = max(amp, float(np.max(rect, initial=0.0)))
    return amp


def error_budget(
    spectrum: Spectrum,
    w: np.ndarray,
    dtype: np.dtype | str,
    factor: float,
    rtol: float | None = None,
    atol: float | None = None,
    reference_norm: float = 0.0,
) -> float:
    """The budget formula of this module's docstring, or atol + rtol * ||G_ref|| when overridden."""
    if rtol is not None or atol is not None:
        return (atol or 0.0) + (rtol or 0.0) * reference_norm
    m, n = spectrum.shape
    k = len(spectrum.values)
    scale = np.sqrt(k) * float(np.max(np.abs(w), initial=0.0))
    return factor * machine_eps(dtype) * max(m, n) * (scale + spectrum.top * amplification(spectrum, w))
