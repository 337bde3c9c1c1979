"""Hessian-vector products of the losses of U and V, exact at near ties (docs/theory.md §3 and §5).

A loss L(A) = <C_B, f(B)> of the symmetric dilation B = [[0, A], [A^T, 0]], with f piecewise constant
on the spectrum of B, has (Daleckii and Krein; Bhatia, Matrix Analysis, Theorem V.3.3)

    grad_B L = Z (F1 o C^) Z^T,    D(grad_B L)[H] = Z T Z^T,
    T_pr = sum_q f[2](l_p, l_q, l_r) (C^_pq H^_qr + H^_pq C^_qr),

where B = Z diag(l) Z^T, C^ = Z^T C_B Z, H^ = Z^T H Z, F1 the first and f[2] the second divided
differences of f. For piecewise-constant f these need no difference of two eigenvalues on one piece:

    f[1](a, b) = (f_a - f_b) / (a - b)  if f_a != f_b, else 0
    f[2](a, b, c) = f[1](a, b) / (b - c)                        if f_a = f_c  (a and c may be equal)
                  = (f[1](a, b) - f[1](b, c)) / (a - c)          if f_a != f_c

so each is a product of reciprocals of gaps between pieces, and T is six matrix products. Every
eigenvalue of B is +s_i, -s_i (eigenvector (u_i, +-v_i) / sqrt 2) or a structural 0 (from m != n).

The polar loss <C, U V^T> is half of <dil(C), sign(B)>; the projector loss <C, U_K U_K^T> is
<[[C, 0], [0, 0]], 1[|l| >= s_K](B)>. The gradient in A is the off-diagonal block of grad_B folded
back: G = (grad_B)_12 + (grad_B)_21^T. gradients.py has the same gradients in closed form; here the
point is the second derivative, whose norm sets the error budget (budget.py).

Complex A (docs/theory.md §9): B = [[0, A], [A^H, 0]] is Hermitian with the same real eigenvalues,
Z unitary, and the formulas hold with ^H for ^T (Daleckii and Krein's for Hermitian matrices); the
directions E are complex and the norm is that of the real-linear map E -> DG[E].
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex, standard_normal

POWER_STEPS = 12  # power iterations for the operator norm at most
POWER_RTOL = 0.03  # stop when the estimate moves by less than this
PROBES = 4  # random directions for the root-mean-square sensitivity (Hutchinson's estimator)
EXACT_RMS = 64  # up to this many entries, every unit direction instead (exact; as cheap there)


def complete_basis(q: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the complement of the columns of ``q`` (m x k -> m x (m - k))."""
    m, k = q.shape
    if m == k:
        return np.zeros((m, 0), dtype=q.dtype)
    full, _ = np.linalg.qr(q, mode="complete")
    return full[:, k:]


def _dilation(top_right: np.ndarray, top_left: np.ndarray | None = None) -> np.ndarray:
    m, n = top_right.shape
    out = np.zeros((m + n, m + n), dtype=top_right.dtype)
    out[:m, m:] = top_right
    out[m:, :m] = adjoint(top_right)
    if top_left is not None:
        out[:m, :m] = top_left
    return out


