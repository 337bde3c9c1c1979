"""A backend's worker process: hosts one backend and answers its compute calls (isolation.py starts it).

``python -m svdgrad_cli.backends.host CRASH_FILE``. Messages (wire.py) come on standard input and
answers go to the original standard output; before any plug-in code runs, file descriptor 1 becomes a
pipe whose lines are relayed to standard error as ``[NAME] line``, so nothing the plug-in prints can
reach svdgrad's report or start a line of it (a GitHub ``::error`` command). The first message names
the backend (a spec or an entry point) and the import path; the answer is its name, origin, version
and whether it gives factors, or the problem. Each later message is one compute call, answered with
the arrays or with what the call raised (its type and first line, and its last frames). Whatever the
plug-in raises, SystemExit and KeyboardInterrupt included, is an answer; a crash (a signal) writes
the Python frames to CRASH_FILE (faulthandler), as does SIGUSR1, which svdgrad sends before it
kills a call that outlived --timeout. Ctrl-C is ignored (svdgrad stops this process itself), and on
Linux the process dies with its parent.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import warnings
from dataclasses import replace

import numpy as np

from svdgrad_cli.backends import plugins, wire
from svdgrad_cli.backends.protocol import BUILT_IN, CONTAINED, GaugeDependence, described, last_frames
from svdgrad_cli.backends.runtime import RELEASE_BYTES, release_free_memory
from svdgrad_cli.errors import SvdgradError, UsageError

PR_SET_PDEATHSIG = 1  # prctl(2)
prefix = ["[plug-in] "]  # the relay's line prefix, set to the backend's name once it is known


def _take_channel() -> tuple[int, int]:
    """(requests, answers): the original standard input and output, moved aside; standard input
    becomes /dev/null."""
    requests, answers = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return requests, answers


def _relay(fd: int) -> None:
    with open(fd, "rb") as lines:
        for line in lines:
            os.write(2, prefix[0].encode() + line.rstrip(b"\n") + b"\n")


def _redirect_stdout() -> None:
    """File descriptor 1 (print, C code's printf) into a pipe relayed to stderr, line by line."""
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.close(write_end)
    threading.Thread(target=_relay, args=(read_end,), daemon=True, name="stdout relay").start()


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed pipe ends it once it is idle
        pass


def _load(request: dict):
    sys.path[:] = request["path"]
    recipe = request["recipe"]
    if recipe["kind"] == BUILT_IN:  # hosted.py
        from svdgrad_cli.backends.hosted import loaded_builtin

        return loaded_builtin(recipe["text"])
    if recipe["kind"] in CONTAINED:  # an eigh or a mode plug-in (contained.py)
        from svdgrad_cli.backends.contained_host import hosted_plugin

        return hosted_plugin(recipe["kind"], recipe["text"])
    if recipe["kind"] == "spec":
        spec = plugins.parse_spec(recipe["text"])
        if spec is None:  # the parent parsed it before it sent the recipe
            raise UsageError(f"backend {recipe['text']!r}: not a spec FRAMEWORK:MODULE:FUNCTION")
        named = replace(spec, name=recipe["name"] or spec.name)
        return plugins.spec_backend(named, recipe["origin"])
    entry = plugins.entry_point_backends()[recipe["text"]]
    return plugins.load_entry_point(recipe["text"], entry)


def _hello(request: dict) -> tuple[dict, object]:
    """The answer to the first message, and the backend (None where it did not load)."""
    try:
        backend = _load(request)
        version = backend.version()
    except SvdgradError as exc:
        return {"problem": str(exc)}, None
    except BaseException as exc:  # the plug-in's module ran and raised: its problem, in one line
        return {"problem": f"backend {request['recipe']['text']!r}: loading it {described(exc)}"}, None
    spec = getattr(backend, "spec", None)
    prefix[0] = f"[{backend.name}] "
    hello = {
        "name": str(backend.name),
        "origin": str(backend.origin),
        "version": None if version is None else str(version),
        "gives_factors": bool(backend.gives_factors),
        "spec": spec.text if isinstance(spec, plugins.Spec) else None,
    }
    return hello, backend


def _compute(backend, header: dict, arrays: dict[str, np.ndarray]) -> bytes | list[bytes | memoryview]:
    if hasattr(backend, "respond"):  # an eigh or a mode plug-in's call (contained_host.py)
        return backend.respond(header, arrays)
    loss = wire.loss_from_message(header, arrays)
    # A framework's own NumPy warnings (divide by zero at ties) would only repeat the verdict.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        output = backend.compute(arrays["stack"], loss, full_matrices=header["full_matrices"])
    results = {"values": output.singular_values, "gradients": output.gradients, "u": output.u, "v": output.v}
    answer = {"convention": None if output.convention is None else str(output.convention)}
    # encoded here, so that what cannot travel without pickle is the call's failure
    return wire.encode_parts(answer, {name: np.asarray(a) for name, a in results.items() if a is not None})


def _answer(backend, header: dict, arrays: dict[str, np.ndarray]) -> bytes | list[bytes | memoryview]:
    """The message answering one compute call: its arrays, or what it raised."""
    try:
        return _compute(backend, header, arrays)
    except GaugeDependence as exc:
        return wire.encode({"error": "undefined", "message": str(exc)})
    except BaseException as exc:  # whatever the plug-in raises is its answer
        kind = "unsupported" if isinstance(exc, NotImplementedError) else "failed"
        return wire.encode({"error": kind, "message": described(exc), "trace": list(last_frames(exc))})
    finally:
        sys.stdout.flush()


def main() -> None:
    requests, answers = _take_channel()
    _redirect_stdout()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    crash = open(sys.argv[1], "w")  # noqa: SIM115 - open for faulthandler until the process ends
    faulthandler.enable(crash)
    faulthandler.register(signal.SIGUSR1, crash, all_threads=False)
    reader = wire.Reader(requests)
    try:
        hello, backend = _hello(wire.receive(reader, wire.HEADER_BYTES)[0])
        wire.send(answers, hello)
        while backend is not None:
            header, arrays = wire.receive(reader, sys.maxsize)
            wire.write(answers, _answer(backend, header, arrays))
            if sum(a.nbytes for a in arrays.values()) >= RELEASE_BYTES:
                del arrays
                release_free_memory()
    except wire.Closed:  # svdgrad is done with this backend
        pass


if __name__ == "__main__":
    main()
