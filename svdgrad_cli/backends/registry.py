"""Backend registry: each framework's module is imported only when that backend is first used.

A backend is anything with ``compute(stack, loss, full_matrices) -> (singular_values, gradients)`` for a stack
of shape (b, m, n), and ``version() -> str``. Built-in backends are listed by module path (as pip's
``commands_dict`` does) and probed with ``importlib.util.find_spec``, which imports nothing; tests and
users can add their own with ``register_backend``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.errors import BackendUnavailable, UsageError


@dataclass(frozen=True)
class BuiltinBackend:
    """Where a built-in backend lives and what it needs."""

    module: str  # svdgrad module implementing compute() and version()
    requires: str  # import name of the framework, probed without importing it
    distribution: str  # the framework's PyPI name, for versions and install hints


BUILTIN: dict[str, BuiltinBackend] = {
    "autograd": BuiltinBackend("svdgrad_cli.backends.autograd_backend", "autograd", "autograd"),
    "tensorflow": BuiltinBackend("svdgrad_cli.backends.tensorflow_backend", "tensorflow", "tensorflow"),
    "torch": BuiltinBackend("svdgrad_cli.backends.torch_backend", "torch", "torch"),
    "jax": BuiltinBackend("svdgrad_cli.backends.jax_backend", "jax", "jax"),
}
# What to install for each optional backend; torch is pinned to the CPU wheel this project tests with
# (the extras svdgrad[torch] and svdgrad[jax] of a checkout install the same).
INSTALL = {"torch": "pip install torch==2.13.0", "jax": "pip install jax"}


@dataclass(frozen=True)
class CustomBackend:
    """A backend registered from Python: a compute function and a version string.

    The function takes (stack, loss) and decides its own SVD call, so --full-matrices does not reach it.
    """

    function: Callable[[np.ndarray, object], tuple[np.ndarray, np.ndarray]]
    version_text: str = "custom"

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False):
        return self.function(stack, loss)

    def version(self) -> str:
        return self.version_text


_custom: dict[str, CustomBackend] = {}
_loaded: dict[str, object] = {}


def register_backend(name: str, compute: Callable, version: str = "custom") -> None:
    """Add (or replace) a backend under ``name``; ``compute(stack, loss)`` as described above."""
    _custom[name] = CustomBackend(compute, version)


def unregister_backend(name: str) -> None:
    _custom.pop(name, None)


def backend_names() -> list[str]:
    return [*BUILTIN, *(n for n in _custom if n not in BUILTIN)]


def is_available(name: str) -> bool:
    if name in _custom:
        return True
    spec = BUILTIN.get(name)
    return spec is not None and importlib.util.find_spec(spec.requires) is not None


def installed_version(name: str) -> str | None:
    """The framework's version from its package metadata, without importing it."""
    if name in _custom:
        return _custom[name].version()
    try:
        return importlib.metadata.version(BUILTIN[name].distribution)
    except (KeyError, importlib.metadata.PackageNotFoundError):
        return None


def install_hint(name: str) -> str:
    spec = BUILTIN.get(name)
    if spec is None:
        return "register it with register_backend()"
    return INSTALL.get(name, f"pip install {spec.distribution}")


def default_backends() -> list[str]:
    """Every backend that can run here, in registry order."""
    return [name for name in backend_names() if is_available(name)]


def resolve_backends(names: list[str] | tuple[str, ...] | None) -> list[str]:
    """Check requested names (None: every available one) and return them in the order given."""
    if not names:
        found = default_backends()
        if not found:
            raise BackendUnavailable("no backend is installed; try: pip install autograd")
        return found
    resolved = []
    for name in names:
        if name not in BUILTIN and name not in _custom:
            raise UsageError(f"unknown backend {name!r}; known: {', '.join(backend_names())}")
        if not is_available(name):
            raise BackendUnavailable(
                f"backend {name!r} is not installed; install it with: {install_hint(name)}"
            )
        if name not in resolved:
            resolved.append(name)
    return resolved


def load_backend(name: str):
    """The object whose compute() runs ``name``; imports the framework on first use."""
    if name in _custom:
        return _custom[name]
    if name not in _loaded:
        _loaded[name] = importlib.import_module(BUILTIN[name].module)
    return _loaded[name]
