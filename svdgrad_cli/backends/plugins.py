"""Backends from a spec or an entry point: a user's own SVD and backward pass, judged like the built-ins.

A spec ``[NAME=]FRAMEWORK:MODULE:FUNCTION[:LAYOUT]`` names a function of the user's:

- ``torch:`` / ``jax:`` / ``autograd:``: called where that built-in backend calls its framework's
  ``svd`` (torch.linalg.svd, jnp.linalg.svd, numpy's svd under autograd), and differentiated by the
  framework exactly as the built-in is: a ``torch.autograd.Function``, a ``jax.custom_vjp`` function or
  an ``autograd`` primitive with ``defvjp`` brings its own backward pass along. It takes a stack
  (..., m, n) and returns ``(U, S, Vh)`` as that framework's svd does.
- ``tensorflow:``: the same where ``tf.linalg.svd`` is called (a ``tf.custom_gradient`` function);
  it returns ``(S, U, V)`` as tf.linalg.svd does.
- ``python:``: the ``register_backend`` contract, ``function(stack, loss) -> (singular values,
  gradients)`` on NumPy arrays, with whatever differentiation the function does itself.

Obvious variants are adapted: the singular values may come in any position (they are the output with
one dimension less); a function accepting ``compute_uv`` is called with ``compute_uv=False`` for losses
of the singular values and may then return S alone; one accepting ``full_matrices`` gets it. Whether
the last factor is V or V^T is read from its shape where the matrix is not square, and is the
framework's convention otherwise; ``:v`` or ``:vh`` at the end of the spec declares it.

Modules resolve from the current directory and ``PYTHONPATH``, as ``python -m`` does. Packages may
register named backends under the entry-point group ``svdgrad.backends``; an entry point may load a
spec string, a function of the ``python:`` contract, or an object of the backend protocol. The
backends built here run in a plug-in's worker process (host.py); svdgrad's own process holds a
WorkerBackend (isolation.py) in their place.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import sys
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.backends.framework import BUILTIN, FrameworkBackend, compute_with
from svdgrad_cli.backends.function import FunctionBackend
from svdgrad_cli.backends.protocol import BackendOutput
from svdgrad_cli.errors import UsageError

FRAMEWORKS = ("torch", "jax", "tensorflow", "autograd")
CONTRACTS = (*FRAMEWORKS, "python")
LAYOUTS = ("v", "vh")
NATIVE_LAYOUT = {"torch": "vh", "jax": "vh", "autograd": "vh", "tensorflow": "v"}
ENTRY_POINT_GROUP = "svdgrad.backends"


@dataclass(frozen=True)
class Spec:
    """A parsed backend spec (see the module docstring)."""

    text: str
    name: str
    contract: str
    module: str
    attribute: str
    layout: str | None = None


def parse_spec(text: str) -> Spec | None:
    """The spec in ``text``, or None when it is a plain backend name; UsageError when malformed."""
    name, eq, rest = text.partition("=")
    if not eq:
        name, rest = "", text
    if ":" not in rest:
        if eq:
            raise UsageError(f"backend {text!r}: after NAME= comes a spec FRAMEWORK:MODULE:FUNCTION")
        return None
    parts = rest.split(":")
    contract = parts[0]
    if contract not in CONTRACTS:
        raise UsageError(
            f"backend {text!r}: unknown framework {contract!r}; expected one of {', '.join(CONTRACTS)}"
        )
    layout = parts[3].lower() if len(parts) == 4 else None
    if len(parts) not in (3, 4) or not all(parts[1:3]) or (layout is not None and layout not in LAYOUTS):
        raise UsageError(f"backend {text!r}: expected [NAME=]{contract}:MODULE:FUNCTION[:v|:vh]")
    # the short name says whose function it is: broadened.svd, not torch:svd (which reads as torch's own)
    default = f"{parts[1].rsplit('.', 1)[-1]}.{parts[2]}"
    return Spec(text, name or default, contract, parts[1], parts[2], layout)


def import_function(spec: Spec):
    """The function a spec names, imported with the current directory on the path (as python -m)."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if spec.contract in FRAMEWORKS:  # first, as svdgrad imports it (TensorFlow's start-up quieted)
        framework_backend(spec.contract).module.framework()
    try:
        module = importlib.import_module(spec.module)
    except Exception as exc:  # the user's module: any error is theirs, reported as one line
        first = (str(exc).strip().splitlines() or [""])[0]
        hint = (
            "; run from the directory that holds it, or add that directory to PYTHONPATH"
            if isinstance(exc, ModuleNotFoundError) and exc.name and spec.module.startswith(exc.name)
            else ""
        )
        raise UsageError(
            f"backend {spec.text!r}: cannot import {spec.module} ({type(exc).__name__}: {first}){hint}"
        ) from None
    function = getattr(module, spec.attribute, None)
    if function is None:
        raise UsageError(f"backend {spec.text!r}: module {spec.module} has no {spec.attribute!r}")
    if not callable(function):
        raise UsageError(f"backend {spec.text!r}: {spec.module}.{spec.attribute} is not callable")
    _check_signature(spec, function)
    return function


