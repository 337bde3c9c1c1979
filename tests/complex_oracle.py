"""An independent oracle for real losses of complex matrices, in svdgrad's stated convention.

Nothing here imports svdgrad. Loss values are computed in a private mpmath context at DPS = 60 digits
from the exact binary values of the entries, without any SVD routine: only Hermitian eigen-
decompositions (``mpmath.eighe``) of the Gram matrices A^H A and A A^H, whose eigenvalues are s_i^2.

- losses of s: the sorted square roots of the eigenvalues of the smaller Gram matrix;
- ``polar``: Re <C, U V^H> with U V^H = A (A^H A)^(-1/2) (m >= n) or (A A^H)^(-1/2) A (m < n), the
  unitary polar factor (Higham, Functions of Matrices, 2008, Thm 8.1), a function of a Hermitian
  matrix and so free of any phase choice;
- ``proj:K``: Re <C, P_K> with P_K the spectral projector of A A^H on its K largest eigenvalues;
- ``recon``: ||A||_F.

The gradient is G = dL/dRe A + i dL/dIm A (steepest ascent), by central differences at step H along
the real and the imaginary unit of every entry: truncation about H^2 |L'''| and rounding 10^-DPS / H,
both far below float64's resolution for the gaps used in the tests (relative gaps down to 1e-10).
"""

from __future__ import annotations

import functools

import numpy as np
from mpmath.ctx_mp import MPContext

DPS = 60
H = "1e-25"
mp = MPContext()
mp.dps = DPS


def to_mp(a: np.ndarray):
    """An exact mpmath copy of a complex (or real) float matrix."""
    a = np.asarray(a, dtype=np.complex128)
    return mp.matrix([[mp.mpc(float(z.real), float(z.imag)) for z in row] for row in a])


def _adjoint(x):
    return mp.matrix([[mp.conj(x[j, i]) for j in range(x.rows)] for i in range(x.cols)])


def _function_of_hermitian(m, f):
    """f(M) for a Hermitian M = Q diag(e) Q^H."""
    e, q = mp.eighe(m)
    d = mp.diag([f(x) for x in e])
    return q * d * _adjoint(q)


def _singular_values(am) -> list:
    gram = _adjoint(am) * am if am.rows >= am.cols else am * _adjoint(am)
    e, _ = mp.eighe(gram)
    return sorted((mp.sqrt(max(x, 0)) for x in e), reverse=True)


def _weights(kind: str, order: int | None, k: int) -> list[int]:
    if kind == "sum":
        return [1] * k
    if kind == "sv":
        return [1 if i == order - 1 else 0 for i in range(k)]
    return [1 if i < order else 0 for i in range(k)]


def _real_inner(c, x) -> object:
    return mp.fsum(mp.re(mp.conj(c[i, j]) * x[i, j]) for i in range(x.rows) for j in range(x.cols))


def _loss(am, kind: str, order: int | None, cm):
    if kind in ("sum", "sv", "topk"):
        s = _singular_values(am)
        return mp.fsum(w * x for w, x in zip(_weights(kind, order, len(s)), s, strict=True))
    if kind == "recon":
        return mp.sqrt(mp.fsum(abs(am[i, j]) ** 2 for i in range(am.rows) for j in range(am.cols)))
    if kind == "polar":
        if am.rows >= am.cols:
            polar = am * _function_of_hermitian(_adjoint(am) * am, lambda x: 1 / mp.sqrt(x))
        else:
            polar = _function_of_hermitian(am * _adjoint(am), lambda x: 1 / mp.sqrt(x)) * am
        return _real_inner(cm, polar)
    if kind == "proj":
        _, q = mp.eighe(am * _adjoint(am))  # ascending: the top K are the last K columns
        m = am.rows
        top = q[:, m - order : m]
        return _real_inner(cm, top * _adjoint(top))
    raise ValueError(kind)


def loss_value(a: np.ndarray, loss: str, c: np.ndarray | None = None):
    kind, _, arg = loss.partition(":")
    return _loss(to_mp(a), kind, int(arg) if arg else None, None if c is None else to_mp(c))


@functools.lru_cache(maxsize=256)
def _gradient(shape: tuple, data: bytes, loss: str, c_shape: tuple | None, c_data: bytes | None):
    a = np.frombuffer(data, dtype=np.complex128).reshape(shape)
    c = None if c_data is None else np.frombuffer(c_data, dtype=np.complex128).reshape(c_shape)
    kind, _, arg = loss.partition(":")
    order = int(arg) if arg else None
    am, cm, h = to_mp(a), None if c is None else to_mp(c), mp.mpf(H)
    g = np.zeros(shape, dtype=np.complex128)
    for i, j in np.ndindex(shape):
        parts = []
        for unit in (1, 1j):
            plus, minus = am.copy(), am.copy()
            plus[i, j] += unit * h
            minus[i, j] -= unit * h
            parts.append((_loss(plus, kind, order, cm) - _loss(minus, kind, order, cm)) / (2 * h))
        g[i, j] = complex(float(parts[0]), float(parts[1]))
    return g


def gradient(a: np.ndarray, loss: str, c: np.ndarray | None = None) -> np.ndarray:
    """dL/dRe A + i dL/dIm A at ``a`` by 60-digit central differences, rounded to complex128."""
    a = np.ascontiguousarray(a, dtype=np.complex128)
    c = None if c is None else np.ascontiguousarray(c, dtype=np.complex128)
    key_c = (None, None) if c is None else (c.shape, c.tobytes())
    return _gradient(a.shape, a.tobytes(), loss, *key_c)


def fourier(n: int) -> np.ndarray:
    """The n x n DFT matrix / sqrt(n) for n = 2 or 4: unitary, entries in {+-1, +-i} / sqrt(n), exact
    in binary (n = 4: halves)."""
    omega = {2: -1, 4: -1j}[n]
    return np.array([[omega ** (j * k) for k in range(n)] for j in range(n)]) / np.sqrt(n)


def phased_permutation(n: int, seed: int) -> np.ndarray:
    """A permutation matrix with phases from {1, i, -1, -i}: unitary and exact."""
    rng = np.random.default_rng(seed)
    p = np.eye(n)[rng.permutation(n)]
    return p * (1j ** rng.integers(0, 4, n))[None, :]
