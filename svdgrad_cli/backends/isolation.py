"""Plug-ins in a worker process: a backend from a spec or an entry point runs in a child (host.py).

A plug-in is the user's code, and must not decide the outcome of the run: a ``sys.exit(0)``, an
``os._exit(0)``, a segmentation fault, a ``KeyboardInterrupt``, a hang, a leak or a ``print`` in it
ends, at worst, its own worker process. The call is then ``failed`` with the reason (``exited with
status 0 before answering``, ``killed by signal SIGSEGV``, ``raised KeyboardInterrupt``, ``timed out
after 2 s: killed``) and the last frames of where it was, and the other backends' results stand.

One worker per plug-in, started when the backend is loaded (the plug-in's import runs there too),
answers every call of the run over a pipe (wire.py: JSON and raw arrays, never pickle; every answer
is checked here before it is used); after the run the most recently used few stay, idle, for the next
run in this process (a Python caller's), and all end with it. A call that outlives
``--timeout`` gets its worker killed (its frames first dumped by SIGUSR1), so nothing of it is left
running in this process; the next call starts a new worker, up to RESTARTS times in a run. The
built-in backends run in workers of this kind too (hosted.py: all started at once, so that their
frameworks load side by side), except in ``--jobs`` worker processes. Measured cost
(bench/bench_isolation.py): the start of a worker and a pipe round trip per call.
"""

from __future__ import annotations

import atexit
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np

from svdgrad_cli.backends import plugins, wire
from svdgrad_cli.backends.protocol import (
    LINE_CHARS,
    TRACE_FRAMES,
    BackendFailure,
    BackendOutput,
    BackendTimeout,
    GaugeDependence,
    frame_lines,
)
from svdgrad_cli.errors import UsageError

LOAD_TIMEOUT = 120.0  # seconds to import a plug-in and its framework (TensorFlow alone takes several)
RESTARTS = 3  # new workers after one died or was killed, per run; later calls fail at once
DUMP_WAIT = 0.5  # seconds a timed-out worker gets to write its frames before it is killed
CLOSE_WAIT = 1.0  # seconds a worker gets to end by itself at the end of a run
MAX_ITEM_BYTES = 32  # the widest number an answer may hold (complex long double)
CRASH_TEXT = 2**16  # bytes of a crash file read
PACKAGE_PARENT = str(Path(__file__).parent.parent.parent)
BOOT = (
    f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); from svdgrad_cli.backends.host import main; main()"
)
FRAME = re.compile(r'^\s*File "(.*)", line (\d+) in (.*)$')


@dataclass(frozen=True)
class Recipe:
    """What a worker loads: a spec (``kind`` "spec", ``text`` the spec, ``name`` and ``origin`` as
    register_backend gives them) or an entry point (``kind`` "entry point", ``text`` its name)."""

    kind: str
    text: str
    name: str | None = None
    origin: str | None = None


IDLE_WORKERS = 4  # workers kept between runs, the most recently used (a Python caller's next check)
_running: set[WorkerBackend] = set()
_loaded: weakref.WeakSet[WorkerBackend] = weakref.WeakSet()


def context() -> tuple[str, ...]:
    """What a worker's imports depend on: the current directory and the import path."""
    try:
        return (os.getcwd(), *sys.path)
    except OSError:  # the current directory was removed
        return ("", *sys.path)


def _signal_name(number: int) -> str:
    try:
        return f"signal {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"


def _crash_frames(path: str) -> tuple[str, ...]:
    """The frames faulthandler wrote for the thread that crashed (or was asked by SIGUSR1)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read(CRASH_TEXT).splitlines()
    except OSError:
        return ()
    starts = [i for i, line in enumerate(lines) if "Current thread" in line or line.startswith("Stack (")]
    frames: list[tuple[str, int, str, str | None]] = []
    for line in lines[starts[0] + 1 :] if starts else []:
        found = FRAME.match(line)
        if found is None:
            break
        frames.append((found[1], int(found[2]), found[3], None))
    frames = [f for f in frames if f[0] != "<string>"]  # BOOT, the worker's first line
    return frame_lines(frames[::-1])


def pipes(process: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    """A worker's stdin and stdout (it is started with both piped)."""
    if process.stdin is None or process.stdout is None:
        raise ValueError("a worker process is started with its stdin and stdout piped")
    return process.stdin, process.stdout


