"""What every framework backend shares: one objective built from the loss's expression.

A framework module provides, written so that a reproducer script can carry their source verbatim
(repro.py; the module's SCRIPT_FUNCTIONS lists them and any helper they call):
``framework()`` imports the framework, ``framework_ops()`` is the ops namespace of losses.py,
``thin_factors(a, needs_vectors, full_matrices)`` is the SVD call a user of the framework makes, and
``differentiate(stack, objective, constants)`` returns NumPy (singular values, gradient, U, V) of
``objective(x, constants) -> (loss value, (s, U, V))``, U and V being None where not computed.
``CONJUGATES_COMPLEX_GRADIENT`` and ``COMPLEX_GRADIENT`` say how it returns the gradient of a real
loss of complex input; compute_with maps it to svdgrad's convention and records the mapping.
``GAUGE_ERRORS`` (optional): texts of the framework's errors that mean "this loss depends on the SVD's
gauge", raised as GaugeDependence (the loss is undefined there, which the framework noticed).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from svdgrad_cli.backends.protocol import BUILT_IN, DEFAULT_TARGETS, BackendOutput, GaugeDependence
from svdgrad_cli.numerics.differentiated import Target
from svdgrad_cli.numerics.field import AS_RETURNED, CONJUGATED, is_complex
from svdgrad_cli.numerics.losses import constant_dtype, evaluate_expression, parse_loss
from svdgrad_cli.numerics.truncated import missing_triplets


@functools.lru_cache(maxsize=64)
def objective_for(module: ModuleType, factors, expression: str, needs_vectors: bool, full_matrices: bool):
    """The objective of one loss in one framework, with ``factors`` as its SVD call (the module's
    ``thin_factors``, or a plug-in's); cached so that JAX's jit sees the same function."""
    ops = module.framework_ops()

    def objective(x, constants):
        u, s, v = factors(x, needs_vectors, full_matrices)
        return evaluate_expression(expression, ops, u, s, v, constants), (s, u, v)

    return objective


@functools.lru_cache(maxsize=64)
def counted(factors, needed: int, name: str, full: int):
    """``factors`` refusing (NotImplementedError: ``unsupported``) to feed a loss that needs more
    leading triplets than it returns: a truncated SVD judged on a loss it cannot evaluate."""

    def guarded(x, needs_vectors, full_matrices):
        u, s, v = factors(x, needs_vectors, full_matrices)
        if s.shape[-1] < needed:
            loss = parse_loss(name)
            raise NotImplementedError(missing_triplets(loss, (full, full), int(s.shape[-1])))
        return u, s, v

    return guarded


def compute_with(
    module: ModuleType, stack: np.ndarray, loss, full_matrices: bool, factors=None
) -> BackendOutput:
    """Singular values, gradients and factors of ``loss`` over a (b, m, n) stack with one module,
    its SVD call replaced by ``factors(x, needs_vectors, full_matrices)`` where given (plugins.py)."""
    const = module.framework_ops().const
    k = min(stack.shape[-2:])
    constants = {
        name: const(value.astype(constant_dtype(value, stack.dtype)))
        for name, value in loss.constants(k).items()
    }
    svd = factors or module.thin_factors
    if factors is not None:  # a plug-in may return fewer triplets than the loss needs (truncated.py)
        svd = counted(factors, loss.triplets(stack.shape[-2:]), loss.name, min(stack.shape[-2:]))
    objective = objective_for(module, svd, loss.expression, loss.needs_vectors, full_matrices)
    try:
        values, gradients, u, v = module.differentiate(stack, objective, constants)
    except Exception as exc:
        if any(marker in str(exc) for marker in getattr(module, "GAUGE_ERRORS", ())):
            raise GaugeDependence(str(exc).strip().splitlines()[0]) from None
        raise
    if not is_complex(stack):
        return BackendOutput(values, gradients, u, v)
    conjugated = module.CONJUGATES_COMPLEX_GRADIENT
    convention = f"{CONJUGATED if conjugated else AS_RETURNED}: {module.COMPLEX_GRADIENT}"
    return BackendOutput(values, np.conj(gradients) if conjugated else gradients, u, v, convention)


@dataclass(frozen=True)
class FrameworkBackend:
    """A built-in backend: a framework module of this package, imported on first use."""

    name: str
    module_path: str  # svdgrad module with framework(), framework_ops(), thin_factors(), differentiate()
    requires: str  # import name of the framework, probed without importing it
    distribution: str  # the framework's PyPI name, for versions and install hints
    origin: str = BUILT_IN
    gives_factors: bool = True
    targets: frozenset[Target] = DEFAULT_TARGETS  # what compute() differentiates (protocol.py)
    # packages the framework imports at start-up, each where their ImportError is caught, that take
    # no part in its SVD or gradients: a worker process hosting this backend alone refuses them
    unused_imports: tuple[str, ...] = ()

    @property
    def module(self) -> ModuleType:
        """The framework module, prepared for svdgrad's calls (its optional ``prepare()``)."""
        module = importlib.import_module(self.module_path)
        if hasattr(module, "prepare"):
            module.prepare()
        return module

    def version(self) -> str | None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return None

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput:
        return compute_with(self.module, stack, loss, full_matrices)


# The built-in backends, by name (registry.py lists them; plug-ins name one as their contract).
BUILTIN: dict[str, FrameworkBackend] = {
    backend.name: backend
    for backend in (
        FrameworkBackend("autograd", "svdgrad_cli.backends.autograd_backend", "autograd", "autograd"),
        # tf.lite's JAX converter (``from jax import jit``) and Keras 3's optimizers, which TensorFlow
        # loads eagerly for SavedModel: a quarter of its start-up's CPU time (hosted.py)
        FrameworkBackend(
            "tensorflow",
            "svdgrad_cli.backends.tensorflow_backend",
            "tensorflow",
            "tensorflow",
            unused_imports=("jax", "keras"),
        ),
        FrameworkBackend("torch", "svdgrad_cli.backends.torch_backend", "torch", "torch"),
        FrameworkBackend("jax", "svdgrad_cli.backends.jax_backend", "jax", "jax"),
    )
}
