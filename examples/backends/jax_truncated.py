"""A truncated JAX SVD as a ``jax.custom_vjp``: the top KEEP = 3 triplets, with the exact adjoint of
the truncated map (the full thin rule on the cotangents padded with zeros; svdgrad_cli/numerics/
truncated.py), and the naive one (the thin rule on the k factors alone) for comparison.

    svdgrad check A.npy --loss proj:2 -b jax:examples.backends.jax_truncated:corrected
    svdgrad check A.npy --loss proj:2 -b jax:examples.backends.jax_truncated:naive
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

KEEP = 3


def thin_rule(u, s, v, gu, gs, gv):
    """Townsend's (2016) backward pass for exactly these factors (as examples/backends/truncated.py)."""
    s2 = s * s
    x = s2[..., None, :] - s2[..., :, None]
    safe = jnp.where(x == 0, 1.0, x)
    f = jnp.where(x == 0, 0.0, 1.0 / safe)
    t = lambda y: jnp.swapaxes(y, -1, -2)  # noqa: E731
    ut_gu, vt_gv = t(u) @ gu, t(v) @ gv
    diagonal = gs[..., :, None] * jnp.eye(s.shape[-1], dtype=s.dtype)
    inner = (f * (ut_gu - t(ut_gu))) * s[..., None, :] + diagonal
    inner = inner + s[..., :, None] * (f * (vt_gv - t(vt_gv)))
    inv_s = jnp.where(s > 0, 1.0 / jnp.where(s > 0, s, 1.0), 0.0)
    grad = u @ inner @ t(v)
    grad = grad + ((gu - u @ ut_gu) * inv_s[..., None, :]) @ t(v)
    return grad + (u * inv_s[..., None, :]) @ t(gv - v @ vt_gv)


def _top(a):
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    return u[..., :, :KEEP], s[..., :KEEP], vh[..., :KEEP, :]


@jax.custom_vjp
def corrected(a):
    """(U_k, S_k, Vh_k) of the top KEEP triplets; exact adjoint of the truncated map."""
    return _top(a)


def _corrected_forward(a):
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    return (u[..., :, :KEEP], s[..., :KEEP], vh[..., :KEEP, :]), (u, s, vh)


def _corrected_backward(residuals, cotangents):
    u, s, vh = residuals
    gu, gs, gvh = cotangents
    pad = s.shape[-1] - KEEP
    widths = [(0, 0)] * (gs.ndim - 1) + [(0, pad)]
    gu = jnp.pad(gu, [(0, 0)] * (gu.ndim - 1) + [(0, pad)])
    gv = jnp.pad(jnp.swapaxes(gvh, -1, -2), [(0, 0)] * (gvh.ndim - 1) + [(0, pad)])
    return (thin_rule(u, s, jnp.swapaxes(vh, -1, -2), gu, jnp.pad(gs, widths), gv),)


corrected.defvjp(_corrected_forward, _corrected_backward)


@jax.custom_vjp
def naive(a):
    """(U_k, S_k, Vh_k) of the top KEEP triplets; naive truncated adjoint."""
    return _top(a)


def _naive_forward(a):
    top = _top(a)
    return top, top


def _naive_backward(residuals, cotangents):
    u, s, vh = residuals
    gu, gs, gvh = cotangents
    return (thin_rule(u, s, jnp.swapaxes(vh, -1, -2), gu, gs, jnp.swapaxes(gvh, -1, -2)),)


naive.defvjp(_naive_forward, _naive_backward)
