"""The spectrum's structure and the norms under it, against definitions written out here: single-linkage
tie clusters, the minimum-norm member's weights, the spectral Hessian's eigenvalues, and a Frobenius
norm summed exactly in rationals."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svdgrad_cli.numerics.conditioning import spectral_hessian_norm
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.reference import averaged_weights
from svdgrad_cli.numerics.spectrum import analyse_spectrum

LEVELS = [0.0, 1e-300, 1e-20, 0.5, 1.0 - 2**-52, 1.0, 1.0 + 2**-40, 2.0, 3.0]
spectra = st.lists(st.sampled_from(LEVELS), min_size=1, max_size=9).map(lambda s: np.sort(s)[::-1])
tolerances = st.sampled_from([0.0, 1e-14, 1e-3])


def clusters_by_definition(s, tol):
    """Zero: s_i <= tol s_1. Tied: neighbouring positive values within tol s_1, chained."""
    threshold = tol * s[0]
    zeros = [i for i in range(len(s)) if s[i] <= threshold]
    clusters: list[list[int]] = []
    for i in (i for i in range(len(s)) if i not in zeros):
        if clusters and s[clusters[-1][-1]] - s[i] <= threshold:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    return [tuple(c) for c in clusters], tuple(zeros)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(spectra, tolerances)
def test_clusters_are_maximal_runs_of_ties(s, tol):
    spectrum = analyse_spectrum(s, (len(s) + 1, len(s)), tol)
    clusters, zeros = clusters_by_definition(s, tol)
    assert list(spectrum.clusters) == clusters and spectrum.zeros == zeros
    ids = spectrum.cluster_ids()
    for group in (*clusters, zeros):
        assert len({ids[i] for i in group}) <= 1  # one number per cluster ...
    assert len(set(ids.tolist())) == len(clusters) + (1 if zeros else 0)  # ... and one cluster per number


@settings(max_examples=300, derandomize=True, deadline=None)
@given(spectra, tolerances, st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=9, max_size=9))
def test_averaged_weights_are_cluster_means_and_zero_on_zeros(s, tol, weights):
    w = np.array(weights[: len(s)])
    spectrum = analyse_spectrum(s, (len(s), len(s)), tol)
    averaged = averaged_weights(spectrum, w)
    clusters, zeros = clusters_by_definition(s, tol)
    for cluster in clusters:
        assert averaged[list(cluster)] == pytest.approx([sum(w[list(cluster)]) / len(cluster)] * len(cluster))
    assert not np.any(averaged[list(zeros)])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(spectra, tolerances, st.booleans())
def test_spectral_hessian_norm_is_the_largest_eigenvalue_leaving_the_set(s, tol, square):
    """Lewis and Sendov: (w_i - w_j)/(s_i - s_j) across clusters, (w_i + w_j)/(s_i + s_j) for each
    pair not both zero, and w_i / s_i off a square's diagonal block (docs/theory.md §5)."""
    w = np.linspace(1.0, 0.25, len(s))
    shape = (len(s), len(s)) if square else (len(s) + 2, len(s))
    spectrum = analyse_spectrum(s, shape, tol)
    clusters, zeros = clusters_by_definition(s, tol)
    cluster_of = {i: c for c in (*clusters, zeros) for i in c}
    eigenvalues = [0.0]
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            if i in zeros and j in zeros:
                continue
            if cluster_of[i] != cluster_of[j]:
                eigenvalues.append(abs(w[i] - w[j]) / abs(s[i] - s[j]))
            eigenvalues.append(abs(w[i] + w[j]) / (s[i] + s[j]))
        if not square and i not in zeros:
            eigenvalues.append(abs(w[i]) / s[i])
    assert spectral_hessian_norm(s, w, spectrum) == pytest.approx(max(eigenvalues), rel=1e-15)


@pytest.mark.parametrize("magnitude", [1e-320, 1e-300, 1e-160, 1e-140, 1e-20, 1.0, 1e140, 1e160, 1e300])
def test_frobenius_is_exact_to_rounding_at_any_magnitude(magnitude):
    x = np.random.default_rng(3).standard_normal((7, 5)) * magnitude
    exact = math.sqrt(sum(Fraction(v) ** 2 for v in x.ravel()) / Fraction(magnitude) ** 2) * magnitude
    assert frobenius(x) == pytest.approx(exact, rel=1e-14)
    assert frobenius(x.astype(complex) * 1j) == pytest.approx(exact, rel=1e-14)


def test_the_near_duplicate_warning_counts_as_tied_only_the_pairs_tied_by_zero_tol():
    """Issue 22 item 10: 'N pairs tied to working precision' said of every pair closer than sqrt(eps)
    once one was tied (51 on a random 768x768, where 4 were tied by the tool's own threshold)."""
    from svdgrad_cli.numerics.losses import parse_loss
    from svdgrad_cli.pipeline.findings import near_duplicates

    values = np.array([10.0, 10.0 - 1e-14, 5.0, 5.0 - 1e-9, 2.0, 2.0 - 2e-9, 1.0])  # 1 tie, 2 near ties
    spectrum = analyse_spectrum(values, (7, 7), zero_tol=1e-14)
    (finding,) = near_duplicates(spectrum, parse_loss("sum"), dup_tol=1.5e-8)
    assert finding.message.startswith(
        "1 pair of neighbours is tied to working precision (gap <= 1.0e-14 * s_1) and 2 more at most "
        "sqrt(eps) * s_1 apart among"
    )
