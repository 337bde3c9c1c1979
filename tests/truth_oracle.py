"""An independent high-precision oracle for SVD gradients: exact truth, and how far one ulp moves it.

Nothing here imports svdgrad. Every value is computed in a private mpmath context at ``DPS`` = 60
significant digits from the exact binary values of the float entries, and no SVD routine is used for
a gradient: only the symmetric eigendecomposition (``mpmath.eigsy``) of a Gram matrix, M = A^T A
(n x n; for m < n the transpose is used) or N = A A^T (m x m). With M = V diag(l) V^T, l_i = s_i^2.

The closed forms below are checked in test_truth.py against 60-digit central differences of the loss
values (which are computed from the same eigendecompositions, without an SVD), and the polar factor
against mpmath's ``sqrtm``/``inverse``.

Fréchet derivative of a function of a symmetric matrix (Daleckii and Krein 1965; Bhatia, *Matrix
Analysis*, Springer 1997, Thm V.3.3; Higham, *Functions of Matrices*, SIAM 2008, §3.2):
``Df(M)[X] = V (F o (V^T X V)) V^T`` with F_ij the divided difference (f(l_i) - f(l_j)) / (l_i - l_j)
(f'(l_i) where l_i = l_j). F is symmetric, so <B, Df(M)[X]> = <Df(M)[sym B], X>: that adjoint gives
every gradient below.

- Losses of s, L = sum_i w_i s_i (``sum``: w = 1; ``sv:K``: w = e_K; ``topk:K``: w = 1 on the first K).
  L is differentiable iff w is constant on every cluster of tied positive singular values and zero on
  the zero ones (Lewis, J. Convex Anal. 2, 1995; Lewis and Sendov, Set-Valued Anal. 13, 2005), and then
  G = U diag(w) V^T = A V diag(w / s) V^T (since u_i = A v_i / s_i; terms with w_i = 0 are left out).
  Where it is not differentiable, ``spectral_set_violation`` tests membership of the (Clarke)
  subdifferential: in the SVD basis, X = U^T G V is block diagonal over the clusters, each positive
  block symmetric with eigenvalues majorized by w_C (Schur-Horn), the zero block with singular values
  weakly majorized by |w_Z| (Lewis and Sendov 2005; for the nuclear norm Watson, Linear Algebra Appl.
  170, 1992: ||W||_2 <= 1; for Ky Fan norms Watson, Numer. Algorithms 5, 1993).
- ``polar``: L = <C, U V^T>. For full-rank A with m >= n, U V^T = A (A^T A)^(-1/2) (Higham 2008,
  Thm 8.1, the polar decomposition A = U_p H with H = (A^T A)^(1/2)). With psi(t) = t^(-1/2) the
  divided differences are Psi_ij = -1 / (s_i s_j (s_i + s_j)) (no cancellation, also at ties), and
  dL = <C psi(M), dA> + <Y, dM> with Y = V (Psi o (V^T A^T C V)) V^T, dM = dA^T A + A^T dA, so
  G = C psi(M) + A (Y + Y^T). For m < n, U V^T of A is that of A^T transposed.
- ``proj:K``: L = <C, P_K> with P_K = U_K U_K^T the spectral projector of N = A A^T = W diag(l) W^T on
  its K largest eigenvalues (Kato, *Perturbation Theory for Linear Operators*, 1966, II §2), defined
  iff l_K > l_{K+1}. The indicator of the top K is locally constant, so its divided differences are
  X_ij = (chi_i - chi_j) / (l_i - l_j) = 1 / |l_i - l_j| between the top K and the rest and 0 inside
  each group;
  Z = W (X o (W^T C W)) W^T, dN = dA A^T + A dA^T, so G = (Z + Z^T) A.
- ``recon``: L = ||U diag(s) V^T||_F = ||A||_F, G = A / ||A||_F.

The one-ulp spread (the product owner's acceptance rule): sigma = max over a few seeded sign patterns
D in {-1, +1}^{m x n} of ||G(A + D o ulp(A)) - G(A)||_F, evaluated exactly (not linearized: the same
cost here), and sigma_single = max over single entries of ||G(A + ulp(A_ij) e_i e_j^T) - G(A)||_F.
``ulp(A)`` is ``np.spacing`` of each entry in the working dtype. An exact zero has no meaningful ulp
(its spacing is the smallest subnormal); it is given ``spacing(max |A_ij|) * 2^-ZERO_ULP_SHIFT`` with
ZERO_ULP_SHIFT = 24: non-zero, so that structural zeros do not pin the matrix, and small, so that they
do not dominate sigma. Every perturbed matrix is exactly representable in float64, so the perturbed
inputs are exact too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from mpmath.ctx_mp import MPContext

DPS = 60
mp = MPContext()
mp.dps = DPS
ZERO_ULP_SHIFT = 24
# Singular values closer than this (relative to s_1) are exactly tied, or exactly zero, for the oracle:
# exact constructions agree to ~1e-58, and a float matrix has no other reason to come this close.
EXACT_TOL = 1e-40
SPECTRAL_KINDS = ("sum", "sv", "topk")


@dataclass(frozen=True)
class OracleLoss:
    """A loss as the oracle knows it: ``kind`` and, for sv/topk/proj, the 1-based ``order`` K."""

    kind: str
    order: int | None = None

    @classmethod
    def parse(cls, spec: str) -> OracleLoss:
        kind, _, arg = spec.partition(":")
        return cls(kind, int(arg) if arg else None)

    @property
    def name(self) -> str:
        return self.kind if self.order is None else f"{self.kind}:{self.order}"

    @property
    def spectral(self) -> bool:
        return self.kind in SPECTRAL_KINDS

    @property
    def needs_weight(self) -> bool:
        return self.kind in ("polar", "proj")

    def weights(self, k: int) -> np.ndarray:
        """The vector w of a loss of s, L = sum_i w_i s_i over the decreasing singular values."""
        w = np.zeros(k)
        if self.kind == "sum":
            w[:] = 1.0
        elif self.kind == "sv":
            w[self.order - 1] = 1.0
        else:
            w[: self.order] = 1.0
        return w


def as_loss(loss) -> OracleLoss:
    return loss if isinstance(loss, OracleLoss) else OracleLoss.parse(loss)


def to_mp(a: np.ndarray):
    """The exact mpmath matrix of a float array (every float is a dyadic rational)."""
    a = np.asarray(a, dtype=np.float64)
    return mp.matrix([[mp.mpf(float(x)) for x in row] for row in a])


def to_float(m) -> np.ndarray:
    return np.array([[float(m[i, j]) for j in range(m.cols)] for i in range(m.rows)])


def frobenius(m) -> float:
    return float(mp.sqrt(mp.fsum(x * x for x in m)))


def distance(g: np.ndarray, exact) -> float:
    """||g - G||_F in high precision from g's exact float values."""
    return frobenius(to_mp(g) - exact)


