"""A JAX SVD as a ``jax.custom_jvp``: the forward-mode rule written out, from which JAX derives the
reverse mode (by transposing it) and the second order (by differentiating the rule itself).

    svdgrad check A.npy -b jax:examples.backends.jax_jvp:svd --mode jvp
    svdgrad check A.npy -b jax:examples.backends.jax_jvp:svd --mode hvp

The rule for the thin SVD A = U diag(s) V^T of a real m x n matrix, m >= n or m < n (Townsend 2016;
Giles 2008, §3.2), with P = U^T dA V and F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it:
ds = diag(P), dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^-1,
dV = V (F o (S P + P^T S)) + (I - V V^T) dA^T U S^-1.
(U^T dU is antisymmetric: the diagonal of U^T dU is 0, the gauge this rule picks for real input.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_jvp
def svd(a):
    """(U, S, Vh) of the thin SVD, as jnp.linalg.svd(a, full_matrices=False)."""
    return jnp.linalg.svd(a, full_matrices=False)


def _t(x):
    return jnp.swapaxes(x, -1, -2)


@svd.defjvp
def _svd_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    u, s, vh = svd(a)
    v = _t(vh)
    k = s.shape[-1]
    eye = jnp.eye(k, dtype=a.dtype)
    p = _t(u) @ da @ v
    ds = jnp.diagonal(p, axis1=-2, axis2=-1)
    gaps = s[..., None, :] ** 2 - s[..., :, None] ** 2  # s_j^2 - s_i^2
    f = (1 - eye) / (gaps + eye)
    ps, sp = p * s[..., None, :], s[..., :, None] * p  # P S and S P
    du = u @ (f * (ps + _t(ps)))
    dv = v @ (f * (sp + _t(sp)))
    if a.shape[-2] > k:
        dav = da @ v
        du = du + (dav - u @ (_t(u) @ dav)) / s[..., None, :]
    if a.shape[-1] > k:
        dau = _t(da) @ u
        dv = dv + (dau - v @ (_t(v) @ dau)) / s[..., None, :]
    return (u, s, vh), (du, ds, _t(dv))
