"""The JAX backend: jnp.linalg.svd under jax.value_and_grad, jitted, with jax_enable_x64 for float64.

JAX compiles a program for every new input shape whether or not it is jitted (op by op, eagerly), and
that costs about a quarter of a second. Jitting the whole loss and padding each stack to a power-of-two
length (with copies of its first matrix, whose gradients are discarded; every matrix's gradient is
independent of the others) keeps the number of compilations to about one per matrix shape.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from svdgrad_cli.losses import evaluate_expression

_jax = None
_compiled: dict[tuple, object] = {}


def _import_jax():
    global _jax
    if _jax is None:
        import jax

        jax.config.update("jax_enable_x64", True)  # else float64 input is silently computed in float32
        jax.config.update("jax_platforms", "cpu")
        _jax = jax
    return _jax


def version() -> str:
    return _import_jax().__version__


def _gradient_function(expression: str, needs_vectors: bool, full_matrices: bool):
    """jit(value_and_grad) of the loss over a stack, with the loss constants as arguments."""
    key = (expression, needs_vectors, full_matrices)
    if key not in _compiled:
        jax = _import_jax()
        jnp = jax.numpy
        ops = SimpleNamespace(
            const=jnp.asarray,
            matmul=jnp.matmul,
            t=lambda x: jnp.swapaxes(x, -1, -2),
            sum=lambda x, axes=None: jnp.sum(x, axis=axes),
            sqrt=jnp.sqrt,
        )

        def objective(a, constants):
            if needs_vectors:
                u, s, vh = jnp.linalg.svd(a, full_matrices=full_matrices)
                k = s.shape[-1]
                u, v = u[..., :, :k], jnp.swapaxes(vh, -1, -2)[..., :, :k]
            else:
                s = jnp.linalg.svd(a, compute_uv=False)
                u = v = None
            return evaluate_expression(expression, ops, u, s, v, constants), s

        _compiled[key] = jax.jit(jax.value_and_grad(objective, has_aux=True))
    return _compiled[key]


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack.

    Losses of s use ``jnp.linalg.svd(a, compute_uv=False)``; losses of U and V use
    ``jnp.linalg.svd(a, full_matrices=full_matrices)`` and keep the first k columns.
    """
    jnp = _import_jax().numpy
    count = len(stack)
    padded = 1 << (count - 1).bit_length()
    if padded > count:
        stack = np.concatenate([stack, np.repeat(stack[:1], padded - count, axis=0)])
    constants = {
        name: jnp.asarray(value.astype(stack.dtype))
        for name, value in loss.constants(min(stack.shape[-2:])).items()
    }
    function = _gradient_function(loss.expression, loss.needs_vectors, full_matrices)
    (_, s), gradient = function(jnp.asarray(stack), constants)
    return np.asarray(s)[:count], np.asarray(gradient)[:count]
