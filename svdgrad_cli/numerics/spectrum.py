"""The float64 spectrum of a matrix and its structure: numerical rank and clusters of tied values.

Singular values are perfectly conditioned (Weyl): a backward-stable SVD in a dtype with unit roundoff
eps returns each s_i to within about max(m, n) * eps * s_1. Values below that are indistinguishable
from zero, and neighbours that close are indistinguishable from a tie. svdgrad therefore uses
one relative tolerance for both decisions (numpy.linalg.matrix_rank's convention):

    zero_tol = tie_tol = max(m, n) * eps(dtype)          (relative to s_1; override with --zero-tol)

where dtype is the precision the backends compute in, since that is the precision at which the
backends' gradients are determined.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike


def span(indices, most: int = 4) -> str:
    """0-based indices as 1-based names, runs collapsed: 's_3-s_5', 's_2, s_4', 's_1-s_3, s_7'; beyond
    ``most`` parts, the extremes and the count: 's_12-s_260 (45 values)'."""
    one_based = sorted(int(i) + 1 for i in indices)
    runs: list[list[int]] = []
    for i in one_based:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    if len(runs) > most:
        return f"s_{one_based[0]}-s_{one_based[-1]} ({len(one_based)} values)"
    parts = []
    for run in runs:
        parts += [f"s_{run[0]}-s_{run[-1]}"] if len(run) > 2 else [f"s_{i}" for i in run]
    return ", ".join(parts)


def machine_eps(dtype: DTypeLike) -> float:
    """Unit roundoff of a floating dtype (2**-23 for float32, 2**-52 for float64)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def default_zero_tol(shape: tuple[int, int], dtype: np.dtype | str) -> float:
    """max(m, n) * eps(dtype): numpy's matrix_rank tolerance, relative to s_1."""
    return max(shape) * machine_eps(dtype)


def default_dup_tol(dtype: np.dtype | str) -> float:
    """sqrt(eps(dtype)), relative to s_1: the gap at which singular vectors keep half their digits.

    Wedin: u_i and v_i move by about eps * s_1 / gap_i, so at gap_i <= sqrt(eps) * s_1 they carry
    at most half the working precision; that is when a near-duplicate is worth a warning.
    """
    return float(np.sqrt(machine_eps(dtype)))


@dataclass(frozen=True)
class Spectrum:
    """Singular values in decreasing order, grouped into positive clusters and a zero cluster."""

    values: np.ndarray
    shape: tuple[int, int]
    zero_tol: float  # relative to s_1
    clusters: tuple[tuple[int, ...], ...]  # 0-based indices of each cluster of tied positive values
    zeros: tuple[int, ...]  # 0-based indices of the numerically zero values

    @property
    def rank(self) -> int:
        return len(self.values) - len(self.zeros)

    @property
    def top(self) -> float:
        return float(self.values[0]) if len(self.values) else 0.0

    def cluster_ids(self) -> np.ndarray:
        """For each index, a number shared by the members of its cluster (the zeros form one)."""
        groups = (*self.clusters, self.zeros)
        ids = np.empty(len(self.values), dtype=int)
        ids[np.fromiter(itertools.chain(*groups), dtype=int)] = np.repeat(
            np.arange(len(groups)), [len(group) for group in groups]
        )
        return ids

    def zero_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.values), dtype=bool)
        mask[list(self.zeros)] = True
        return mask


def analyse_spectrum(values: np.ndarray, shape: tuple[int, int], zero_tol: float) -> Spectrum:
    """Group decreasing singular ``values`` into tie clusters and the zero cluster.

    A value is zero when s_i <= zero_tol * s_1; two neighbouring positive values are tied when
    s_i - s_{i+1} <= zero_tol * s_1, and ties chain (single linkage), so a cluster is a maximal run.
    An all-zero matrix has every value in the zero cluster.
    """
    values = np.asarray(values, dtype=np.float64)
    threshold = zero_tol * (values[0] if len(values) else 0.0)
    zero = values <= threshold
    positive = np.flatnonzero(~zero)
    apart = values[positive[:-1]] - values[positive[1:]] > threshold  # neighbours that are not tied
    cuts = [0, *(np.flatnonzero(apart) + 1).tolist(), len(positive)]
    order = positive.tolist()
    clusters = tuple(tuple(order[start:end]) for start, end in itertools.pairwise(cuts) if end > start)
    return Spectrum(values, shape, zero_tol, clusters, tuple(np.flatnonzero(zero).tolist()))
