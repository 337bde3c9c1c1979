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

A framework spec (plugins.py: ``jax:``, ``torch:``, ``tensorflow:``, ``autograd:``) gets its framework's
paths with the user's SVD function in place of the framework's: a ``jax.custom_jvp`` rule is what
jax.jvp calls and JAX differentiates again for the HVP; a ``torch.autograd.Function`` with a ``jvp``
staticmethod serves torch's forward mode, and its backward pass, if differentiable, double backward
(examples/backends/jax_jvp.py, torch_wrong_hvp.py). These transforms of the user's function are
built and run in a worker process of the plug-in's own (contained.py), so that its exit, crash or
hang is its failure, never the run's. A ``python:`` plug-in or a
``register_backend`` function gives gradients only: it has no path of either mode.

A path that raises NotImplementedError, or whose framework has no rule for the SVD, is ``unsupported``
(protocol.BackendFailure with unsupported=True), never ``failed``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

import numpy as np

from svdgrad_cli.backends.contained import mode_worker
from svdgrad_cli.backends.framework import BUILTIN, objective_for
from svdgrad_cli.backends.protocol import BackendFailure, described
from svdgrad_cli.numerics.losses import constant_dtype

FORWARD_OVER_REVERSE = "forward-over-reverse"
REVERSE_OVER_REVERSE = "reverse-over-reverse"
# What a framework says when it has no rule for this mode (read as ``unsupported``).
NO_RULE = (
    "not implemented",
    "not defined",
    "notimplemented",
    "no forward ad",
    "does not have a jvp",
    "must override the setup_context",  # a torch.autograd.Function of the old style under torch.func
    "can't apply forward-mode autodiff",  # a jax.custom_vjp function under jax.jvp
)


def _scalar(module, loss, dtype, k: int, factors=None) -> Callable:
    """x -> L(x) for one matrix in the framework, the loss's own text (framework.py), with
    ``factors`` as its SVD call where given (a plug-in's), else the framework's."""
    const = module.framework_ops().const
    constants = {
        name: const(value.astype(constant_dtype(value, dtype))) for name, value in loss.constants(k).items()
    }
    svd = factors or module.thin_factors
    objective = objective_for(module, svd, loss.expression, loss.needs_vectors, False)
    return lambda x: objective(x, constants)[0]


def _jax_paths(module, loss, dtype, k, factors=None):
    jax = module.framework()
    jnp = jax.numpy
    f = _scalar(module, loss, dtype, k, factors)
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


def _torch_paths(module, loss, dtype, k, factors=None):
    torch = module.framework()
    f = _scalar(module, loss, dtype, k, factors)

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


def _tensorflow_paths(module, loss, dtype, k, factors=None):
    tf = module.framework()
    f = _scalar(module, loss, dtype, k, factors)

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


def _autograd_paths(module, loss, dtype, k, factors=None):
    from autograd import grad
    from autograd.differential_operators import make_hvp, make_jvp, make_jvp_reversemode

    f = _scalar(module, loss, dtype, k, factors)
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


def mode_paths(backend, loss, mode: str, dtype, k: int, timeout: float | None = None) -> dict[str, Callable]:
    """Path name -> fn(x, e) for one backend, loss and mode: a built-in's, or a framework spec's
    (its SVD call in that framework's paths, built and run in its worker process, each call given
    up after ``timeout`` seconds: contained.py); BackendFailure (unsupported, one line) for a
    backend with no path of this mode."""
    spec = getattr(backend, "spec", None)
    if hasattr(backend, "module_path") and backend.name in PATHS:
        return framework_paths(backend.name, loss, mode, dtype, k)
    if spec is not None and spec.contract in PATHS:
        return mode_worker(spec.text, timeout).paths(loss, mode, dtype, k)
    kind = "a python: plug-in" if spec is not None else "this backend"
    raise BackendFailure(f"{kind} gives gradients only: no {mode} path", unsupported=True)


def framework_paths(contract: str, loss, mode: str, dtype, k: int, factors=None) -> dict[str, Callable]:
    """The paths of ``mode`` in framework ``contract``, with ``factors`` as the SVD (a plug-in's, in
    its worker: contained_host.py) or the framework's own."""
    module = _prepared(BUILTIN[contract].module_path)
    return PATHS[contract](module, loss, np.dtype(dtype), k, factors)[mode]


def _prepared(module_path: str):
    module = importlib.import_module(module_path)
    if hasattr(module, "prepare"):
        module.prepare()
    return module


def run_path(path: Callable, x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """One path's answer as a NumPy array, or BackendFailure (unsupported where there is no rule)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():  # a NaN is reported, not warned about
            warnings.simplefilter("ignore")
            return np.asarray(path(x, e.astype(x.dtype)), dtype=np.float64)
    except NotImplementedError as exc:
        raise BackendFailure(described(exc), unsupported=True) from None
    except BackendFailure:  # a plug-in's worker that did not answer (contained.py): its reason
        raise
    except Exception as exc:
        text = described(exc)
        raise BackendFailure(text, unsupported=any(m in text.lower() for m in NO_RULE)) from None
