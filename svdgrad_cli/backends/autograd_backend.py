"""The autograd backend: NumPy's SVD differentiated by autograd, as the seed post writes it."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

from svdgrad_cli.backends.framework import compute_with

SCRIPT_IMPORT = "def framework():\n    import autograd\n    return autograd\n"


def framework():
    import autograd

    return autograd


def version() -> str:
    return getattr(framework(), "__version__", "unknown")


def framework_ops():
    import autograd.numpy as anp

    return SimpleNamespace(
        const=lambda x: x,
        matmul=anp.matmul,
        t=lambda x: anp.swapaxes(x, -1, -2),
        sum=lambda x, axes=None: anp.sum(x, axis=axes),
        sqrt=anp.sqrt,
    )


def thin_factors(a, needs_vectors, full_matrices):
    """svd(a, compute_uv=False) for losses of s; else U, s, V with the first k columns."""
    import autograd.numpy as anp

    if not needs_vectors:
        return None, anp.linalg.svd(a, compute_uv=False), None
    u, s, vh = anp.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, anp.swapaxes(vh, -1, -2)[..., :, :k]


def differentiate(stack, objective):
    from autograd import grad
    from autograd.tracer import getval

    seen = {}

    def value(x):
        loss, s = objective(x)
        seen["s"] = getval(s)
        return loss

    gradient = grad(value)(stack)
    return np.asarray(seen["s"]), np.asarray(gradient)


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack."""
    return compute_with(sys.modules[__name__], stack, loss, full_matrices)
