"""A torch eigh whose backward pass broadens 1/(w_j - w_i) to x / (x^2 + eps) (Lorentzian broadening).

The fix of XanaduAI/GradDFT#35/#38 and kch3782/torcwa#11 for NaN gradients at degenerate
eigenvalues (after Liao et al. 2019's broadened SVD backward): near a tie the term stays finite, at
the price of a bias wherever the loss depends on that gap.

    svdgrad check A.npy --decomposition eigh --loss expm -b torch:examples.backends.eigh_broadened:eigh

The backward pass is the standard rule for A = Q diag(w) Q^H (Giles 2008, sec. 3.1; Q^H = Q^T for real A):
A_bar = Q (diag(w_bar) + F o (Q^H Q_bar)) Q^H, made Hermitian, F_ij = 1 / (w_j - w_i) (i != j).
"""

from __future__ import annotations

import torch

EPSILON = 1e-12


class BroadenedEigh(torch.autograd.Function):
    """torch.linalg.eigh forward; the standard backward with a broadened F."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, eps: float):
        w, q = torch.linalg.eigh(a)
        ctx.save_for_backward(w, q)
        ctx.eps = eps
        return w, q

    @staticmethod
    def backward(ctx, gw, gq):
        w, q = ctx.saved_tensors
        x = w[..., None, :] - w[..., :, None]  # x_ij = w_j - w_i
        f = x / (x * x + ctx.eps)
        inner = torch.diag_embed(gw if gw is not None else torch.zeros_like(w))
        if gq is not None:
            inner = inner + f * (q.mH @ gq)
        grad = q @ inner @ q.mH
        return (grad + grad.mH) / 2, None


def eigh(a: torch.Tensor):
    """(w, Q) as torch.linalg.eigh returns them, with the broadened backward."""
    return BroadenedEigh.apply(a, EPSILON)
