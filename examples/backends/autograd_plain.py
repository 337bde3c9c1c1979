"""An autograd SVD as a primitive with its own ``defvjp``: Townsend's (2016) rule, F_ij = 1/(s_j^2 - s_i^2)
with nothing guarded, i.e. what a first hand-written backward pass looks like.

    svdgrad check A.npy -b autograd:examples.backends.autograd_plain:svd
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive


@primitive
def svd(a):
    """(U, S, Vh) of the thin SVD, as numpy.linalg.svd(a, full_matrices=False)."""
    return tuple(np.linalg.svd(a, full_matrices=False))


def _svd_vjp(result, a):
    u, s, vh = result

    def vjp(cotangents):
        gu, gs, gvh = (np.zeros_like(x) if g is None else g for g, x in zip(cotangents, result, strict=True))
        v, gv = np.swapaxes(vh, -1, -2), np.swapaxes(gvh, -1, -2)
        k = s.shape[-1]
        s2 = s * s
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.eye(k, dtype=bool), 0.0, 1.0 / (s2[..., None, :] - s2[..., :, None]))
        ut_gu = np.swapaxes(u, -1, -2) @ gu
        vt_gv = np.swapaxes(v, -1, -2) @ gv
        inner = (f * (ut_gu - np.swapaxes(ut_gu, -1, -2))) * s[..., None, :]
        inner = (
            inner
            + s[..., :, None] * (f * (vt_gv - np.swapaxes(vt_gv, -1, -2)))
            + gs[..., :, None] * np.eye(k)
        )
        grad = u @ inner @ vh
        m, n = a.shape[-2], a.shape[-1]
        if m > k:
            grad = grad + ((gu - u @ ut_gu) / s[..., None, :]) @ vh
        if n > k:
            grad = grad + (u / s[..., None, :]) @ (np.swapaxes(gv, -1, -2) - np.swapaxes(vt_gv, -1, -2) @ vh)
        return grad

    return vjp


defvjp(svd, _svd_vjp)

__all__ = ["anp", "svd"]