class DilationHessian:
    """The Hessian operator E -> DG[E] of one loss at one matrix, in the eigenbasis of its dilation."""

    def __init__(self, u: np.ndarray, s: np.ndarray, v: np.ndarray, f_plus, f_minus, c_b: np.ndarray):
        """u (m x k), s (k), v (n x k): a thin SVD; ``f_plus``, ``f_minus`` the piece of f at +s_i and
        at -s_i (f is 0 at the structural zeros); ``c_b`` the weight of L in B coordinates."""
        m, k = u.shape
        n = v.shape[0]
        self.m = m
        self.pairs = 2 * k
        half = np.sqrt(0.5)
        u_rest, v_rest = complete_basis(u), complete_basis(v)
        self.z = np.block(
            [
                [u * half, u * half, u_rest, np.zeros((m, n - k))],
                [v * half, -v * half, np.zeros((n, m - k)), v_rest],
            ]
        )
        lam = np.concatenate([s, -s, np.zeros(m + n - 2 * k)])
        f = np.concatenate([f_plus, f_minus, np.zeros(m + n - 2 * k)])
        # Z^T J Z with J = diag(I_m, -I_n): J swaps (u_i, v_i) and (u_i, -v_i) and keeps the null
        # vectors of A's columns (+1) and rows (-1), so it is a signed permutation of the eigenbasis.
        self.swap = np.concatenate([np.arange(k, 2 * k), np.arange(k), np.arange(2 * k, m + n)])
        self.swap_sign = np.concatenate([np.ones(2 * k + m - k), -np.ones(n - k)])
        self.same = f[:, None] == f[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            self.r = np.where(self.same, 0.0, 1.0 / (lam[:, None] - lam[None, :]))
        self.f1 = (f[:, None] - f[None, :]) * self.r
        self.c_hat = adjoint(self.z) @ c_b @ self.z

    def _term(self, x: np.ndarray, y: np.ndarray, rows=slice(None)) -> np.ndarray:
        """Rows ``rows`` of sum_q f[2](p, q, r) x_pq y_qr, as six matrix products (see above)."""
        xf = x[rows] * self.f1[rows]
        same, r = self.same[rows], self.r[rows]
        return same * (xf @ (y * self.r)) + r * (xf @ y - x[rows] @ (y * self.f1))

    def _second_derivative(self, h: np.ndarray) -> np.ndarray:
        """T for a direction H^ in the eigenbasis. Only the rows of the +-s_i are computed: T is
        Hermitian, and the block between null vectors (all of one kind) is folded away (_fold)."""
        pairs = slice(0, self.pairs)
        top = self._term(self.c_hat, h, pairs) + self._term(h, self.c_hat, pairs)
        t = np.zeros_like(h)
        t[pairs] = top
        t[self.pairs :, pairs] = adjoint(top[:, self.pairs :])
        return t

    def apply(self, e: np.ndarray) -> np.ndarray:
        """DG[E] for a direction E of the shape of A."""
        h = adjoint(self.z) @ _dilation(e) @ self.z
        d = self.z @ self._second_derivative(h) @ adjoint(self.z)
        return d[: self.m, self.m :] + adjoint(d[self.m :, : self.m])

    def _fold(self, t: np.ndarray) -> np.ndarray:
        """Z^T dil(D_12 + D_21^T) Z for D = Z T Z^T, without leaving the eigenbasis: T - Q T Q with
        Q = Z^T J Z (the dilation-structured part of T, times two)."""
        q_t_q = t[np.ix_(self.swap, self.swap)] * np.outer(self.swap_sign, self.swap_sign)
        return t - q_t_q

    def _image_size(self, e: np.ndarray) -> float:
        """||DG[E]||_F / ||E||_F, in the eigenbasis (see ``norm``)."""
        h = adjoint(self.z) @ _dilation(e) @ self.z
        return float(np.linalg.norm(self._fold(self._second_derivative(h))) / np.linalg.norm(h))

    def rms(self, rng: np.random.Generator, probes: int = PROBES) -> float:
        """The root mean square of ||DG[E]||_F over unit directions E, ||DG||_F / sqrt(dim): Hutchinson's
        estimator (1990) on ``probes`` Gaussian directions, since E[||DG[E / ||E||]||^2] = ||DG||_F^2 / dim
        for E with independent standard normal entries (E / ||E|| is uniform on the sphere)."""
        m, n = self.m, self.z.shape[0] - self.m
        on_complex = is_complex(self.z)
        if m * n <= EXACT_RMS:  # every unit direction: the exact ||DG||_F
            units = np.eye(m * n).reshape(m * n, m, n)
            directions = [*units, *(1j * units)] if on_complex else list(units)
        else:
            directions = [standard_normal(rng, (m, n), on_complex) for _ in range(probes)]
        return float(np.sqrt(np.mean([self._image_size(e) ** 2 for e in directions])))

    def norm(self, rng: np.random.Generator) -> float:
        """||DG||_2 (operator norm on Frobenius-normed directions) by power iteration in the
        eigenbasis: a direction E is H^ = Z^T dil(E) Z, with ||H^||_F = sqrt(2) ||E||_F."""
        m, n = self.m, self.z.shape[0] - self.m
        h = adjoint(self.z) @ _dilation(standard_normal(rng, (m, n), is_complex(self.z))) @ self.z
        h /= np.linalg.norm(h)
        estimate = 0.0
        for _ in range(POWER_STEPS):
            image = self._fold(self._second_derivative(h))
            size = float(np.linalg.norm(image))  # = ||DG[E]||_F * sqrt(2) / (sqrt(2) ||E||_F)
            if size == 0.0:
                return 0.0
            converged = abs(size - estimate) <= POWER_RTOL * size
            estimate, h = size, image / size
            if converged:
                break
        return estimate


def polar_hessian(
    u: np.ndarray, s: np.ndarray, v: np.ndarray, c: np.ndarray, zero: np.ndarray, order: int | None = None
) -> DilationHessian:
    """The Hessian of <C, U V^T>: f = sign on the positive singular values, 0 on the zero ones; of
    <C, U_K V_K^T> for K = ``order`` (truncated.py): 0 also beyond the K-th."""
    f = np.where(zero | (np.arange(len(s)) >= (order or len(s))), 0.0, 1.0)
    return DilationHessian(u, s, v, f, -f, 0.5 * _dilation(c))


def projector_hessian(
    u: np.ndarray, s: np.ndarray, v: np.ndarray, c: np.ndarray, order: int
) -> DilationHessian:
    """The Hessian of <C, U_K U_K^T>: f = 1 on +-s_1..s_K, 0 elsewhere."""
    f = (np.arange(len(s)) < order).astype(float)
    zero = np.zeros((u.shape[0], v.shape[0]), dtype=c.dtype)
    c_b = _dilation(zero, top_left=0.5 * (c + adjoint(c)))  # <C, P> = <Herm C, P>
    return DilationHessian(u, s, v, f, f, c_b)