class WorkerBackend:
    """A backend hosted by a worker process (see the module docstring); the protocol of protocol.py,
    with ``compute`` taking the call's ``timeout``. Loading it (the constructor) starts the worker;
    a plug-in that cannot be loaded is a UsageError with its problem."""

    def __init__(self, recipe: Recipe) -> None:
        self._prepare(recipe)
        hello = self._start()
        self.name, self.origin = str(hello["name"]), str(hello["origin"])
        self.gives_factors = bool(hello["gives_factors"])
        self._version = hello["version"]
        spec = plugins.parse_spec(hello["spec"]) if hello["spec"] else None
        self.spec = None if spec is None else replace(spec, name=self.name)

    @property
    def framework(self):
        """The built-in backend whose framework differentiates the plug-in's SVD (None: python:)."""
        return (
            None
            if self.spec is None or self.spec.contract == "python"
            else plugins.framework_backend(self.spec.contract)
        )

    def _prepare(self, recipe: Recipe) -> None:
        """The state of a backend whose worker is yet to start."""
        self.recipe = recipe
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: wire.Reader | None = None
        self._crash_file = ""
        self.failures: list[str] = []  # why this run's workers ended before their time
        self.used = 0.0  # time.monotonic() of the last call
        self._started_in: tuple[str, ...] = ()
        _loaded.add(self)

    def version(self) -> str | None:
        return None if self._version is None else str(self._version)

    def _start(self) -> dict:
        """Start the worker and wait for its hello (the backend loaded), or a UsageError."""
        self._launch()
        return self._greeting()

    def _launch(self) -> None:
        """Start the worker and send it the recipe; it loads the backend while this process goes on."""
        handle, self._crash_file = tempfile.mkstemp(prefix="svdgrad-worker-", suffix=".txt")
        os.close(handle)
        command = [sys.executable, "-c", BOOT, self._crash_file]
        # its own process group, so that what the plug-in forks ends with it (_stop)
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        stdin, stdout = pipes(process)
        self._process = process
        self._reader = wire.Reader(stdout.fileno(), lambda: process.poll() is None)
        _running.add(self)
        self._started_in = context()
        request = {"recipe": asdict(self.recipe), "path": [entry or os.getcwd() for entry in sys.path]}
        with suppress(wire.Closed):  # it died at once: _greeting says how
            wire.send(stdin.fileno(), request)  # a few hundred bytes: the pipe takes them

    def _greeting(self) -> dict:
        """The launched worker's hello; a UsageError where it could not load the backend."""
        what = f"backend {self.recipe.text!r}"
        try:
            hello, _ = wire.receive(self._live()[1], 0, time.monotonic() + LOAD_TIMEOUT)
        except wire.Expired:
            self._stop()
            raise UsageError(f"{what}: loading it took over {LOAD_TIMEOUT:g} s") from None
        except wire.Closed:
            reason, _ = self._ended("loading it")
            raise UsageError(f"{what}: its worker process {reason}") from None
        except wire.Malformed as exc:
            self._stop()
            raise UsageError(f"{what}: its worker process sent {exc}") from None
        except BaseException:  # Ctrl-C while it loads
            self._stop()
            raise
        if "problem" in hello:
            self._stop()
            raise UsageError(str(hello["problem"]))
        return hello

    def _worker(self) -> tuple[subprocess.Popen[bytes], wire.Reader]:
        """The running worker, started again where the last one ended (RESTARTS times in a run) or
        where it was started in another directory or with another import path."""
        self.used = time.monotonic()
        if self._process is not None and self._reader is not None and self._started_in == context():
            return self._process, self._reader
        self._stop()
        if len(self.failures) > RESTARTS:
            raise BackendFailure(
                f"not restarted: its worker process ended {len(self.failures)} times in this run "
                f"(last: {self.failures[-1]})"
            )
        try:
            self._start()
        except UsageError as exc:
            raise BackendFailure(f"cannot start its worker process again: {exc}") from None
        return self._live()

    def _live(self) -> tuple[subprocess.Popen[bytes], wire.Reader]:
        """The worker's process and the reader of its answers (BackendFailure where none runs)."""
        if self._process is None or self._reader is None:
            raise BackendFailure("its worker process is not running")
        return self._process, self._reader

    def compute(
        self, stack: np.ndarray, loss, full_matrices: bool = False, timeout: float | None = None
    ) -> BackendOutput:
        """The call in the worker; BackendFailure (BackendTimeout after ``timeout`` seconds) where it
        did not answer, GaugeDependence and NotImplementedError as a built-in raises them."""
        process, reader = self._worker()
        message = call_message(stack, loss, full_matrices)
        stdin = pipes(process)[0]
        return self._answer(lambda: wire.write(stdin.fileno(), message), reader, stack.shape, timeout)

    def _answer(
        self,
        send: Callable[[], None],
        reader: wire.Reader,
        shape: tuple[int, ...],
        timeout: float | None,
        parse: Callable | None = None,
    ):
        """``send()`` the call (if not sent yet) and receive the answer for a stack of ``shape``:
        ``parse(answer, arrays, shape)`` of it (a BackendOutput by default), or what it raised."""
        deadline = None if timeout is None else time.monotonic() + timeout
        limit = 4 * MAX_ITEM_BYTES * math.prod(shape) + wire.HEADER_BYTES
        try:
            send()
            answer, arrays = wire.receive(reader, limit, deadline)
        except wire.Expired:
            reason = f"timed out after {timeout:g} s: killed"
            trace = self._stop(dump=True)
            self.failures.append(reason)
            raise BackendTimeout(reason, trace) from None
        except wire.Closed:
            reason, trace = self._ended()
            raise BackendFailure(reason, trace) from None
        except wire.Malformed as exc:
            reason = f"sent {exc}: killed"
            self._stop()
            self.failures.append(reason)
            raise BackendFailure(reason) from None
        except BaseException:  # Ctrl-C mid-call: its answer must not be taken for the next call's
            self._stop()
            raise
        raise_error(answer)
        return (parse or _output)(answer, arrays, shape)

    def call(self, message: bytes, shape: tuple[int, ...], timeout: float | None, parse: Callable):
        """One call of another kind than compute (eigh, modes: contained.py): ``message`` sent,
        ``parse(answer, arrays, shape)`` of the answer, the answer's size bounded by ``shape``."""
        process, reader = self._worker()
        stdin = pipes(process)[0]
        return self._answer(lambda: wire.write(stdin.fileno(), message), reader, shape, timeout, parse)

    def _ended(self, doing: str = "answering") -> tuple[str, tuple[str, ...]]:
        """Why the worker that closed its pipe ended (before ``doing`` what it was asked), and its
        frames where it crashed."""
        process, _ = self._live()
        try:
            process.wait(CLOSE_WAIT)
        except subprocess.TimeoutExpired:  # it closed the pipe but lives on
            process.kill()
            process.wait()
        code = process.returncode
        reason = (
            f"exited with status {code} before {doing}" if code >= 0 else f"killed by {_signal_name(-code)}"
        )
        trace = self._stop()
        self.failures.append(reason)
        return reason, trace

    def _stop(self, dump: bool = False, wait: float = CLOSE_WAIT) -> tuple[str, ...]:
        """End the worker (SIGUSR1 first where ``dump``, for its frames; killed after ``wait``
        seconds) and return its crash frames."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None:
            return ()
        if dump and process.poll() is None:
            process.send_signal(signal.SIGUSR1)
            waited = time.monotonic() + DUMP_WAIT
            while os.path.getsize(self._crash_file) == 0 and time.monotonic() < waited:
                time.sleep(0.02)
        stdin, stdout = pipes(process)
        stdin.close()  # the worker's end of the run: it returns from its loop
        try:
            process.wait(0 if dump else wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with suppress(OSError):  # what the plug-in forked (ProcessLookupError: there is none)
            os.killpg(process.pid, signal.SIGKILL)
        stdout.close()
        trace = _crash_frames(self._crash_file)
        with suppress(OSError):
            os.unlink(self._crash_file)
        return trace

    def close(self) -> None:
        """End the worker; the next call starts a new one."""
        self._stop()


def _is_factor(factor: np.ndarray, leading: tuple[int, int]) -> bool:
    """Whether a returned U or V is a stack of float or complex matrices with these leading axes."""
    return factor.ndim == 3 and factor.shape[:2] == leading and factor.dtype.kind in "fc"


def call_message(stack: np.ndarray, loss, full_matrices: bool) -> list[bytes | memoryview]:
    """The message of one compute call (the same for every worker asked it), in parts: the stack's
    bytes are a view of it, not a copy."""
    header, weights = wire.loss_message(loss)
    return wire.encode_parts({**header, "full_matrices": full_matrices}, {"stack": stack, **weights})


def raise_error(answer: dict) -> None:
    """What the worker's call raised, raised here (nothing where it answered)."""
    if "error" in answer:
        message = str(answer.get("message"))
        if answer["error"] == "undefined":
            raise GaugeDependence(message)
        trace = tuple(str(line)[:LINE_CHARS] for line in answer.get("trace") or ())[:TRACE_FRAMES]
        raise BackendFailure(message, trace, unsupported=answer["error"] == "unsupported")


