"""The autograd backend: NumPy's SVD differentiated by autograd, as the seed post writes it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

# A real loss of complex input: whether the framework's gradient is the conjugate of svdgrad's
# steepest-ascent convention (numerics/field.py), and why (docs/theory.md §9).
CONJUGATES_COMPLEX_GRADIENT = True
COMPLEX_GRADIENT = "autograd.grad gives dL/dRe A - i dL/dIm A, the conjugate of the steepest ascent, as JAX"
SCRIPT_FUNCTIONS = ("framework", "framework_ops", "thin_factors", "differentiate")
# How a reproducer script (repro.py) writes the loss in autograd's own calls: the line that binds
# the framework's name, and each op of the ops namespace of losses.py as a template (X, Y: the operands;
# AXES: the axes keyword, dropped where the loss gives none). Pure data: the functions below are the
# ones svdgrad runs.
SCRIPT_FRAMEWORK = "import autograd.numpy as anp"
SCRIPT_OPS = {
    "const": "X",
    "matmul": "anp.matmul(X, Y)",
    "t": "anp.swapaxes(X, -1, -2)",
    "sum": "anp.sum(X, axis=AXES)",
    "sqrt": "anp.sqrt(X)",
    "real": "anp.real(X)",
    "imag": "anp.imag(X)",
    "conj": "anp.conj(X)",
    "cplx": "X + 0j",
}


def framework():
    import autograd

    return autograd


def framework_ops():
    import autograd.numpy as anp

    return SimpleNamespace(
        const=lambda x: x,
        matmul=anp.matmul,
        t=lambda x: anp.swapaxes(x, -1, -2),
        sum=lambda x, axes=None: anp.sum(x, axis=axes),
        sqrt=anp.sqrt,
        real=anp.real,
        imag=anp.imag,
        conj=anp.conj,
        cplx=lambda x: x + 0j,
    )


def thin_factors(a, needs_vectors, full_matrices):
    """svd(a, compute_uv=False) for losses of s; else U, s, V with the first k columns."""
    import autograd.numpy as anp

    if not needs_vectors:
        return None, anp.linalg.svd(a, compute_uv=False), None
    u, s, vh = anp.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, anp.conj(anp.swapaxes(vh, -1, -2))[..., :, :k]


def differentiate(stack, objective, constants):
    from autograd import grad
    from autograd.tracer import getval

    seen = {}

    def value(x):
        loss, factors = objective(x, constants)
        seen["factors"] = [None if f is None else np.asarray(getval(f)) for f in factors]
        return loss

    gradient = grad(value)(stack)
    s, u, v = seen["factors"]
    return s, np.asarray(gradient), u, v
