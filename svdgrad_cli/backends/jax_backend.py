"""The JAX backend: jnp.linalg.svd under jax.value_and_grad, with jax_enable_x64 for float64."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

_jax = None


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


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack.

    Losses of s use ``jnp.linalg.svd(a, compute_uv=False)``; losses of U and V use
    ``jnp.linalg.svd(a, full_matrices=full_matrices)`` and keep the first k columns.
    """
    jax = _import_jax()
    jnp = jax.numpy
    ops = SimpleNamespace(
        const=jnp.asarray,
        matmul=jnp.matmul,
        t=lambda x: jnp.swapaxes(x, -1, -2),
        sum=lambda x, axes=None: jnp.sum(x, axis=axes),
        sqrt=jnp.sqrt,
    )

    def objective(a):
        if loss.needs_vectors:
            u, s, vh = jnp.linalg.svd(a, full_matrices=full_matrices)
            k = s.shape[-1]
            u, v = u[..., :, :k], jnp.swapaxes(vh, -1, -2)[..., :, :k]
        else:
            s = jnp.linalg.svd(a, compute_uv=False)
            u = v = None
        return loss.evaluate(ops, u, s, v), s

    (_, s), gradient = jax.value_and_grad(objective, has_aux=True)(jnp.asarray(stack))
    return np.asarray(s), np.asarray(gradient)