def _output(answer: dict, arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> BackendOutput:
    """The worker's answer as a BackendOutput."""
    if "values" not in arrays or "gradients" not in arrays:
        raise BackendFailure("answered without singular values or gradients")
    b, m, n = shape
    u, v = arrays.get("u"), arrays.get("v")
    for what, factor, rows in (("U", u, m), ("V", v, n)):
        if factor is not None and not _is_factor(factor, (b, rows)):
            raise BackendFailure(
                f"returned {what} of shape {factor.shape} and dtype {factor.dtype} "
                f"for a stack of shape {shape}"
            )
    convention = answer.get("convention")
    return BackendOutput(
        arrays["values"], arrays["gradients"], u, v, None if convention is None else str(convention)
    )


def end_run() -> None:
    """The end of a run: restarts are counted anew, and of the idle workers only the IDLE_WORKERS
    most recently used stay (their imports are done: a Python caller's next check() reuses them)."""
    for backend in list(_loaded):
        backend.failures.clear()
    by_use = sorted(_running, key=lambda backend: backend.used, reverse=True)
    for backend in by_use[IDLE_WORKERS:]:
        backend.close()


def stop_all() -> None:
    """End every worker (the end of this process)."""
    for backend in list(_running):
        backend.close()


atexit.register(stop_all)
