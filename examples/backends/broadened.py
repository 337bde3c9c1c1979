"""A torch SVD whose backward pass broadens 1/(s_j^2 - s_i^2) to x / (x^2 + eps) (Lorentzian broadening).

The pattern of tensor-network codes (wangleiphy/tensorgrad ``adlib/svd.py``, jurajHasik/peps-torch
``linalg/svd_gesdd.py``): near a tie the broadened term stays finite instead of blowing up, at the
price of a bias of relative size about eps / (s_j^2 - s_i^2)^2 wherever the loss depends on that gap.

    svdgrad check A.npy -b torch:examples.backends.broadened:svd
    svdgrad check A.npy -b broad6=torch:examples.backends.broadened:svd_1e6   # eps = 1e-6

The backward pass is Townsend's (2016) rule for the thin SVD A = U diag(s) V^T:
A_bar = U [(F o (U^T U_bar - U_bar^T U)) S + diag(s_bar) + S (F o (V^T V_bar - V_bar^T V))] V^T
        + (I - U U^T) U_bar S^-1 V^T + U S^-1 V_bar^T (I - V V^T),   F_ij = 1 / (s_j^2 - s_i^2).
"""

from __future__ import annotations

import torch

EPSILON = 1e-12


def broadened_inverse(x: torch.Tensor, eps: float) -> torch.Tensor:
    """x / (x^2 + eps): 1/x far from 0, bounded by 1 / (2 sqrt(eps)) near it."""
    return x / (x * x + eps)


class BroadenedSVD(torch.autograd.Function):
    """torch.linalg.svd (thin) forward; Townsend's backward with a broadened F."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, eps: float):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, s, vh)
        ctx.eps = eps
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        v = vh.mT
        gu = torch.zeros_like(u) if gu is None else gu
        gs = torch.zeros_like(s) if gs is None else gs
        gv = torch.zeros_like(v) if gvh is None else gvh.mT
        s2 = s * s
        f = broadened_inverse(s2.unsqueeze(-2) - s2.unsqueeze(-1), ctx.eps)  # F_ij ~ 1/(s_j^2 - s_i^2)
        f = f - torch.diag_embed(torch.diagonal(f, dim1=-2, dim2=-1))  # no diagonal
        ut_gu = u.mT @ gu
        vt_gv = v.mT @ gv
        inner = (f * (ut_gu - ut_gu.mT)) * s.unsqueeze(-2) + torch.diag_embed(gs)
        inner = inner + s.unsqueeze(-1) * (f * (vt_gv - vt_gv.mT))
        grad = u @ inner @ vh
        inv_s = 1.0 / s
        m, n, k = u.shape[-2], v.shape[-2], s.shape[-1]
        if m > k:
            grad = grad + (gu - u @ ut_gu) * inv_s.unsqueeze(-2) @ vh
        if n > k:
            grad = grad + (u * inv_s.unsqueeze(-2)) @ (gv.mT - vt_gv.mT @ vh)
        return grad, None


def svd_with(eps: float):
    """An svd(a) -> (U, S, Vh) with broadening eps (a factory, for other values of eps)."""

    def svd(a: torch.Tensor):
        return BroadenedSVD.apply(a, eps)

    return svd


svd = svd_with(EPSILON)
svd_1e6 = svd_with(1e-6)
