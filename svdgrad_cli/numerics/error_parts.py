"""Where a gradient is wrong: its error ΔG = G - G_ref split into the parts of the SVD backward rule.

(docs/theory.md §10.) With A = U S V^H, U = [U_r U⊥] (m x m) and V = [V_r V⊥] (n x n) unitary and
r the numerical rank,

    ΔG = U_r X V_r^H + U⊥ (U⊥^H ΔG V_r) V_r^H + U_r (U_r^H ΔG V⊥) V⊥^H + U⊥ (U⊥^H ΔG V⊥) V⊥^H,

X = U_r^H ΔG V_r, four blocks orthogonal in the trace inner product, so their ||.||_F^2 add up to
||ΔG||_F^2 (Pythagoras). Only projections are formed: (I - U_r U_r^H) ΔG V_r has the norm of
U⊥^H ΔG V_r, so no basis of U⊥ is needed. Each block is one term of the reverse-mode rule for the thin
SVD (Giles 2008; Townsend 2016), F_ij = 1 / (s_j^2 - s_i^2):

    A_bar = U [diag(s_bar) + (F o (U^T U_bar - U_bar^T U)) S + S (F o (V^T V_bar - V_bar^T V))] V^T
            + (I - U U^T) U_bar S^-1 V^T + U S^-1 V_bar^T (I - V V^T),

- ``values``: the diagonal of X, diag(s_bar): the singular-value rule;
- ``phases`` (complex input only): the imaginary diagonal of X, where the complex rule adds
  i Im(u_i^H ubar_i) / s_i (Wan and Zhang 2019; docs/theory.md §9), a term the real rule has not;
- ``coupling``: X_ij, i != j, the F terms. Lorentzian broadening replaces F_ij = 1/x (x = s_j^2 - s_i^2)
  by x / (x^2 + eps), which multiplies the coupling of (i, j) by x^2 / (x^2 + eps): the error there is
  -rho X_ref,ij with rho = eps / (x^2 + eps), a bias growing like eps / gap^2, and eps = rho x^2 / (1 - rho)
  recovers the broadening; a cutoff that zeroes small F_ij gives rho = 1. The worst pair is reported
  with its gap s_i - s_j, relative to s_1, and rho where ΔX there is parallel to X_ref (``broadening``);
- ``left``: U⊥^H ΔG V_r, the (I - U U^T) term that a thin rule written for m = k drops on a tall matrix;
- ``right``: U_r^H ΔG V⊥, the (I - V V^T) term, dropped on a wide one;
- ``both``: U⊥^H ΔG V⊥, which no rule of the thin factors writes; only a subgradient's null-space part
  (membership.py's W) lives there.

Ties and zeros. Inside a cluster C of tied positive values the SVD is any (U_C Q, V_C Q), Q unitary, so
X_CC -> Q^H X_CC Q and X_CD -> Q_C^H X_CD Q_D: only invariants are reported. Of X_CC, its component
along the identity (tr X_CC / |C|) is the cluster's singular-value (and phase) part, the rest is
``tied``; couplings are summed per pair of clusters. The vectors of zero singular values rotate
independently on each side, so they belong to U⊥ and V⊥ (r counts the positive values only).

Where the gradient is a set (membership.py: weights that differ inside a tied cluster, or weighted
zero values), its members agree on every block but the free ones (those clusters' X_CC and the null
block U⊥^H G V⊥); there G - G_minnorm is no error, so those blocks are not decomposed: the ``free``
part is what remains of the distance to the set, sqrt(d^2 - sum of the decomposed parts^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex, working
from svdgrad_cli.numerics.spectrum import Spectrum, span

SIGNIFICANT = 0.01  # a worst pair is named where it holds at least this share of ||ΔG||_F^2
PARALLEL = 0.1  # ΔX of the worst pair within this relative distance of a multiple of X_ref: a scaling


@dataclass(frozen=True)
class Part:
    """One block of ΔG: its Frobenius norm and its share of ||ΔG||_F^2 (or of the distance^2)."""

    name: str  # values, phases, tied, coupling, left, right, both or free (module docstring)
    norm: float
    share: float


@dataclass(frozen=True)
class WorstPair:
    """The pair of (clusters of) singular values whose coupling holds most of the error (0-based)."""

    first: tuple[int, ...]
    second: tuple[int, ...]
    gap: float  # the smallest s_i - s_j between them
    relative_gap: float  # gap / s_1
    share: float  # of ||ΔG||_F^2
    lost: float | None = None  # rho: ΔX = -rho X_ref there (1: the coupling is missing); None if not so
    broadening: float | None = None  # eps = rho x^2 / (1 - rho), x = s_i^2 - s_j^2, for 0 < rho < 1


@dataclass(frozen=True)
class ErrorParts:
    """ΔG in the singular bases of A (module docstring): its parts, largest share first."""

    total: float  # ||ΔG||_F, or the distance to the gradient set
    reference_norm: float  # ||G_ref||_F
    rank: int
    parts: tuple[Part, ...]
    worst_pair: WorstPair | None = None
    on_complex: bool = False
    free: str | None = None  # the blocks not decomposed because the gradient set is free there
    truncation: object | None = None  # truncated.TruncationParts: ΔG split at the cut of a truncated SVD

    @property
    def dominant(self) -> Part | None:
        return self.parts[0] if self.parts and self.parts[0].share > 0 else None


def free_blocks(spectrum: Spectrum, w: np.ndarray | None) -> tuple[tuple[tuple[int, ...], ...], bool]:
    """The tied clusters and whether the null block, where the gradient set of a loss of s with
    weights ``w`` is free (membership.py); nothing for a unique gradient (``w`` None: a loss of U, V)."""
    if w is None:
        return (), False
    clusters = tuple(c for c in spectrum.clusters if len(c) > 1 and np.ptp(w[list(c)]) > 0)
    return clusters, bool(spectrum.zeros) and bool(np.any(w[list(spectrum.zeros)]))


def _cluster_energy(x: np.ndarray, spectrum: Spectrum) -> tuple[float, float, float, np.ndarray]:
    """(values^2, phases^2, tied^2, the c x c matrix of ||X_CD||_F^2) of X (r x r) over the positive
    clusters, which are runs of consecutive indices (the values are sorted)."""
    if not spectrum.clusters:
        return 0.0, 0.0, 0.0, np.zeros((0, 0))
    sizes = np.array([len(c) for c in spectrum.clusters])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    energy = np.add.reduceat(np.add.reduceat(np.abs(x) ** 2, starts, axis=0), starts, axis=1)
    means = np.add.reduceat(np.diagonal(x), starts) / sizes  # tr X_CC / |C|
    values = float(np.sum(sizes * np.real(means) ** 2))
    phases = float(np.sum(sizes * np.imag(means) ** 2))
    tied_blocks = np.diagonal(energy) - sizes * np.abs(means) ** 2  # ||X_CC - mean I||_F^2
    tied = float(np.sum(np.maximum(tied_blocks[sizes > 1], 0.0)))
    return values, phases, tied, energy


def _blocks(delta: np.ndarray, u_r: np.ndarray, v_r: np.ndarray):
    """X = U_r^H ΔG V_r and the blocks (I - U_r U_r^H) ΔG V_r, U_r^H ΔG (I - V_r V_r^H) and
    (I - U_r U_r^H) ΔG (I - V_r V_r^H), from projections only (six products)."""
    ut_delta = adjoint(u_r) @ delta
    left_of = delta - u_r @ ut_delta  # (I - U_r U_r^H) ΔG
    x = ut_delta @ v_r
    left = left_of @ v_r
    return x, left, ut_delta - x @ adjoint(v_r), left_of - left @ adjoint(v_r)


def _scaling(dx: np.ndarray, ref: np.ndarray, x2: float) -> tuple[float | None, float | None]:
    """(rho, eps) where dx = -rho ref to within PARALLEL (module docstring), else (None, None)."""
    size = float(np.sum(np.abs(ref) ** 2))
    if size == 0:
        return None, None
    rho = -float(np.real(np.vdot(ref, dx))) / size
    if np.linalg.norm(dx + rho * ref) > PARALLEL * np.linalg.norm(dx):
        return None, None
    eps = rho * x2 / (1 - rho) if 0 < rho < 1 else None
    return rho, eps


def _worst_pair(energy, x, reference, spectrum: Spectrum, total2: float) -> WorstPair | None:
    """The pair of clusters with the largest coupling energy (both orders); ``reference``: (U_r, G_ref,
    V_r), whose coupling there is compared with the error's."""
    pair_energy = np.triu(energy + energy.T, 1)
    if not pair_energy.size or pair_energy.max() < SIGNIFICANT * total2:
        return None
    a, b = np.unravel_index(int(np.argmax(pair_energy)), pair_energy.shape)
    first, second = spectrum.clusters[a], spectrum.clusters[b]
    s = spectrum.values
    gap = float(s[first[-1]] - s[second[0]])
    lost = eps = None
    if len(first) == len(second) == 1:
        i, j = first[0], second[0]
        with np.errstate(over="ignore"):  # s_1 beyond 1e77: eps overflows, and is reported as such
            x2 = float(((s[i] - s[j]) * (s[i] + s[j])) ** 2)  # no cancellation in s_i^2 - s_j^2
        u_r, g_ref, v_r = reference
        true = np.array([np.vdot(u_r[:, i], g_ref @ v_r[:, j]), np.vdot(u_r[:, j], g_ref @ v_r[:, i])])
        lost, eps = _scaling(np.array([x[i, j], x[j, i]]), true, x2)
    share = float(pair_energy[a, b]) / total2
    return WorstPair(first, second, gap, gap / spectrum.top, share, lost, eps)


