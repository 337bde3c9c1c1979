"""Truncated torch SVDs that return the top KEEP = 3 triplets: the naive adjoint and a corrected one.

Tensor-network and low-rank codes keep the k largest singular triplets and differentiate them with
the thin-SVD rule written for k factors (Townsend 2016) as if they were the whole decomposition. That
rule drops the coupling of each kept u_i to each discarded u_j, terms in 1/(s_i^2 - s_j^2) with
i <= k < j (Francuz et al., Phys. Rev. Research 7, 013237, 2025): its error grows with the discarded
weight s_j / s_i and vanishes only where the discarded values are zero. ``corrected`` keeps the
full decomposition from the forward pass and applies the full rule to the cotangents padded with
zeros, which is the exact gradient of the truncated map (svdgrad_cli/numerics/truncated.py).

    svdgrad check A.npy --loss proj:2 -b torch:examples.backends.truncated:naive
    svdgrad check A.npy --loss polar:3 -b torch:examples.backends.truncated:corrected

Both return (U_k, S_k, Vh_k), as torch.linalg.svd does for its k columns; svdgrad reads k from the
shapes and judges the losses of the top k triplets (sv:K, topk:K, proj:K with K <= k, polar:k, recon:k).
"""

from __future__ import annotations

import torch

KEEP = 3


def thin_rule(u, s, v, gu, gs, gv):
    """Townsend's (2016) backward pass for A = U diag(s) V^T given exactly these factors:
    U [(F o (U^T gU - gU^T U)) S + diag(gs) + S (F o (V^T gV - gV^T V))] V^T
    + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T), F_ij = 1 / (s_j^2 - s_i^2), i != j."""
    s2 = s * s
    x = s2.unsqueeze(-2) - s2.unsqueeze(-1)
    eye = torch.eye(s.shape[-1], dtype=torch.bool)
    f = torch.where(eye | (x == 0), torch.zeros_like(x), 1.0 / torch.where(x == 0, torch.ones_like(x), x))
    ut_gu, vt_gv = u.mT @ gu, v.mT @ gv
    inner = (f * (ut_gu - ut_gu.mT)) * s.unsqueeze(-2) + torch.diag_embed(gs)
    inner = inner + s.unsqueeze(-1) * (f * (vt_gv - vt_gv.mT))
    inv_s = torch.where(s > 0, 1.0 / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))
    grad = u @ inner @ v.mT
    grad = grad + ((gu - u @ ut_gu) * inv_s.unsqueeze(-2)) @ v.mT
    return grad + (u * inv_s.unsqueeze(-2)) @ (gv - v @ vt_gv).mT


def _cotangents(u, s, vh, gu, gs, gvh):
    """(gU, gs, gV) with zeros for the outputs the loss does not use."""
    zero = torch.zeros_like
    gv = zero(vh.mT) if gvh is None else gvh.mT
    return (zero(u) if gu is None else gu, zero(s) if gs is None else gs, gv)


class NaiveTruncatedSVD(torch.autograd.Function):
    """Top-k forward; the thin rule on the k factors alone (drops the kept-discarded coupling)."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        u, s, vh = u[..., :, :KEEP], s[..., :KEEP], vh[..., :KEEP, :]
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        return thin_rule(u, s, vh.mT, *_cotangents(u, s, vh, gu, gs, gvh))


class CorrectedTruncatedSVD(torch.autograd.Function):
    """Top-k forward; the full rule on the whole thin SVD with the discarded cotangents zero."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, s, vh)
        return u[..., :, :KEEP], s[..., :KEEP], vh[..., :KEEP, :]

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        gu, gs, gv = _cotangents(u[..., :, :KEEP], s[..., :KEEP], vh[..., :KEEP, :], gu, gs, gvh)
        pad = s.shape[-1] - KEEP
        gu = torch.nn.functional.pad(gu, (0, pad))
        gv = torch.nn.functional.pad(gv, (0, pad))
        gs = torch.nn.functional.pad(gs, (0, pad))
        return thin_rule(u, s, vh.mT, gu, gs, gv)


def naive(a):
    """(U_k, S_k, Vh_k) of the top KEEP triplets; naive truncated adjoint."""
    return NaiveTruncatedSVD.apply(a)


def corrected(a):
    """(U_k, S_k, Vh_k) of the top KEEP triplets; exact adjoint of the truncated map."""
    return CorrectedTruncatedSVD.apply(a)
