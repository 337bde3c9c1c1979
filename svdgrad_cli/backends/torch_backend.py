"""The PyTorch backend: torch.linalg.svdvals / torch.linalg.svd differentiated by autograd."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

# A real loss of complex input: whether the framework's gradient is the conjugate of svdgrad's
# steepest-ascent convention (numerics/field.py), and why (docs/theory.md §9).
CONJUGATES_COMPLEX_GRADIENT = False
COMPLEX_GRADIENT = (
    "torch's .grad of a real loss is dL/dRe A + i dL/dIm A (PyTorch, Autograd for Complex Numbers)"
)
# torch's svd_backward refuses a loss of complex input that depends on the phases of (u_i, v_i).
GAUGE_ERRORS = ("depends on this phase term",)
SCRIPT_FUNCTIONS = ("framework", "framework_ops", "thin_factors", "differentiate")
# How a reproducer script (repro.py) writes the loss in PyTorch's own calls: the line that binds
# the framework's name, and each op of the ops namespace of losses.py as a template (X, Y: the operands;
# AXES: the axes keyword, dropped where the loss gives none). Pure data: the functions below are the
# ones svdgrad runs.
SCRIPT_FRAMEWORK = "torch = framework()"
SCRIPT_OPS = {
    "const": "torch.as_tensor(X)",
    "matmul": "torch.matmul(X, Y)",
    "t": "torch.transpose(X, -1, -2)",
    "sum": "torch.sum(X, dim=AXES)",
    "sqrt": "torch.sqrt(X)",
    "real": "torch.real(X)",
    "imag": "torch.imag(X)",
    "conj": "torch.conj(X)",
    "cplx": "torch.complex(X, torch.zeros_like(X))",
}


def framework():
    import torch

    return torch


def framework_ops():
    torch = framework()
    return SimpleNamespace(
        const=torch.as_tensor,
        matmul=torch.matmul,
        t=lambda x: x.mT,
        sum=lambda x, axes=None: torch.sum(x) if axes is None else torch.sum(x, dim=axes),
        sqrt=torch.sqrt,
        real=torch.real,
        imag=torch.imag,
        conj=torch.conj,
        cplx=lambda x: torch.complex(x, torch.zeros_like(x)),
    )


def thin_factors(a, needs_vectors, full_matrices):
    """torch.linalg.svdvals for losses of s; else torch.linalg.svd, first k columns of U and V."""
    torch = framework()
    if not needs_vectors:
        return None, torch.linalg.svdvals(a), None
    u, s, vh = torch.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, vh.mH[..., :, :k]


def differentiate(stack, objective, constants):
    x = framework().from_numpy(np.array(stack)).requires_grad_(True)
    loss, factors = objective(x, constants)
    loss.backward()
    s, u, v = (None if f is None else f.detach().resolve_conj().numpy() for f in factors)
    return s, x.grad.numpy(), u, v
