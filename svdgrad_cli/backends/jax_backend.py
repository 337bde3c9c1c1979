"""The JAX backend: jnp.linalg.svd under jax.value_and_grad, jitted, with jax_enable_x64 for float64.

JAX compiles a program for every new input shape whether or not it is jitted (op by op, eagerly), and
that costs about a quarter of a second. Jitting the whole loss and padding each stack to a power-of-two
length (with copies of its first matrix, whose gradients are discarded; every matrix's gradient is
independent of the others) keeps the number of compilations to about one per matrix shape.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from svdgrad_cli.numerics.losses import evaluate_expression

SCRIPT_IMPORT = (
    'def framework():\n    import jax\n\n    jax.config.update("jax_enable_x64", True)\n    return jax\n'
)
_jax = None
_compiled: dict[tuple, object] = {}


def framework():
    """JAX on the CPU with float64 enabled (else float64 input is silently computed in float32)."""
    global _jax
    if _jax is None:
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        _jax = jax
    return _jax


def version() -> str:
    return framework().__version__


def framework_ops():
    jnp = framework().numpy
    return SimpleNamespace(
        const=jnp.asarray,
        matmul=jnp.matmul,
        t=lambda x: jnp.swapaxes(x, -1, -2),
        sum=lambda x, axes=None: jnp.sum(x, axis=axes),
        sqrt=jnp.sqrt,
    )


def thin_factors(a, needs_vectors, full_matrices):
    """jnp.linalg.svd(a, compute_uv=False) for losses of s; else U, s, V with the first k columns."""
    jnp = framework().numpy
    if not needs_vectors:
        return None, jnp.linalg.svd(a, compute_uv=False), None
    u, s, vh = jnp.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, jnp.swapaxes(vh, -1, -2)[..., :, :k]


def differentiate(stack, objective):
    jax = framework()
    (_, s), gradient = jax.value_and_grad(objective, has_aux=True)(jax.numpy.asarray(stack))
    return np.asarray(s), np.asarray(gradient)


def _gradient_function(expression: str, needs_vectors: bool, full_matrices: bool):
    """jit(value_and_grad) of the loss over a stack, with the loss constants as arguments."""
    key = (expression, needs_vectors, full_matrices)
    if key not in _compiled:
        jax = framework()
        ops = framework_ops()

        def objective(a, constants):
            u, s, v = thin_factors(a, needs_vectors, full_matrices)
            return evaluate_expression(expression, ops, u, s, v, constants), s

        _compiled[key] = jax.jit(jax.value_and_grad(objective, has_aux=True))
    return _compiled[key]


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack (jitted, padded)."""
    jnp = framework().numpy
    count = len(stack)
    padded = 1 << (count - 1).bit_length()
    if padded > count:
        stack = np.concatenate([stack, np.repeat(stack[:1], padded - count, axis=0)])
    k = min(stack.shape[-2:])
    constants = {name: jnp.asarray(value.astype(stack.dtype)) for name, value in loss.constants(k).items()}
    function = _gradient_function(loss.expression, loss.needs_vectors, full_matrices)
    (_, s), gradient = function(jnp.asarray(stack), constants)
    return np.asarray(s)[:count], np.asarray(gradient)[:count]