def _check_signature(spec: Spec, function) -> None:
    """Refuse a function that cannot be called as the contract calls it: f(stack), or f(stack, loss)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins and C functions without a signature: tried at run time
        return
    arguments = ("stack", "loss") if spec.contract == "python" else ("stack",)
    try:
        signature.bind(*arguments)
    except TypeError as exc:
        raise UsageError(
            f"backend {spec.text!r}: {spec.attribute}{signature} cannot be called as "
            f"{spec.attribute}({', '.join(arguments)}) ({exc})"
        ) from None


def accepts(function, parameter: str) -> bool:
    """Whether ``function`` takes a keyword ``parameter`` (False where it has no signature)."""
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):  # builtins and C functions without a signature
        return False


def plugin_factors(function, x, needs_vectors, full_matrices, layout, native, adjoint):
    """(U, s, V) with the first k columns, from a user's SVD function however it returns them: the
    singular values are the output with one dimension less; V or V^H by ``layout`` ("v", "vh"), or by
    shape where it is not square, else the framework's ``native`` one; ``adjoint`` is the framework's
    conjugate transpose. Stand-alone: reproducers embed it."""
    out = function(x, **plugin_keywords(function, needs_vectors, full_matrices))
    # a tuple, a list, or a framework's traced sequence (autograd's SequenceBox); else one array
    outputs = [out] if hasattr(out, "shape") else [out[i] for i in range(len(out))]
    values = [o for o in outputs if len(o.shape) == len(x.shape) - 1]
    if len(values) != 1:
        raise ValueError(f"returned {len(outputs)} outputs, none or several of them singular values")
    s = values[0]
    if not needs_vectors:
        return None, s, None
    others = [o for o in outputs if o is not s]
    if len(others) != 2:
        raise ValueError("returned no singular vectors for a loss of U and V (expected U, S and V or V^T)")
    u, last = others
    k = s.shape[-1]
    v = last if (layout or plugin_layout(last.shape, k, x.shape[-1], native)) == "v" else adjoint(last)
    return u[..., :, :k], s, v[..., :, :k]


def plugin_keywords(function, needs_vectors: bool, full_matrices: bool) -> dict[str, bool]:
    """The keywords of the call of a user's SVD function: compute_uv=False where it takes it and no
    vectors are needed; full_matrices=True where asked (NotImplementedError if it takes none)."""
    keywords = {}
    if not needs_vectors and accepts(function, "compute_uv"):
        keywords["compute_uv"] = False
    if full_matrices and not accepts(function, "full_matrices"):
        raise NotImplementedError("the plug-in's SVD takes no full_matrices")
    if full_matrices:
        keywords["full_matrices"] = True
    return keywords


def plugin_layout(shape, k: int, n: int, native: str) -> str:
    """ "v" or "vh": what a user's SVD returned last, by its shape where it is not square (V is n x k),
    else the framework's ``native`` layout."""
    rows, columns = shape[-2], shape[-1]
    if rows == columns:
        return native
    return "v" if rows == n and columns == k else "vh"


def _version(module: str) -> str:
    top = module.split(".")[0]
    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        return getattr(sys.modules.get(top), "__version__", None) or "plug-in"


class SpecBackend:
    """A user's SVD function differentiated by one framework's automatic differentiation."""

    gives_factors = True

    def __init__(self, spec: Spec, function, origin: str | None = None) -> None:
        self.spec, self.function = spec, function
        self.name = spec.name
        self.origin = origin or f"spec {spec.contract}:{spec.module}:{spec.attribute}"
        self.framework: FrameworkBackend = framework_backend(spec.contract)

    def version(self) -> str | None:
        return f"{_version(self.spec.module)} ({self.spec.contract} {self.framework.version() or ''})".strip()

    def factors(self, x, needs_vectors: bool, full_matrices: bool):
        """(U, s, V) with the first k columns, from whatever the user's function returns."""
        ops = self.framework.module.framework_ops()
        native = NATIVE_LAYOUT[self.spec.contract]
        return plugin_factors(
            self.function,
            x,
            needs_vectors,
            full_matrices,
            self.spec.layout,
            native,
            lambda y: ops.conj(ops.t(y)),
        )

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput:
        return compute_with(self.framework.module, stack, loss, full_matrices, self.factors)


def framework_backend(name: str) -> FrameworkBackend:
    return BUILTIN[name]


def spec_backend(spec: Spec, origin: str | None = None):
    """The backend of a parsed spec: SpecBackend, or a FunctionBackend for the python: contract."""
    function = import_function(spec)
    if spec.contract == "python":
        return FunctionBackend(spec.name, function, _version(spec.module), origin or f"spec {spec.text}")
    return SpecBackend(spec, function, origin)


def entry_point_backends() -> dict[str, object]:
    """Entry points of the group svdgrad.backends, by name (not loaded)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_entry_point(name: str, entry) -> object:
    """The backend an entry point provides: a spec string, a python: function, or a backend object."""
    try:
        target = entry.load()
    except Exception as exc:  # a third-party package's import error, reported as one line
        raise UsageError(
            f"backend {name!r} (entry point {entry.value}): cannot load it ({type(exc).__name__}: {exc})"
        ) from None
    origin = f"entry point {entry.value}"
    if isinstance(target, str):
        spec = parse_spec(target)
        if spec is None:
            raise UsageError(f"backend {name!r}: entry point {entry.value} gives {target!r}, not a spec")
        return spec_backend(
            Spec(spec.text, name, spec.contract, spec.module, spec.attribute, spec.layout), origin
        )
    if hasattr(target, "compute"):
        return target
    if callable(target):
        return FunctionBackend(name, target, _version(entry.value.split(":")[0]), origin)
    raise UsageError(
        f"backend {name!r}: entry point {entry.value} is neither a spec, a function nor a backend"
    )
