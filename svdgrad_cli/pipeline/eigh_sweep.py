"""``svdgrad sweep --decomposition eigh``: a family of symmetric (Hermitian) matrices
A = Q diag(w) Q^H, each point judged as ``check --decomposition eigh`` judges a matrix (eigh_check.py).

- Built-in (``--shape NxN``): Q exactly orthogonal and dyadic for a real dtype, exactly unitary and
  genuinely complex for a complex one (numerics/families.py; n >= 4, seeded QR below), and
  w = 1, 1 + d, 1 + 2d, ... with d = 2^-ceil(log2 n).
- ``--from FILE``: Q and w are the float64 eigendecomposition of the user's one symmetric (Hermitian)
  matrix, d its own gap w_{K+1} - w_K (the first point of ``--vary gap`` is the matrix itself, up to
  the rounding of Q diag(w) Q^H); its dtype is the file's.

``--vary gap`` sets w_{K+1} = w_K + g d with g from ``first`` (1/2 built-in, 1 for a user's matrix)
down by equal factors to 2^-49 ``first``, the last point exactly 0 (K = ``--at``, default n // 2);
w_{K+1} only moves towards w_K, so the order of the eigenvalues is kept. ``--vary scale``: the first
matrix of the gap family times 2^e, e from -100 to 100.

Each point's label gives its parameter; its report its realised eigenvalues (the stored A of a tiny
gap is the rounded one, and is what is judged).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.arrays import LoadedArray
from svdgrad_cli.numerics.families import dyadic_orthogonal, dyadic_unitary, seeded_orthogonal

SMALLEST_GAP = 2.0**-50  # the last non-zero gap of --vary gap, relative to 2 x the first
EXPONENTS = (-100, 100)  # --vary scale
BUILT_IN_FIRST_GAP = 0.5  # in units of d: halfway to the next eigenvalue


@dataclass(frozen=True)
class EighBase:
    """What every point of a family shares: eigenvectors, eigenvalues, the gap's unit."""

    q: np.ndarray  # n x n, orthogonal (unitary)
    w: np.ndarray  # ascending
    unit: float  # d: a gap of x means w_{K+1} = w_K + x d
    first: float  # the first gap of --vary gap, in units of d
    dtype: str


def built_in_base(n: int, seed: int, dtype: str) -> EighBase:
    """The --shape family's Q and w (module docstring)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "c":
        q = dyadic_unitary(n, rng)[0] if n >= 4 else _seeded_unitary(n, rng)
    else:
        q = dyadic_orthogonal(n, rng)[0] if n >= 4 else seeded_orthogonal(n, rng)
    d = 2.0 ** -math.ceil(math.log2(n))
    return EighBase(q, 1 + d * np.arange(n, dtype=float), d, BUILT_IN_FIRST_GAP, dtype)


def users_base(a: np.ndarray, label: str, at: int | None) -> EighBase:
    """--from: the float64 eigendecomposition of the user's matrix (already checked symmetric), the
    gap's unit its own w_{K+1} - w_K; a UsageError where there is no gap to close."""
    n = len(a)
    k = _checked_at(at, n)
    w, q = np.linalg.eigh(a.astype(np.complex128 if np.iscomplexobj(a) else np.float64))
    gap = float(w[k] - w[k - 1])
    if not gap > 0:
        raise UsageError(f"--from {label}: w_{k} = w_{k + 1} already; choose another --at to close a gap")
    return EighBase(q, w, gap, 1.0, str(a.dtype))


def _seeded_unitary(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed unitary matrix (Mezzadri 2007): QR of a complex Gaussian one, R's diagonal
    phases divided out."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _checked_at(at: int | None, n: int) -> int:
    k = at if at is not None else n // 2
    if n < 2 or not 1 <= k < n:
        raise UsageError(f"--at {k}: the pair w_K, w_K+1 needs 1 <= K < n = {n}")
    return k


def _matrix(base: EighBase, w: np.ndarray) -> np.ndarray:
    """Q diag(w) Q^H in double precision, exactly symmetric (Hermitian)."""
    a = (base.q * w) @ base.q.conj().T
    return (a + a.conj().T) / 2


def _parameters(vary: str, points: int, first: float) -> list[float]:
    if vary == "scale":
        return [float(e) for e in np.rint(np.linspace(*EXPONENTS, points))]
    if points == 1:
        return [0.0]
    ratio = (2 * SMALLEST_GAP) ** (1 / max(points - 2, 1))
    return [first * ratio**j for j in range(points - 1)] + [0.0]


def _with_gap(base: EighBase, k: int, gap: float) -> np.ndarray:
    w = base.w.copy()
    w[k] = w[k - 1] + gap * base.unit  # 0-based k: the (K+1)-th eigenvalue
    return w


def eigh_family(
    vary: str, at: int | None, points: int, base: EighBase
) -> Iterator[tuple[float, LoadedArray]]:
    """(parameter, matrix labelled by it) of each point; a UsageError for a family that cannot be made."""
    if vary not in ("gap", "scale"):
        raise UsageError(f"sweep --decomposition eigh varies gap or scale, not {vary!r}")
    k = _checked_at(at, len(base.w))
    for x in _parameters(vary, points, base.first):
        if vary == "gap":
            a = _matrix(base, _with_gap(base, k, x))
            yield x, LoadedArray(f"gap {x:.3g}", a.astype(base.dtype))
        else:
            a = _matrix(base, _with_gap(base, k, base.first)) * 2.0**x
            with np.errstate(over="ignore"):  # a point out of the dtype's range: that point's input error
                yield x, LoadedArray(f"2^{x:.0f} A", a.astype(base.dtype))


def save_points(points: list[tuple[float, LoadedArray]], vary: str, folder: str) -> None:
    """Each point's matrix as an .npy file in ``folder`` (--save-matrices), named by its place and
    parameter as the SVD sweep names them: 001-gap-5.00e-01.npy, 003-scale-2^-50.npy."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for index, (x, loaded) in enumerate(points):
        tag = f"2^{x:.0f}" if vary == "scale" else f"{x:.2e}"
        np.save(path / f"{index + 1:03d}-{vary}-{tag}.npy", loaded.array)