def decompose(
    gradient: np.ndarray,
    reference: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    spectrum: Spectrum,
    distance: float | None = None,
    free: tuple[tuple[tuple[int, ...], ...], bool] = ((), False),
) -> ErrorParts:
    """ΔG = gradient - reference in the bases of the thin SVD (u, v) of A (module docstring).

    ``free`` (from free_blocks) names the blocks where the gradient set is free, and ``distance`` is then
    the distance to the set; otherwise the total is ||ΔG||_F.
    """
    delta = working(gradient) - working(reference)
    complex_ = is_complex(delta) or is_complex(u)
    r = spectrum.rank  # the positive values come first: s is sorted
    u_r, v_r = u[:, :r], v[:, :r]
    x, left, right, both = _blocks(delta, u_r, v_r)
    free_clusters, free_null = free
    for c in free_clusters:
        x[c[0] : c[-1] + 1, c[0] : c[-1] + 1] = 0.0
    values, phases, tied, energy = _cluster_energy(x, spectrum)
    squares = {
        "values": values,
        "phases": phases,
        "tied": tied,
        "coupling": float(np.sum(np.triu(energy, 1)) + np.sum(np.tril(energy, -1))),
        "left": float(np.sum(np.abs(left) ** 2)),
        "right": float(np.sum(np.abs(right) ** 2)),
        "both": 0.0 if free_null else float(np.sum(np.abs(both) ** 2)),
    }
    decomposed = sum(squares.values())
    if free_clusters or free_null:
        squares["free"] = max(0.0, (distance or 0.0) ** 2 - decomposed)
    total2 = sum(squares.values())
    parts = tuple(
        Part(name, float(np.sqrt(square)), square / total2 if total2 else 0.0)
        for name, square in squares.items()
        if _applies(name, spectrum, delta.shape, complex_, free)
    )
    g_ref = working(reference)
    pair = _worst_pair(energy, x, (u_r, g_ref, v_r), spectrum, total2) if total2 else None
    return ErrorParts(
        total=float(np.sqrt(total2)),
        reference_norm=float(np.linalg.norm(g_ref)),
        rank=r,
        parts=tuple(sorted(parts, key=lambda p: -p.share)),
        worst_pair=pair,
        on_complex=complex_,
        free=_free_text(spectrum, free),
    )


def _applies(name: str, spectrum: Spectrum, shape: tuple[int, int], complex_: bool, free) -> bool:
    """Whether a part can hold anything for a matrix of this shape, rank and field."""
    m, n = shape
    r = spectrum.rank
    return {
        "values": r > 0,
        "phases": complex_ and r > 0,
        "tied": any(len(c) > 1 for c in spectrum.clusters if c not in free[0]),
        "coupling": len(spectrum.clusters) > 1,
        "left": m > r and r > 0,
        "right": n > r and r > 0,
        "both": m > r and n > r and not free[1],
        "free": bool(free[0]) or free[1],
    }[name]


def _free_text(spectrum: Spectrum, free) -> str | None:
    """Which blocks were not decomposed, in words (0-based indices shown 1-based)."""
    clusters, null = free
    named = [f"{span(c)} (tied, weighted differently)" for c in clusters]
    named += ["the null space (weighted zero singular values)"] if null else []
    return "; ".join(named) or None
