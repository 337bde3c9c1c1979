"""The PyTorch backend: torch.linalg.svdvals / torch.linalg.svd differentiated by autograd."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

from svdgrad_cli.backends.framework import compute_with

SCRIPT_IMPORT = "def framework():\n    import torch\n    return torch\n"


def framework():
    import torch

    return torch


def version() -> str:
    return framework().__version__


def framework_ops():
    torch = framework()
    return SimpleNamespace(
        const=torch.as_tensor,
        matmul=torch.matmul,
        t=lambda x: x.mT,
        sum=lambda x, axes=None: torch.sum(x) if axes is None else torch.sum(x, dim=axes),
        sqrt=torch.sqrt,
    )


def thin_factors(a, needs_vectors, full_matrices):
    """torch.linalg.svdvals for losses of s; else torch.linalg.svd, first k columns of U and V."""
    torch = framework()
    if not needs_vectors:
        return None, torch.linalg.svdvals(a), None
    u, s, vh = torch.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, vh.mT[..., :, :k]


def differentiate(stack, objective):
    x = framework().from_numpy(np.array(stack)).requires_grad_(True)
    loss, s = objective(x)
    loss.backward()
    return s.detach().numpy(), x.grad.numpy()


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack."""
    return compute_with(sys.modules[__name__], stack, loss, full_matrices)