def _key(a: np.ndarray) -> tuple:
    a = np.ascontiguousarray(a, dtype=np.float64)
    return a.shape, a.tobytes()


def _from_key(shape: tuple, data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float64).reshape(shape)


def _eigen_of(am, side: str) -> tuple[tuple, object]:
    """Eigenvalues (decreasing) and eigenvectors (columns) of A^T A (side "right") or A A^T ("left")."""
    gram = am.T * am if side == "right" else am * am.T
    values, vectors = mp.eigsy(gram)
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=True)
    ordered = mp.matrix(vectors.rows, len(order))
    for new, old in enumerate(order):
        for i in range(vectors.rows):
            ordered[i, new] = vectors[i, old]
    return tuple(values[i] for i in order), ordered


@functools.cache
def _eigen(shape: tuple, data: bytes, side: str) -> tuple[tuple, object]:
    return _eigen_of(to_mp(_from_key(shape, data)), side)


def eigen(a: np.ndarray, side: str) -> tuple[tuple, object]:
    """The cached eigendecomposition of a float matrix's Gram matrix (``_eigen_of``)."""
    return _eigen(*_key(a), side)


class _Matrix:
    """An exact matrix with lazily computed (and, for float input, cached) Gram eigendecompositions."""

    def __init__(self, am, eig):
        self.am = am
        self._eig = eig

    @classmethod
    def of(cls, a) -> _Matrix:
        if isinstance(a, np.ndarray):
            key = _key(a)
            return cls(to_mp(a), lambda side: _eigen(*key, side))
        return cls(a, functools.cache(lambda side: _eigen_of(a, side)))

    def eig(self, side: str) -> tuple[tuple, object]:
        return self._eig(side)

    @property
    def shape(self) -> tuple[int, int]:
        return self.am.rows, self.am.cols

    @property
    def t(self) -> _Matrix:
        return _Matrix(self.am.T, lambda side: self._eig("left" if side == "right" else "right"))


