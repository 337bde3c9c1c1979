"""Each framework's forward mode and second order (issue 25): the same loss text, other derivatives.

A path is one way a user of the framework asks for the derivative, named as they would name it:

- ``jvp``: the directional derivative dL(A)[E], a number per matrix and direction;
- ``hvp``: H(A)[E] = d/dt grad L(A + tE), forward-over-reverse (a JVP of the gradient) or
  reverse-over-reverse (the gradient of <grad L, E>, double backward) where the framework has both.

Paths (framework versions of docs/theory.md §6; which exist is measured, not assumed):

- JAX: ``jax.jvp``; ``jax.jvp(jax.grad)`` and ``jax.grad(<jax.grad, E>)``.
- torch: ``torch.func.jvp`` (forward AD); ``torch.func.jvp(torch.func.grad)`` and double backward
  (``torch.autograd.grad(create_graph=True)`` twice).
- TensorFlow: ``tf.autodiff.ForwardAccumulator``; a ForwardAccumulator around a GradientTape and two
  nested GradientTapes.
- autograd: ``make_jvp`` (its forward mode: svd has no JVP rule, so unsupported) and
  ``make_jvp_reversemode`` (a VJP transposed by a second reverse pass); ``make_hvp``
  (reverse-over-reverse) and ``make_jvp`` of ``grad`` (forward-over-reverse: unsupported likewise).

A path that raises NotImplementedError, or whose framework has no rule for the SVD, is ``unsupported``
(protocol.BackendFailure with unsupported=True), never ``failed``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

import numpy as np

from svdgrad_cli.backends.framework import objective_for
from svdgrad_cli.backends.protocol import BackendFailure, described
from svdgrad_cli.numerics.losses import constant_dtype

FORWARD_OVER_REVERSE = "forward-over-reverse"
REVERSE_OVER_REVERSE = "reverse-over-reverse"
# What a framework says when it has no rule for this mode (read as ``unsupported``).
NO_RULE = ("not implemented", "not defined", "notimplemented", "no forward ad", "does not have a jvp")


def _scalar(module, loss, dtype, k: int) -> Callable:
    """x -> L(x) for one matrix in the framework, the loss's own text (framework.py)."""
    const = module.framework_ops().const
    constants = {
        name: const(value.astype(constant_dtype(value, dtype))) for name, value in loss.constants(k).items()
    }
    objective = objective_for(module, module.thin_factors, loss.expression, loss.needs_vectors, False)
    return lambda x: objective(x, constants)[0]


def _jax_paths(module, loss, dtype, k):
    jax = module.framework()
    jnp = jax.numpy
    f = _scalar(module, loss, dtype, k)
    grad = jax.grad(f)
    return {
        "jvp": {"jax.jvp": lambda x, e: jax.jvp(f, (jnp.asarray(x),), (jnp.asarray(e),))[1]},
        "hvp": {
            FORWARD_OVER_REVERSE: lambda x, e: jax.jvp(grad, (jnp.asarray(x),), (jnp.asarray(e),))[1],
            REVERSE_OVER_REVERSE: lambda x, e: jax.grad(lambda y: jnp.vdot(grad(y), jnp.asarray(e)))(
                jnp.asarray(x)
            ),
        },
    }


def _torch_paths(module, loss, dtype, k):
    torch = module.framework()
    f = _scalar(module, loss, dtype, k)

    def double_backward(x, e):
        y = torch.from_numpy(np.array(x)).requires_grad_(True)
        (g,) = torch.autograd.grad(f(y), y, create_graph=True)
        (h,) = torch.autograd.grad(torch.sum(g * torch.from_numpy(np.array(e))), y)
        return h

    def tensors(x, e):
        return torch.from_numpy(np.array(x)), torch.from_numpy(np.array(e))

    return {
        "jvp": {"torch.func.jvp": lambda x, e: torch.func.jvp(f, tensors(x, e)[:1], tensors(x, e)[1:])[1]},
        "hvp": {
            FORWARD_OVER_REVERSE: lambda x, e: torch.func.jvp(
                torch.func.grad(f), tensors(x, e)[:1], tensors(x, e)[1:]
            )[1],
            REVERSE_OVER_REVERSE: double_backward,
        },
    }


def _tensorflow_paths(module, loss, dtype, k):
    tf = module.framework()
    f = _scalar(module, loss, dtype, k)

    def forward(x, e):
        x = tf.constant(x)
        with tf.autodiff.ForwardAccumulator(x, tf.constant(e)) as acc:
            y = f(x)
        return acc.jvp(y)

    def forward_over_reverse(x, e):
        x = tf.constant(x)
        with tf.autodiff.ForwardAccumulator(x, tf.constant(e)) as acc:
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = f(x)
            g = tape.gradient(y, x)
        return acc.jvp(g)

    def reverse_over_reverse(x, e):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            g = inner.gradient(y, x)
            z = tf.reduce_sum(g * tf.constant(e))
        return outer.gradient(z, x)

    return {
        "jvp": {"ForwardAccumulator": forward},
        "hvp": {FORWARD_OVER_REVERSE: forward_over_reverse, REVERSE_OVER_REVERSE: reverse_over_reverse},
    }


def _autograd_paths(module, loss, dtype, k):
    from autograd import grad
    from autograd.differential_operators import make_hvp, make_jvp, make_jvp_reversemode

    f = _scalar(module, loss, dtype, k)
    return {
        "jvp": {
            "make_jvp": lambda x, e: make_jvp(f)(x)(e)[1],
            "make_jvp_reversemode": lambda x, e: make_jvp_reversemode(f)(x)(e),
        },
        "hvp": {
            FORWARD_OVER_REVERSE: lambda x, e: make_jvp(grad(f))(x)(e)[1],
            REVERSE_OVER_REVERSE: lambda x, e: make_hvp(f)(x)[0](e),
        },
    }


PATHS = {
    "jax": _jax_paths,
    "torch": _torch_paths,
    "tensorflow": _tensorflow_paths,
    "autograd": _autograd_paths,
}


def mode_paths(backend, loss, mode: str, dtype, k: int) -> dict[str, Callable]:
    """Path name -> fn(x, e) for one built-in backend, loss and mode; {} where svdgrad knows no path
    of that backend (a plug-in: unsupported)."""
    build = PATHS.get(backend.name)
    if build is None or not hasattr(backend, "module_path"):
        return {}
    module = importlib.import_module(backend.module_path)
    if hasattr(module, "prepare"):
        module.prepare()
    return build(module, loss, np.dtype(dtype), k)[mode]


def run_path(path: Callable, x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """One path's answer as a NumPy array, or BackendFailure (unsupported where there is no rule)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():  # a NaN is reported, not warned about
            warnings.simplefilter("ignore")
            return np.asarray(path(x, e.astype(x.dtype)), dtype=np.float64)
    except NotImplementedError as exc:
        raise BackendFailure(described(exc), unsupported=True) from None
    except Exception as exc:
        text = described(exc)
        raise BackendFailure(text, unsupported=any(m in text.lower() for m in NO_RULE)) from None
