"""A JAX SVD as a ``jax.custom_vjp`` with eps added where it divides: on s_i^2 - s_j^2 and on 1/s.

The pattern of tensorcircuit's ``adaware_svd``: every reciprocal 1/x of the backward pass becomes
x / (x^2 + eps), so ties and zeros give finite gradients, biased by about eps / x^2 where the loss
depends on them.

    svdgrad check A.npy -b jax:examples.backends.jax_broadened:svd
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

EPSILON = 1e-12


def _safe_inverse(x, eps: float = EPSILON):
    return x / (x * x + eps)


@jax.custom_vjp
def svd(a):
    """(U, S, Vh) of the thin SVD, as jnp.linalg.svd(a, full_matrices=False)."""
    return jnp.linalg.svd(a, full_matrices=False)


def _forward(a):
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    return (u, s, vh), (u, s, vh)


def _backward(residuals, cotangents):
    """Townsend's (2016) rule with F_ij = safe(s_j^2 - s_i^2) and safe 1/s."""
    u, s, vh = residuals
    gu, gs, gvh = cotangents
    v = jnp.swapaxes(vh, -1, -2)
    gv = jnp.swapaxes(gvh, -1, -2)
    s2 = s * s
    k = s.shape[-1]
    f = _safe_inverse(s2[..., None, :] - s2[..., :, None]) * (1 - jnp.eye(k))
    ut_gu = jnp.swapaxes(u, -1, -2) @ gu
    vt_gv = jnp.swapaxes(v, -1, -2) @ gv
    inner = (f * (ut_gu - jnp.swapaxes(ut_gu, -1, -2))) * s[..., None, :]
    inner = inner + s[..., :, None] * (f * (vt_gv - jnp.swapaxes(vt_gv, -1, -2)))
    inner = inner + gs[..., :, None] * jnp.eye(k)
    grad = u @ inner @ vh
    inv_s = _safe_inverse(s)
    m, n = u.shape[-2], v.shape[-2]
    if m > k:
        grad = grad + ((gu - u @ ut_gu) * inv_s[..., None, :]) @ vh
    if n > k:
        gv_t = jnp.swapaxes(gv, -1, -2)
        grad = grad + (u * inv_s[..., None, :]) @ (gv_t - jnp.swapaxes(vt_gv, -1, -2) @ vh)
    return (grad,)


svd.defvjp(_forward, _backward)
