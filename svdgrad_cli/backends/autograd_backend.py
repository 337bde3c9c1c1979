"""The autograd backend: NumPy's SVD differentiated by autograd, as the seed post writes it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def version() -> str:
    import autograd

    return getattr(autograd, "__version__", "unknown")


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack.

    Losses of s use ``svd(a, compute_uv=False)``; losses of U and V use
    ``svd(a, full_matrices=full_matrices)`` and keep the first k columns.
    """
    import autograd.numpy as anp
    from autograd import grad
    from autograd.tracer import getval

    ops = SimpleNamespace(
        const=lambda x: x,
        matmul=anp.matmul,
        t=lambda x: anp.swapaxes(x, -1, -2),
        sum=lambda x, axes=None: anp.sum(x, axis=axes),
        sqrt=anp.sqrt,
    )
    seen = {}

    def objective(a):
        if loss.needs_vectors:
            u, s, vh = anp.linalg.svd(a, full_matrices=full_matrices)
            k = s.shape[-1]
            u, v = u[..., :, :k], anp.swapaxes(vh, -1, -2)[..., :, :k]
        else:
            s = anp.linalg.svd(a, compute_uv=False)
            u = v = None
        seen["s"] = getval(s)
        return loss.evaluate(ops, u, s, v)

    gradient = grad(objective)(stack)
    return np.asarray(seen["s"]), np.asarray(gradient)
