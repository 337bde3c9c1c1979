"""The JAX backend: jnp.linalg.svd under jax.value_and_grad, jitted, with jax_enable_x64 for float64.

JAX compiles a program for every new input shape whether or not it is jitted (op by op, eagerly), and
that costs about a quarter of a second. Jitting the whole loss and padding each stack to a power-of-two
length (with copies of its first matrix, whose gradients are discarded; every matrix's gradient is
independent of the others) keeps the number of compilations to about one per matrix shape.
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace

import numpy as np

# A real loss of complex input: whether the framework's gradient is the conjugate of svdgrad's
# steepest-ascent convention (numerics/field.py), and why (docs/theory.md §9).
CONJUGATES_COMPLEX_GRADIENT = True
COMPLEX_GRADIENT = "jax.grad gives dL/dRe A - i dL/dIm A for a real loss (JAX FAQ, complex differentiation)"
SCRIPT_FUNCTIONS = ("framework", "framework_ops", "thin_factors", "jitted", "differentiate")
# How a reproducer script (repro.py) writes the loss in JAX's own calls: the line that binds
# the framework's name, and each op of the ops namespace of losses.py as a template (X, Y: the operands;
# AXES: the axes keyword, dropped where the loss gives none). Pure data: the functions below are the
# ones svdgrad runs.
SCRIPT_FRAMEWORK = "jnp = framework().numpy"
SCRIPT_OPS = {
    "const": "jnp.asarray(X)",
    "matmul": "jnp.matmul(X, Y)",
    "t": "jnp.swapaxes(X, -1, -2)",
    "sum": "jnp.sum(X, axis=AXES)",
    "sqrt": "jnp.sqrt(X)",
    "real": "jnp.real(X)",
    "imag": "jnp.imag(X)",
    "conj": "jnp.conj(X)",
    "cplx": "X + 0j",
}


def framework():
    """JAX on the CPU with float64 enabled (else float64 input is silently computed in float32).

    JAX and TensorFlow share XLA's C++ logging, configured once by whichever loads first: quiet it
    here too, or TensorFlow's CUDA probe prints to stderr when JAX came first.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


@functools.cache
def prepare() -> None:
    """Before svdgrad's first JAX call (not a reproducer's): JAX's persistent compilation cache in
    svdgrad's cache directory (runtime.py), for every compilation however short (JAX's default keeps
    only those over a second), so that a shape compiled in an earlier run is loaded, not compiled."""
    from svdgrad_cli.backends.runtime import cache_directory

    jax = framework()
    directory = cache_directory()
    if directory is None:
        return
    jax.config.update("jax_compilation_cache_dir", str(directory / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def framework_ops():
    jnp = framework().numpy
    return SimpleNamespace(
        const=jnp.asarray,
        matmul=jnp.matmul,
        t=lambda x: jnp.swapaxes(x, -1, -2),
        sum=lambda x, axes=None: jnp.sum(x, axis=axes),
        sqrt=jnp.sqrt,
        real=jnp.real,
        imag=jnp.imag,
        conj=jnp.conj,
        cplx=lambda x: x + 0j,
    )


def thin_factors(a, needs_vectors, full_matrices):
    """jnp.linalg.svd(a, compute_uv=False) for losses of s; else U, s, V with the first k columns."""
    jnp = framework().numpy
    if not needs_vectors:
        return None, jnp.linalg.svd(a, compute_uv=False), None
    u, s, vh = jnp.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, jnp.conj(jnp.swapaxes(vh, -1, -2))[..., :, :k]


@functools.lru_cache(maxsize=64)
def jitted(objective):
    """jit(value_and_grad) of an objective, compiled once per input shape and reused."""
    jax = framework()
    return jax.jit(jax.value_and_grad(objective, has_aux=True))


def differentiate(stack, objective, constants):
    count = len(stack)
    padded = 1 << (count - 1).bit_length()
    if padded > count:
        stack = np.concatenate([stack, np.repeat(stack[:1], padded - count, axis=0)])
    (_, factors), gradient = jitted(objective)(framework().numpy.asarray(stack), constants)
    s, u, v = (None if f is None else np.asarray(f)[:count] for f in factors)
    return s, np.asarray(gradient)[:count], u, v
