"""The backend protocol: what every backend (built-in, registered from Python, or a plug-in) provides.

A backend has a ``name``, an ``origin`` (where it comes from, for ``svdgrad backends``), whether
its output includes its SVD's singular vectors (``gives_factors``), a
``version()`` read without importing its framework, and ``compute(stack, loss, full_matrices)``
returning a :class:`BackendOutput` for a float or complex stack of shape (b, m, n). On complex input
the gradients are in svdgrad's convention, G = dL/dRe A + i dL/dIm A (numerics/field.py).

What a call differentiates is a :class:`~svdgrad_cli.numerics.differentiated.Target` (a
decomposition and a derivative mode). Every backend computes the default, the VJP of the thin SVD; one
that can do more lists its targets in an optional ``targets`` attribute (:func:`targets_of`) and is
then called with ``compute(..., target=target)`` for any other; for a target it does not list, its
result is ``unsupported`` without a call.
"""

from __future__ import annotations

import sysconfig
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET, Target

BUILT_IN = "built-in"  # the origin of svdgrad's own backends (framework.py); others name theirs
EIGH_PLUGIN, MODE_PLUGIN = "eigh spec", "mode spec"  # Recipe kinds of plug-ins run by contained.py
CONTAINED = (EIGH_PLUGIN, MODE_PLUGIN)
TRACE_FRAMES = 6  # the last frames of a failure kept for -v and JSON
LINE_CHARS = 300  # characters of each frame kept
PACKAGE = str(Path(__file__).parent.parent)  # svdgrad's own frames are plumbing, left out
LIBRARIES = tuple({sysconfig.get_path(key) for key in ("stdlib", "purelib", "platlib")})
DEFAULT_TARGETS = frozenset({DEFAULT_TARGET})  # what a backend that lists no ``targets`` computes


@dataclass(frozen=True)
class BackendOutput:
    """What one backend call returns, as NumPy arrays over the stack.

    ``singular_values`` (b, k) are the decomposition's values, ``gradients`` the derivative the
    target's mode asks for (the VJP: dL/dA, shaped like the stack); Target.check_output says which
    shapes fit. ``u`` (b, m, k) and ``v`` (b, n, k) are the singular vectors of the backend's own forward SVD
    when its call computed them (losses of U and V), else None; svdgrad checks their accuracy.
    """

    singular_values: np.ndarray
    gradients: np.ndarray
    u: np.ndarray | None = None
    v: np.ndarray | None = None
    convention: str | None = None  # complex input: how the framework's gradient was read (field.py)


class GaugeDependence(Exception):
    """Raised by a backend whose framework refuses a loss that depends on the SVD's gauge (torch's
    phase check on complex input): the loss is ``undefined`` there, with the framework's message."""


class BackendFailure(Exception):
    """A backend call that did not answer, with the reason as its whole message (``exited with status
    0 before answering``, ``killed by signal SIGSEGV``, ``ValueError: ...``) and the last frames of
    where it failed (``trace``); ``unsupported`` where it raised NotImplementedError."""

    def __init__(self, message: str, trace: tuple[str, ...] = (), unsupported: bool = False) -> None:
        super().__init__(message)
        self.trace = trace
        self.unsupported = unsupported


class BackendTimeout(BackendFailure, TimeoutError):
    """A backend call that outlived --timeout (its worker process was killed)."""


def described(exc: BaseException) -> str:
    """One line saying what a call raised: ``ValueError: first line``; for what is not an Exception,
    ``called sys.exit(0)`` or ``raised KeyboardInterrupt``."""
    first = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, Exception):
        return f"{type(exc).__name__}: {first}"
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    return f"raised {type(exc).__name__}" + (f": {first}" if first else "")


def frame_lines(frames: Sequence[tuple[str, int, str, str | None]]) -> tuple[str, ...]:
    """The last TRACE_FRAMES of (file, line, function, source) frames, outermost first, as
    ``file:line in function: source``: svdgrad's own frames left out, and the deepest frame outside
    the libraries (the plug-in's own file) kept even where deeper library frames follow it."""
    theirs = [f for f in frames if not f[0].startswith(PACKAGE)] or frames
    shown = theirs[-TRACE_FRAMES:]
    own = [f for f in theirs if not f[0].startswith(LIBRARIES) and not f[0].startswith("<frozen")]
    if own and own[-1] not in shown:
        shown = [own[-1], *shown[1:]]
    lines = (f"{file}:{line} in {name}" + (f": {code}" if code else "") for file, line, name, code in shown)
    return tuple(text[:LINE_CHARS] for text in lines)


def own_frame(trace: tuple[str, ...]) -> str:
    """The deepest frame of a trace outside the libraries (the plug-in's own line), else the last."""
    own = [line for line in trace if not line.startswith(LIBRARIES) and not line.startswith(PACKAGE)]
    return (own or list(trace))[-1]


def last_frames(exc: BaseException) -> tuple[str, ...]:
    """Where ``exc`` was raised (frame_lines of its traceback)."""
    summary = traceback.extract_tb(exc.__traceback__)
    return frame_lines([(f.filename, f.lineno or 0, f.name, (f.line or "").strip() or None) for f in summary])


class Backend(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def origin(self) -> str: ...

    @property
    def gives_factors(self) -> bool:  # whether compute() returns U and V for a loss of U and V
        ...

    def version(self) -> str | None: ...

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput: ...


def targets_of(backend: Backend) -> frozenset[Target]:
    """What a backend can differentiate: its ``targets``, or the default alone where it lists none."""
    return frozenset(getattr(backend, "targets", DEFAULT_TARGETS))
