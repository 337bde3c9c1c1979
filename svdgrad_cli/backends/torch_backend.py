"""The PyTorch backend: torch.linalg.svdvals / torch.linalg.svd differentiated by autograd."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def version() -> str:
    import torch

    return torch.__version__


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack.

    Losses of s use ``torch.linalg.svdvals``; losses of U and V use
    ``torch.linalg.svd(x, full_matrices=full_matrices)`` and keep the first k columns.
    """
    import torch

    ops = SimpleNamespace(
        const=torch.as_tensor,
        matmul=torch.matmul,
        t=lambda x: x.mT,
        sum=lambda x, axes=None: torch.sum(x) if axes is None else torch.sum(x, dim=axes),
        sqrt=torch.sqrt,
    )
    x = torch.from_numpy(np.array(stack)).requires_grad_(True)
    if loss.needs_vectors:
        u, s, vh = torch.linalg.svd(x, full_matrices=full_matrices)
        k = s.shape[-1]
        u, v = u[..., :, :k], vh.mT[..., :, :k]
    else:
        s = torch.linalg.svdvals(x)
        u = v = None
    loss.evaluate(ops, u, s, v).backward()
    return s.detach().numpy(), x.grad.numpy()
