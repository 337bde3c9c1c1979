"""Plug-ins of ``--decomposition eigh`` and ``--mode`` in worker processes: isolation.py's containment.

A plug-in is the user's code and must not decide the outcome of the run (isolation.py): its
``sys.exit(0)``, ``os._exit(0)``, crash, ``print`` or hang ends, at worst, its own worker process,
and the call is ``failed`` with the reason while the other backends' results stand. The SVD path's
plug-ins run in WorkerBackend workers; these are the same workers (isolation.py's WorkerBackend,
host.py, wire.py's messages: JSON and raw arrays, never pickle), hosting another kind of backend
(contained_host.py builds it in the worker from the spec's text):

- an eigh plug-in (Recipe kind EIGH_PLUGIN): eigh_backends.py's backend of the spec, computed in the
  worker; the call sends the stack and the bound eigh loss, the answer holds the eigenvalues, the
  gradients and the eigenvectors if any;
- a mode plug-in (MODE_PLUGIN): the framework's paths of a ``FRAMEWORK:MODULE:FUNCTION`` spec
  (modes.py's framework_paths with the user's SVD) are built and run in the worker; a call sends the
  bound loss, mode, dtype, k and the path's name with the matrix and direction, and the answer is the
  path's value (a first call with no path asks for the paths' names).

Built-in backends (no user code) stay in this process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.backends import wire
from svdgrad_cli.backends.isolation import Recipe, WorkerBackend
from svdgrad_cli.backends.protocol import EIGH_PLUGIN, MODE_PLUGIN, BackendFailure
from svdgrad_cli.errors import UsageError


def eigh_loss_message(loss) -> tuple[dict, dict[str, np.ndarray]]:
    """A bound eigh loss (eigh_losses.EighLoss) as a header and its weight arrays."""
    header = {"loss": loss.name, "on_complex": bool(loss.on_complex)}
    return header, {f"loss {key}": value for key, value in loss.arrays.items()}


def _eigh_output(answer: dict, arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> tuple:
    """(eigenvalues, gradients, eigenvectors or None) of an eigh plug-in's answer."""
    if "values" not in arrays or "gradients" not in arrays:
        raise BackendFailure("answered without eigenvalues or gradients")
    return arrays["values"], arrays["gradients"], arrays.get("vectors")


@dataclass(frozen=True)
class EighWorker:
    """An eigh plug-in (``python:`` or a framework spec) computed in its worker process; the compute
    of eigh_backends.py's backends, BackendFailure where the worker did not answer."""

    name: str
    worker: WorkerBackend
    timeout: float | None = None

    def compute(self, stack: np.ndarray, loss) -> tuple:
        header, weights = eigh_loss_message(loss)
        message = wire.encode(header, {"stack": stack, **weights})
        return self.worker.call(message, stack.shape, self.timeout, _eigh_output)


def eigh_worker(text: str, timeout: float | None = None) -> EighWorker:
    """The eigh plug-in of spec ``text`` loaded in a worker (UsageError where it cannot be)."""
    worker = WorkerBackend(Recipe(EIGH_PLUGIN, text))
    return EighWorker(worker.name, worker, timeout)


def _names(answer: dict, arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> list[str]:
    names = answer.get("paths")
    if not isinstance(names, list):
        raise BackendFailure("answered without the names of its paths")
    return [str(name) for name in names]


def _value(answer: dict, arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    value, told = arrays.get("value"), answer.get("shape")
    if value is None or not isinstance(told, list) or value.size != np.prod(told, dtype=int):
        raise BackendFailure("answered without a value")
    return value.reshape(tuple(int(side) for side in told))


NAMES_SHAPE = (1,)  # the answer listing the paths holds no array


@dataclass(frozen=True)
class ModeWorker:
    """A framework spec's paths of a mode, built and run in its worker process."""

    worker: WorkerBackend
    timeout: float | None = None

    def paths(self, loss, mode: str, dtype, k: int) -> dict[str, Callable]:
        """Path name -> fn(x, e), each call answered by the worker (BackendFailure where it did not)."""
        header, weights = wire.loss_message(loss)
        asked = {**header, "mode": mode, "dtype": np.dtype(dtype).str, "k": int(k)}
        listing = wire.encode({**asked, "path": None}, weights)
        names = self.worker.call(listing, NAMES_SHAPE, self.timeout, _names)
        return {name: functools.partial(self._run, asked, weights, name) for name in names}

    def _run(self, asked: dict, weights: dict, name: str, x: np.ndarray, e: np.ndarray) -> np.ndarray:
        message = wire.encode({**asked, "path": name}, {"x": x, "e": e, **weights})
        return self.worker.call(message, np.shape(x), self.timeout, _value)


_mode_workers: dict[str, ModeWorker] = {}


def mode_worker(spec_text: str, timeout: float | None = None) -> ModeWorker:
    """The worker of a framework spec's mode paths (one per spec in this process), or BackendFailure
    where it cannot be started."""
    found = _mode_workers.get(spec_text)
    if found is None:
        try:
            found = ModeWorker(WorkerBackend(Recipe(MODE_PLUGIN, spec_text)))
        except UsageError as exc:
            raise BackendFailure(str(exc)) from None
        _mode_workers[spec_text] = found
    return ModeWorker(found.worker, timeout)
