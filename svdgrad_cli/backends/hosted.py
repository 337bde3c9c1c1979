"""Built-in backends in worker processes, all started at once: a check costs the slowest framework's
start-up, not the sum of them.

Importing TensorFlow, PyTorch and JAX one after the other is most of a small check (measured on two
cores: 4.3 s, 1.7 s and 1.3 s; ``svdgrad check`` of one 5x5 matrix 6.9 s, a script importing the four
frameworks and computing each gradient once 7.0 s). A thread cannot overlap those imports (they hold
the GIL); processes can. So at the start of a run (registry.start_workers, before any matrix is read)
each built-in backend named gets a worker process of its own, the plug-ins' (isolation.py: the same
pipe protocol, wire.py, and the same containment): it imports its framework and makes one tiny call,
which pays the framework's first-call costs (TensorFlow's eager context, JAX's CPU client), while
this process reads the matrices and computes the reference. The first compute call waits for the
worker's hello. A call that outlives ``--timeout`` gets its worker killed, not abandoned in a thread,
and the next call starts a new one. ``-b NAME`` starts only the workers it names; ``--help`` starts
none, and ``--jobs`` worker processes (parallel.py) keep their backends in their own process.
``svdgrad check`` starts them before the rest of svdgrad is imported (registry.start_early), and a
worker leaves out what its framework imports but never uses for an SVD (``unused_imports``:
TensorFlow's JAX converter and Keras, a quarter of its start-up's CPU time).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from contextlib import suppress
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from svdgrad_cli.backends import wire
from svdgrad_cli.backends.framework import BUILTIN, FrameworkBackend
from svdgrad_cli.backends.isolation import Recipe, WorkerBackend, call_message, context, pipes
from svdgrad_cli.backends.protocol import BUILT_IN, BackendFailure, BackendOutput, GaugeDependence
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.losses import Loss, parse_loss

KIND = BUILT_IN  # the Recipe kind of a built-in backend (its text: the backend's name)
WARM_UP = np.array([[[2.0, 0.0], [0.0, 1.0]]])  # the tiny first call made before the hello


def loaded_builtin(name: str) -> FrameworkBackend:
    """In the worker: the built-in backend ``name``, its framework imported and called once, without
    the packages it imports but never uses here (its ``unused_imports``: None in sys.modules makes
    their import an ImportError, which the framework catches)."""
    backend = BUILTIN[name]
    for package in backend.unused_imports:
        sys.modules.setdefault(package, None)  # type: ignore[arg-type]
    backend.compute(WARM_UP, parse_loss("sum"))
    return backend


def _write_closing(fd: int, message: list[bytes | memoryview]) -> None:
    """Write ``message`` to ``fd`` (a duplicate of a worker's input, so that the number is never
    another file's) and close it; a worker that ended is the reader's to report."""
    try:
        wire.write(fd, message)
    except (wire.Closed, OSError):
        pass
    finally:
        os.close(fd)


def _sent_already() -> None:
    """The send() of a call sent ahead (isolation.WorkerBackend._answer): nothing more to write."""


@dataclass(frozen=True)
class _Sent:
    """A call sent ahead, and to which worker process."""

    stack: np.ndarray
    loss: Loss
    full_matrices: bool
    process: subprocess.Popen[bytes] | None


def send_ahead(workers: list[FrameworkWorker], stack: np.ndarray, loss: Loss, full_matrices: bool) -> None:
    """Send one call to each of ``workers`` now, so that they compute side by side (and while a
    framework still loads, its call waits in the pipe); each one's compute() then takes its answer.
    A thread writes each call, since a pipe takes 64 KiB until its worker reads."""
    message = call_message(stack, loss, full_matrices)
    for worker in workers:
        worker.send_ahead(message, _Sent(stack, loss, full_matrices, worker.running()))


class FrameworkWorker(WorkerBackend):
    """A built-in backend hosted by a worker process started at once (see the module docstring).

    Its name, origin and version are known without the worker; the worker's hello (its framework
    loaded) is awaited by the first call. A framework that cannot be loaded fails every call with
    why, as an in-process import error would."""

    def __init__(self, builtin: FrameworkBackend) -> None:
        self._prepare(Recipe(KIND, builtin.name))
        self.builtin = builtin
        self.name, self.origin, self.gives_factors = builtin.name, builtin.origin, builtin.gives_factors
        self.spec = None
        self._problem: str | None = None
        self._sent: _Sent | None = None
        self._launch()

    @property
    def module(self) -> ModuleType:
        """svdgrad's module of this framework (for a reproducer's source), without the framework."""
        return importlib.import_module(self.builtin.module_path)

    @property
    def module_path(self) -> str:
        """svdgrad's module of this framework (modes.py runs its paths in this process)."""
        return self.builtin.module_path

    @property
    def distribution(self) -> str:
        """The framework's PyPI name (a reproducer's requirements)."""
        return self.builtin.distribution

    def version(self) -> str | None:
        return self.builtin.version()

    def start(self) -> None:
        """Start the worker where none runs (the start of a run after one that ended it, or after
        an idle worker died: that is no finding about the next call)."""
        if self._process is not None and self._process.poll() is not None:
            self._stop()
        if self._process is None and self._problem is None:
            self._launch()

    def running(self) -> subprocess.Popen[bytes] | None:
        """The worker process where one runs for this import path, else None."""
        current = self._process is not None and self._started_in == context()
        return self._process if current and self._problem is None else None

    def send_ahead(self, message: list[bytes | memoryview], sent: _Sent) -> None:
        """Write the call ``message`` to the running worker, if any, in a thread (see send_ahead)."""
        if sent.process is None or self._sent is not None:
            return
        fd = os.dup(pipes(sent.process)[0].fileno())
        threading.Thread(target=_write_closing, args=(fd, message), daemon=True).start()
        self._sent = sent

    def compute(
        self, stack: np.ndarray, loss, full_matrices: bool = False, timeout: float | None = None
    ) -> BackendOutput:
        """The answer to the call sent ahead where this is that call (its ``timeout`` counted from
        now), else the call made now; an answer nobody asked for any more is read and dropped."""
        sent, self._sent = self._sent, None
        if sent is not None:
            process, reader = self._worker()
            if process is sent.process:
                if sent.stack is stack and sent.loss is loss and sent.full_matrices == full_matrices:
                    return self._answer(_sent_already, reader, stack.shape, timeout)
                with suppress(BackendFailure, GaugeDependence):
                    self._answer(_sent_already, reader, sent.stack.shape, timeout)
        return super().compute(stack, loss, full_matrices, timeout)

    def _launch(self) -> None:
        super()._launch()
        self._greeted = False

    def _start(self) -> dict:
        self._launch()
        self._greet()
        return {}

    def _greet(self) -> None:
        self._greeted = True
        try:
            self._greeting()
        except UsageError as exc:
            self._problem = str(exc)
            raise BackendFailure(self._problem) from None

    def _worker(self) -> tuple[subprocess.Popen[bytes], wire.Reader]:
        if self._problem is not None:
            raise BackendFailure(self._problem)
        running = super()._worker()
        if not self._greeted:
            self._greet()
        return running

    def close(self) -> None:
        """End the worker at once: it holds nothing of its own (a framework's exit can take a second)."""
        self._stop(wait=0)
