"""A torch SVD whose gradient is right and whose second derivative is deliberately wrong: a test of
svdgrad's ``--mode hvp``, which must call it ``wrong`` while ``--mode vjp`` calls it ``correct``.

    svdgrad check A.npy -b torch:examples.backends.torch_wrong_hvp:svd --mode hvp

Its backward pass is torch's own VJP of torch.linalg.svd, recomputed from the saved input so that
double backward differentiates it, plus ``HVP_ERROR * (a - a.detach())``: zero as a value (the
gradient is unchanged), but its derivative adds HVP_ERROR * E to every Hessian-vector product
H(A)[E]. The mistake it stands for is a backward pass that is right at first order and was never
tested at second. It has no ``jvp`` staticmethod, so torch's forward mode is ``unsupported`` here.
"""

from __future__ import annotations

import torch

HVP_ERROR = 0.5


class WrongHvpSVD(torch.autograd.Function):
    """torch.linalg.svd (thin) forward; a backward right at first order, wrong at second."""

    @staticmethod
    def forward(a: torch.Tensor):
        return torch.linalg.svd(a, full_matrices=False)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        (a,) = ctx.saved_tensors
        with torch.enable_grad():
            x = a if a.requires_grad else a.detach().requires_grad_(True)
            outputs = torch.linalg.svd(x, full_matrices=False)
            (grad,) = torch.autograd.grad(outputs, x, (gu, gs, gvh), create_graph=True)
        return grad + HVP_ERROR * (a - a.detach())


def svd(a: torch.Tensor):
    """(U, S, Vh) of the thin SVD, as torch.linalg.svd(a, full_matrices=False)."""
    return WrongHvpSVD.apply(a)