def gram_values(a: np.ndarray) -> tuple:
    """The min(m, n) eigenvalues s_i^2 of the smaller Gram matrix, decreasing."""
    a = np.asarray(a, dtype=np.float64)
    return eigen(a, "right" if a.shape[0] >= a.shape[1] else "left")[0]


def clusters(a: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """Exactly tied positive clusters and exactly zero indices of the singular values, decided on
    l_i = s_i^2 (whose rounding at DPS digits is ~1e-60 l_1, i.e. ~1e-30 s_1 in s)."""
    values = gram_values(a)
    tol = EXACT_TOL * values[0] if values else mp.zero
    zeros = [i for i, x in enumerate(values) if x <= tol]
    groups: list[list[int]] = []
    for i, x in enumerate(values):
        if i in zeros:
            continue
        if groups and values[groups[-1][-1]] - x <= tol:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups, zeros


def status(a: np.ndarray, loss) -> str:
    """``unique`` (a gradient exists and is unique), ``set`` (a loss of s at a kink: a sub/Clarke
    gradient set) or ``undefined`` (the loss has no gradient: it depends on the SVD's basis)."""
    loss = as_loss(loss)
    a = np.asarray(a, dtype=np.float64)
    if not any(a.ravel()):
        return "set" if loss.kind in (*SPECTRAL_KINDS, "recon") else "undefined"
    groups, zeros = clusters(a)
    if loss.spectral:
        w = loss.weights(min(a.shape))
        constant = all(len({w[i] for i in c}) == 1 for c in groups)
        return "unique" if constant and not any(w[zeros]) else "set"
    if loss.kind == "polar":
        return "undefined" if zeros else "unique"
    if loss.kind == "proj":
        values, _ = eigen(a, "left")
        k = loss.order
        if k >= len(values):
            return "unique"
        return "unique" if values[k - 1] - values[k] > EXACT_TOL * values[0] else "undefined"
    return "unique"  # recon away from A = 0


def _weights_mp(c):
    return None if c is None else (c if isinstance(c, mp.matrix) else to_mp(c))


def loss_value(a, loss, c=None):
    """L(A) in high precision (``a`` a float array or an mpmath matrix), from the Gram
    eigendecompositions (no SVD)."""
    return _loss(_Matrix.of(a), as_loss(loss), _weights_mp(c))


def _loss(x: _Matrix, loss: OracleLoss, cm):
    am = x.am
    if loss.kind == "recon":
        return mp.sqrt(mp.fsum(e * e for e in am))
    if loss.kind == "proj":
        _, w = x.eig("left")
        top = w[:, : loss.order]
        return _inner(cm, top * top.T)
    if x.shape[0] < x.shape[1]:
        return _loss(x.t, loss, None if cm is None else cm.T)
    values, v = x.eig("right")
    if loss.spectral:
        w = loss.weights(len(values))
        return mp.fsum(float(w[i]) * mp.sqrt(max(e, mp.zero)) for i, e in enumerate(values))
    inv_sqrt = _apply(v, [1 / mp.sqrt(e) for e in values])  # polar: <C, A (A^T A)^(-1/2)>
    return _inner(cm, am * inv_sqrt)


def _inner(x, y):
    return mp.fsum(p * q for p, q in zip(x, y, strict=True))


def _apply(v, f: list):
    """V diag(f) V^T."""
    n = v.rows
    out = mp.matrix(n, n)
    for i in range(n):
        for j in range(i, n):
            out[i, j] = out[j, i] = mp.fsum(v[i, t] * f[t] * v[j, t] for t in range(len(f)))
    return out


def _hadamard_conjugate(v, weights, b):
    """V (F o (V^T B V)) V^T for a square V and a divided-difference matrix F (list of lists)."""
    inner = v.T * b * v
    n = inner.rows
    for i in range(n):
        for j in range(n):
            inner[i, j] *= weights[i][j]
    return v * inner * v.T


def gradient(a, loss, c=None):
    """The exact gradient dL/dA (an mpmath matrix) by the closed forms of the module docstring.

    ``a`` is a float array (cached) or an mpmath matrix; ``c`` the weight matrix of polar and proj:K.
    Meaningful where ``status`` is ``unique``.
    """
    loss = as_loss(loss)
    if not isinstance(a, np.ndarray):
        return _gradient_of(_Matrix.of(a), loss, _weights_mp(c))
    c_data = None if c is None else np.ascontiguousarray(c, dtype=np.float64).tobytes()
    return _gradient(*_key(a), loss.kind, loss.order, c_data)


@functools.cache
def _gradient(shape: tuple, data: bytes, kind: str, order: int | None, c_data: bytes | None):
    loss = OracleLoss(kind, order)
    c = (
        None
        if c_data is None
        else np.frombuffer(c_data, dtype=np.float64).reshape(_weight_shape(loss, shape))
    )
    return _gradient_of(_Matrix.of(_from_key(shape, data)), loss, _weights_mp(c))


def _weight_shape(loss: OracleLoss, shape: tuple) -> tuple:
    return (shape[0], shape[0]) if loss.kind == "proj" else shape


def _gradient_of(x: _Matrix, loss: OracleLoss, cm):
    if loss.kind == "recon":
        return x.am / mp.sqrt(mp.fsum(e * e for e in x.am))
    if loss.kind == "proj":
        return _projector_gradient(x, cm, loss.order)
    if x.shape[0] < x.shape[1]:
        return _gradient_of(x.t, loss, None if cm is None else cm.T).T
    if loss.spectral:
        return _spectral_gradient(x, loss)
    return _polar_gradient(x, cm)


def _spectral_gradient(x: _Matrix, loss: OracleLoss):
    """A V diag(w / s) V^T for m >= n, summed over the non-zero weights only."""
    values, v = x.eig("right")
    w = loss.weights(len(values))
    g = mp.matrix(*x.shape)
    for t, weight in enumerate(w):
        if weight == 0:
            continue
        vt = v[:, t]
        u = x.am * vt / mp.sqrt(values[t])  # u_t = A v_t / s_t
        g = g + float(weight) * u * vt.T
    return g


def _polar_gradient(x: _Matrix, cm):
    """C psi(M) + A (Y + Y^T), Y = V (Psi o (V^T A^T C V)) V^T, for m >= n at full rank."""
    values, v = x.eig("right")
    s = [mp.sqrt(e) for e in values]
    psi = [[-1 / (si * sj * (si + sj)) for sj in s] for si in s]
    y = _hadamard_conjugate(v, psi, x.am.T * cm)
    return cm * _apply(v, [1 / e for e in s]) + x.am * (y + y.T)


def _projector_gradient(x: _Matrix, cm, order: int):
    """(Z + Z^T) A with Z = W (X o (W^T C W)) W^T, X the divided differences of the top-K indicator."""
    values, w = x.eig("left")
    m = len(values)
    div = [
        [(1 / abs(values[i] - values[j]) if (i < order) != (j < order) else mp.zero) for j in range(m)]
        for i in range(m)
    ]
    z = _hadamard_conjugate(w, div, cm)
    return (z + z.T) * x.am


def polar_factor(a: np.ndarray):
    """U V^T = A (A^T A)^(-1/2) from the eigendecomposition (m >= n; transposed otherwise)."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape[0] < a.shape[1]:
        return polar_factor(a.T).T
    values, v = eigen(a, "right")
    return to_mp(a) * _apply(v, [1 / mp.sqrt(x) for x in values])


def polar_factor_by_sqrtm(a: np.ndarray):
    """The same factor by mpmath's matrix square root and inverse (a second, independent route)."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape[0] < a.shape[1]:
        return polar_factor_by_sqrtm(a.T).T
    am = to_mp(a)
    return am * mp.inverse(mp.sqrtm(am.T * am))


def gradient_float64(a: np.ndarray, loss, c: np.ndarray | None = None) -> np.ndarray:
    """The same closed forms in float64 with numpy's symmetric eigensolver, for matrices too large
    for mpmath (the injected-error tests). On well-conditioned input (s in [1, 2], gaps ~1/n) it errs
    by ~1e-13 relative (checked against ``gradient`` in test_truth.py), far below the 1e-9 injected."""
    loss = as_loss(loss)
    a = np.asarray(a, dtype=np.float64)
    if loss.kind == "recon":
        return a / np.linalg.norm(a)
    if loss.kind == "proj":
        values, w = _eigh_decreasing(a @ a.T)
        top = np.arange(len(values)) < loss.order
        across = top[:, None] != top[None, :]
        gaps = np.abs(values[:, None] - values[None, :])
        div = np.divide(1.0, gaps, out=np.zeros_like(gaps), where=across)
        z = w @ (div * (w.T @ c @ w)) @ w.T
        return (z + z.T) @ a
    if a.shape[0] < a.shape[1]:
        return gradient_float64(a.T, loss, None if c is None else c.T).T
    values, v = _eigh_decreasing(a.T @ a)
    s = np.sqrt(values)
    if loss.spectral:
        w = loss.weights(len(s))
        kept = w != 0
        return (a @ v[:, kept] * (w[kept] / s[kept])) @ v[:, kept].T
    psi = -1.0 / (s[:, None] * s[None, :] * (s[:, None] + s[None, :]))
    y = v @ (psi * (v.T @ a.T @ c @ v)) @ v.T
    return c @ (v / s) @ v.T + a @ (y + y.T)


def _eigh_decreasing(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(gram)
    return values[::-1], vectors[:, ::-1]


def ulp(a: np.ndarray, dtype) -> np.ndarray:
    """np.spacing of each entry in ``dtype`` (as float64); exact zeros get
    spacing(max |A_ij|) * 2^-ZERO_ULP_SHIFT (module docstring)."""
    x = np.abs(np.asarray(a, dtype=np.float64)).astype(dtype)
    spacing = np.spacing(x).astype(np.float64)
    floor = float(np.spacing(x.max())) * 2.0**-ZERO_ULP_SHIFT
    return np.where(x == 0, floor, spacing)


def perturbed(a: np.ndarray, step: np.ndarray) -> np.ndarray:
    """A + step in float64, checked to be exact."""
    b = np.asarray(a, dtype=np.float64) + step
    if not np.array_equal(b - a, step):
        raise ArithmeticError("a one-ulp perturbation is not exact in float64")
    return b


def sign_patterns(shape: tuple, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.choice([-1.0, 1.0], size=shape) for _ in range(count)]


@dataclass(frozen=True)
class Spread:
    """How far the exact gradient moves under one-ulp input changes (module docstring)."""

    sigma: float  # max over sign patterns of ||G(A + D o ulp) - G(A)||_F
    sigma_single: float | None  # max over single entries (None when not computed)
    gradient_norm: float  # ||G(A)||_F

    @property
    def relative(self) -> float:
        return self.sigma / self.gradient_norm if self.gradient_norm else math.inf


def spread(
    a: np.ndarray, dtype, loss, c: np.ndarray | None = None, patterns: int = 6, seed: int = 0, single=False
) -> Spread:
    """sigma (and with ``single`` sigma_single) of the loss at ``a`` for data in ``dtype``."""
    c_data = None if c is None else np.ascontiguousarray(c, dtype=np.float64).tobytes()
    loss = as_loss(loss)
    return _spread(*_key(a), np.dtype(dtype).name, loss.kind, loss.order, c_data, patterns, seed, single)


@functools.cache
def _spread(shape, data, dtype, kind, order, c_data, patterns, seed, single) -> Spread:
    a = _from_key(shape, data)
    loss = OracleLoss(kind, order)
    c = (
        None
        if c_data is None
        else np.frombuffer(c_data, dtype=np.float64).reshape(_weight_shape(loss, shape))
    )
    base = gradient(a, loss, c)
    unit = ulp(a, np.dtype(dtype))

    def moved(step: np.ndarray) -> float:
        return frobenius(gradient(perturbed(a, step), loss, c) - base)

    sigma = max(moved(d * unit) for d in sign_patterns(shape, patterns, seed))
    sigma_single = None
    if single:
        sigma_single = 0.0
        for index in np.ndindex(*shape):
            step = np.zeros(shape)
            step[index] = unit[index]
            sigma_single = max(sigma_single, moved(step))
    return Spread(sigma, sigma_single, frobenius(base))


def central_difference(a: np.ndarray, loss, c: np.ndarray | None, direction: np.ndarray, h) -> object:
    """(L(A + hE) - L(A - hE)) / 2h with A +- hE formed exactly in mpmath."""
    am, e, h = to_mp(a), to_mp(direction), mp.mpf(h)
    return (loss_value(am + h * e, loss, c) - loss_value(am - h * e, loss, c)) / (2 * h)


def directional_derivative(a: np.ndarray, loss, c: np.ndarray | None, direction: np.ndarray):
    """<G, E>: the closed-form gradient against a direction."""
    return _inner(gradient(a, loss, c), to_mp(direction))


def spectral_set_violation(
    g: np.ndarray, u: np.ndarray, s: np.ndarray, v: np.ndarray, w: np.ndarray
) -> float:
    """How far ``g`` is from the membership conditions of the (sub/Clarke) gradient set of
    sum_i w_i s_i at A = u[:, :k] diag(s) v[:, :k]^T (module docstring); 0 inside.

    ``u`` (m x m) and ``v`` (n x n) are exactly orthogonal full factors, ``s`` the exact decreasing
    singular values (exact ties and zeros). Computed in float64: a membership tolerance, not a value.
    """
    x = u.T @ np.asarray(g, dtype=np.float64) @ v
    m, n = x.shape
    rank = int(np.count_nonzero(s))
    allowed = np.zeros_like(x, dtype=bool)
    allowed[rank:, rank:] = True
    worst = 0.0
    for cluster in _exact_clusters(s[:rank]):
        block = np.ix_(cluster, cluster)
        allowed[block] = True
        sub = x[block]
        worst = max(worst, float(np.linalg.norm(sub - sub.T)))
        eig = np.sort(np.linalg.eigvalsh((sub + sub.T) / 2))[::-1]
        target = np.sort(w[cluster])[::-1]
        worst = max(worst, float(np.max(np.cumsum(eig) - np.cumsum(target))), abs(eig.sum() - target.sum()))
    worst = max(worst, float(np.linalg.norm(x[~allowed])))
    if rank < min(m, n):
        values = np.linalg.svd(x[rank:, rank:], compute_uv=False)
        target = np.zeros(len(values))
        zero_w = np.sort(np.abs(w[rank:]))[::-1]
        target[: len(zero_w)] = zero_w
        worst = max(worst, float(np.max(np.cumsum(values) - np.cumsum(target))))
    return worst


def _exact_clusters(s: np.ndarray) -> list[list[int]]:
    clusters: list[list[int]] = []
    for i, x in enumerate(s):
        if clusters and s[clusters[-1][-1]] == x:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    return clusters
