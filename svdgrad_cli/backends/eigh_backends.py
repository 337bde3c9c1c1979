"""Backends of ``--decomposition eigh`` (issue 27): each framework's ``eigh`` differentiated as a user
writes the loss (eigh_losses.py), in this process, and plug-ins.

The built-ins call ``torch.linalg.eigh``, ``jax.numpy.linalg.eigh``, ``tf.linalg.eigh`` and
``autograd.numpy.linalg.eigh`` (``eigvalsh`` for losses of the eigenvalues alone, as users do) and are
differentiated by the framework module's own ``differentiate`` (framework.py's contract). Which part of
A each reads: torch (``UPLO='L'``), TensorFlow and autograd (numpy's ``UPLO='L'``) the lower triangle;
JAX symmetrizes its input, (A + A^T)/2 (``symmetrize_input=True``). svdgrad therefore gives them
symmetric matrices only (eigh_check.py) and judges the symmetric part of each gradient.

Plug-ins: ``FRAMEWORK:MODULE:FUNCTION`` (plugins.py's spec) names a function called where the
built-in calls its framework's ``eigh``: it takes a stack (..., n, n) and returns ``(w, Q)`` as
that framework's eigh does, with its own backward pass (a ``torch.autograd.Function``, a
``jax.custom_vjp``, ...); ``python:MODULE:FUNCTION`` is ``function(stack, loss) -> (eigenvalues,
gradients[, eigenvectors])`` on NumPy arrays. examples/backends/eigh_broadened.py is one. A plug-in
runs in a worker process of its own (contained.py), so that its exit, crash or hang is its failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

import numpy as np

from svdgrad_cli.backends import isolation
from svdgrad_cli.backends.contained import EighWorker, eigh_worker
from svdgrad_cli.backends.framework import BUILTIN
from svdgrad_cli.backends.plugins import FRAMEWORKS, import_function, parse_spec
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.eigh_losses import EighLoss
from svdgrad_cli.numerics.losses import constant_dtype, evaluate_expression

EIGH_BACKENDS = ("autograd", "tensorflow", "torch", "jax")


def _calls(name: str, fw) -> tuple:
    """(eigh, eigvalsh or None, log, exp) of a framework, as its users call them."""
    if name == "torch":
        return fw.linalg.eigh, fw.linalg.eigvalsh, fw.log, fw.exp
    if name == "jax":
        jnp = fw.numpy
        return jnp.linalg.eigh, jnp.linalg.eigvalsh, jnp.log, jnp.exp
    if name == "tensorflow":
        return fw.linalg.eigh, fw.linalg.eigvalsh, fw.math.log, fw.math.exp
    import autograd.numpy as anp

    return anp.linalg.eigh, None, anp.log, anp.exp


@functools.lru_cache(maxsize=64)
def objective_for(name: str, module: ModuleType, eigh, expression: str, needs_vectors: bool, plugin: bool):
    """The objective of one loss in one framework (cached: JAX's jit sees the same function)."""
    own_eigh, eigvalsh, log, exp = _calls(name, module.framework())
    ops = SimpleNamespace(**vars(module.framework_ops()), log=log, exp=exp)

    def objective(x, constants):
        if needs_vectors or plugin or eigvalsh is None:
            w, q = eigh(x) if plugin else own_eigh(x)
        else:
            w, q = eigvalsh(x), None
        if name == "tensorflow" and w.dtype.is_complex:  # TF's eigh of a Hermitian A: complex w
            w = ops.real(w)
        scope = {**constants, "w": w, "q": q}
        return evaluate_expression(expression, ops, None, None, None, scope), (w, q, None)

    return objective


@dataclass(frozen=True)
class EighBackend:
    """A framework's eigh (``eigh`` None) or a plug-in's in its place, differentiated by the framework."""

    name: str
    framework: str
    eigh: object = None

    @property
    def module(self) -> ModuleType:
        return BUILTIN[self.framework].module

    def compute(self, stack: np.ndarray, loss: EighLoss) -> tuple:
        """(eigenvalues (b, n), gradients (b, n, n), eigenvectors (b, n, n) or None where the call
        computed none) of ``loss`` over a stack."""
        module = self.module
        const = module.framework_ops().const
        constants = {
            key: const(value.astype(constant_dtype(value, stack.dtype)))
            for key, value in loss.constants().items()
        }
        plugin = self.eigh is not None
        objective = objective_for(
            self.framework, module, self.eigh, loss.expression, loss.needs_vectors, plugin
        )
        values, gradients, vectors, _ = module.differentiate(stack, objective, constants)
        if np.iscomplexobj(stack) and module.CONJUGATES_COMPLEX_GRADIENT:  # to field.py's convention
            gradients = np.conj(gradients)
        return np.asarray(values), np.asarray(gradients), vectors


@dataclass(frozen=True)
class EighFunctionBackend:
    """A ``python:`` plug-in: ``function(stack, loss) -> (eigenvalues, gradients)``."""

    name: str
    function: Callable[..., tuple]

    def compute(self, stack: np.ndarray, loss: EighLoss) -> tuple:
        """(eigenvalues, gradients, eigenvectors or None): a function may return the third."""
        out = self.function(stack, loss)
        vectors = np.asarray(out[2]) if len(out) > 2 and out[2] is not None else None
        return np.asarray(out[0]), np.asarray(out[1]), vectors


def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(BUILTIN[name].requires) is not None


def plugin_backend(text: str) -> EighBackend | EighFunctionBackend:
    """The plug-in of spec ``text`` in this process (contained_host.py: its worker's)."""
    spec = parse_spec(text)
    if spec is None:
        raise UsageError(f"backend {text!r}: not a spec FRAMEWORK:MODULE:FUNCTION")
    function = import_function(spec)
    if spec.contract == "python":
        return EighFunctionBackend(spec.name, function)
    assert spec.contract in FRAMEWORKS
    return EighBackend(spec.name, spec.contract, function)


def eigh_backend(text: str, timeout: float | None = None) -> EighBackend | EighWorker:
    """The backend a ``--backend`` value names under ``--decomposition eigh`` (a plug-in in its
    worker process, its calls given up after ``timeout`` seconds); UsageError otherwise."""
    if parse_spec(text) is not None:
        return eigh_worker(text, timeout)
    if text not in EIGH_BACKENDS:
        raise UsageError(f"backend {text!r} has no eigh; built-ins: {', '.join(EIGH_BACKENDS)}")
    if not installed(text):
        raise UsageError(f"backend {text!r} is not installed")
    return EighBackend(text, text)


def eigh_backends(names: tuple[str, ...], timeout: float | None = None) -> list[EighBackend | EighWorker]:
    """The named backends, or every installed built-in where none is named (the start of a run: the
    plug-in workers' restarts are counted anew, and of the earlier runs' idle workers a few stay)."""
    isolation.end_run()
    if names:
        return [eigh_backend(text, timeout) for text in names]
    found: list[EighBackend | EighWorker] = [
        EighBackend(name, name) for name in EIGH_BACKENDS if installed(name)
    ]
    if not found:
        raise UsageError("no framework with an eigh is installed; try: pip install autograd")
    return found
