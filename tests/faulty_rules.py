"""Autograd SVD plug-ins, each with one known fault in Townsend's (2016) backward rule, for
test_error_parts.py: ``noproj`` drops the (I - U U^T) and (I - V V^T) terms (a thin rule written for
square matrices), ``broadened`` replaces 1/(s_j^2 - s_i^2) by x / (x^2 + EPSILON) (Lorentzian
broadening), ``doubled`` takes twice diag(s_bar) (a wrong singular-value rule)."""

from __future__ import annotations

import numpy as np
from autograd.extend import defvjp, primitive

EPSILON = 1e-12


def _rule(projections: bool = True, eps: float = 0.0, diagonal: float = 1.0):
    """The vjp maker of Townsend's rule with the chosen fault (the real, thin case)."""

    def make(result, a):
        u, s, vh = result
        v = np.swapaxes(vh, -1, -2)

        def vjp(cotangents):
            pairs = zip(cotangents, result, strict=True)
            gu, gs, gvh = (np.zeros_like(x) if g is None else g for g, x in pairs)
            gv = np.swapaxes(gvh, -1, -2)
            k = s.shape[-1]
            x = s[..., None, :] ** 2 - s[..., :, None] ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(np.eye(k, dtype=bool), 0.0, x / (x * x + eps))
            ut_gu = np.swapaxes(u, -1, -2) @ gu
            vt_gv = np.swapaxes(v, -1, -2) @ gv
            inner = (f * (ut_gu - np.swapaxes(ut_gu, -1, -2))) * s[..., None, :]
            inner = inner + s[..., :, None] * (f * (vt_gv - np.swapaxes(vt_gv, -1, -2)))
            inner = inner + diagonal * gs[..., :, None] * np.eye(k)
            grad = u @ inner @ vh
            m, n = a.shape[-2], a.shape[-1]
            if projections and m > k:
                grad = grad + ((gu - u @ ut_gu) / s[..., None, :]) @ vh
            if projections and n > k:
                gv_t = np.swapaxes(gv, -1, -2)
                grad = grad + (u / s[..., None, :]) @ (gv_t - np.swapaxes(vt_gv, -1, -2) @ vh)
            return grad

        return vjp

    return make


def _svd_with(make):
    @primitive
    def svd(a):
        """(U, S, Vh) of the thin SVD, as numpy.linalg.svd(a, full_matrices=False)."""
        return tuple(np.linalg.svd(a, full_matrices=False))

    defvjp(svd, make)
    return svd


noproj = _svd_with(_rule(projections=False))
broadened = _svd_with(_rule(eps=EPSILON))
doubled = _svd_with(_rule(diagonal=2.0))
