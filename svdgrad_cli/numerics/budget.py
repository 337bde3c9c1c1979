"""Error budgets: how far a backend's gradient may honestly be from the float64 reference.

A backward-stable SVD in a dtype with unit roundoff eps is exact for some A + E with
||E|| <~ max(m, n) * eps * s_1. To first order the gradient then moves by the perturbation amplified
through the partial fractions of the reverse-mode rule (Townsend 2016).

Losses of the singular values, G = U diag(w) V^T: in the SVD basis

    dG_ij ~ E_ij * ( |w_i - w_j| / |s_i - s_j| + |w_i + w_j| / (s_i + s_j) )   (i != j)
    dG    ~ E * |w_i| / s_i                                                   (m != n: the complement)

so amp = max over pairs (and i, for m != n) of those factors, where pairs inside one tie cluster keep
only the second term (the set absorbs rotations inside a cluster) and pairs inside the zero cluster are
skipped (they are the non-unique part). The budget is

    budget = factor * eps(dtype) * max(m, n) * (sqrt(k) * max|w| + s_1 * amp)

Losses of U and V: the backend computes G = U J V^T + ... from its own SVD, with J built from
K_U, K_V (its cotangents) divided by s_j - s_i and s_j + s_i. Rounding in K is of the size of the
cotangents, eps * (||Ubar|| + ||sbar|| + ||Vbar||), and is divided by the smallest of those
denominators (amp = max over pairs of 1/|s_i - s_j| + 1/(s_i + s_j), only the second term inside a
cluster, and 1/s for m != n, reported as ``amplification``); rounding in A moves the exact gradient
by the measured sensitivity L = ||dG|| / ||dA|| (reference.gradient_sensitivity). So

    budget = factor * eps(dtype) * max(m, n) * (max(||G_ref||_F, ||cotangents|| * amp) + s_1 * L)

factor = 10 by default (``--budget-factor``); ``--rtol``/``--atol`` replace either formula by
atol + rtol * ||G_ref||_F. A result is reported as error / budget: "3.2x budget".
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.spectrum import Spectrum, machine_eps


def _pair_factors(spectrum: Spectrum, across_weight, along_weight, rect_weight) -> float:
    """max over pairs of across / |s_i - s_j| (other clusters) + along / (s_i + s_j); rect / s_i."""
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
        across = np.where(cluster_id[i] != cluster_id[j], across_weight(i, j) / np.abs(s[i] - s[j]), 0.0)
        along = along_weight(i, j) / (s[i] + s[j])
        amp = float(np.max(np.nan_to_num(across + along, nan=0.0), initial=0.0))
        m, n = spectrum.shape
        if m != n:
            positive = ~zero
            amp = max(amp, float(np.max(rect_weight(positive) / s[positive], initial=0.0)))
    return amp


def amplification(spectrum: Spectrum, w: np.ndarray) -> float:
    """The amplification of a loss of the singular values with weights w (see above)."""
    return _pair_factors(
        spectrum, lambda i, j: np.abs(w[i] - w[j]), lambda i, j: np.abs(w[i] + w[j]), lambda i: np.abs(w[i])
    )


def vector_amplification(spectrum: Spectrum) -> float:
    """The amplification of a loss of the singular vectors: 1 / gap and 1 / s terms (see above)."""
    return _pair_factors(spectrum, lambda i, j: 1.0, lambda i, j: 1.0, lambda i: 1.0)


def spectral_budget(spectrum: Spectrum, w: np.ndarray, amp: float, dtype, factor: float) -> float:
    """The budget of a loss of the singular values; ``amp`` = amplification(spectrum, w)."""
    base = np.sqrt(len(spectrum.values)) * float(np.max(np.abs(w), initial=0.0))
    return factor * machine_eps(dtype) * max(spectrum.shape) * (base + spectrum.top * amp)


def vector_budget(spectrum: Spectrum, reference, dtype, factor: float) -> float:
    """The budget of a loss of U and V from its reference (see above)."""
    base = max(reference.gradient_norm or 0.0, reference.cotangent_norm * reference.amplification)
    return factor * machine_eps(dtype) * max(spectrum.shape) * (base + spectrum.top * reference.sensitivity)
