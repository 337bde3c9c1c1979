"""Backend registry: each framework's module is imported only when that backend is first used.

Built-in backends are listed by module path (as pip's ``commands_dict`` does) and probed with
``importlib.util.find_spec``, which imports nothing; users add their own with ``register_backend``,
with a spec on the command line (``-b torch:mypkg.linalg:safe_svd``, plugins.py) or through an entry
point of the group ``svdgrad.backends`` (run only where named). Every entry follows the protocol of
protocol.py; specs and entry points run in a worker process each (isolation.py).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.backends import hosted, isolation, plugins
from svdgrad_cli.backends.framework import BUILTIN
from svdgrad_cli.backends.function import FunctionBackend
from svdgrad_cli.backends.hosted import FrameworkWorker
from svdgrad_cli.backends.isolation import Recipe, WorkerBackend
from svdgrad_cli.backends.protocol import BUILT_IN, Backend, BackendOutput
from svdgrad_cli.backends.torch_lowrank import parse_lowrank
from svdgrad_cli.errors import BackendUnavailable, UsageError

# What to install for each optional backend; torch is pinned to the CPU wheel this project tests with
# (the extras svdgrad[torch] and svdgrad[jax] of a checkout install the same).
INSTALL = {"torch": "pip install torch==2.13.0", "jax": "pip install jax"}


@dataclass(frozen=True)
class UnloadableBackend:
    """An entry point that cannot be loaded. Named with -b it is a usage error (resolve_backends);
    among the default backends it fails every call, so one broken package does not stop the others."""

    name: str
    problem: str
    origin: str = "entry point that cannot be loaded"
    gives_factors: bool = False

    def version(self) -> str | None:
        return None

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput:
        raise RuntimeError(self.problem)


_custom: dict[str, Backend] = {}
_loaded: dict[str, Backend] = {}  # specs and entry points, by the text that named them
_hosted: dict[str, FrameworkWorker] = {}  # built-ins in their worker processes (hosted.py)


def register_backend(name: str, compute: Callable | str, version: str = "custom") -> None:
    """Add (or replace) a backend under ``name``: ``compute(stack, loss)`` as described above, or a
    spec string as on the command line (``"torch:mypkg.linalg:safe_svd"``, plugins.py)."""
    unregister_backend(name)
    if isinstance(compute, str):
        if plugins.parse_spec(compute) is None:
            raise UsageError(f"register_backend({name!r}, {compute!r}): not a spec FRAMEWORK:MODULE:FUNCTION")
        _custom[name] = WorkerBackend(Recipe("spec", compute, name, "register_backend"))
    else:
        _custom[name] = FunctionBackend(name, compute, version)


def unregister_backend(name: str) -> None:
    backend = _custom.pop(name, None)
    if isinstance(backend, WorkerBackend):
        backend.close()


def end_run() -> None:
    """The end of a run for the plug-ins' worker processes (isolation.py): the idle beyond a few end."""
    isolation.end_run()


def start_workers(names) -> None:
    """Start at once a worker process for each built-in backend of ``names`` (hosted.py): their
    frameworks load side by side, and the run's calls to them go to their workers."""
    for name in names:
        if name in BUILTIN and name not in _custom:
            _host(name)


def start_early(names) -> None:
    """start_workers for a check's backends as the command line names them (``-b``, or the
    configured list; none: every built-in installed), before the rest of svdgrad is imported or any
    file read, so that the frameworks' start-up overlaps all of that too. Names that are not
    installed built-ins are left to resolve_backends, which says why."""
    start_workers(n for n in (names or BUILTIN) if n in BUILTIN and _installed(n))


def _host(name: str) -> None:
    """Start the worker of the built-in ``name``; where none can start here (no writable temporary
    directory for its crash file: OSError), the backend stays in this process."""
    try:
        if name not in _hosted:
            _hosted[name] = FrameworkWorker(BUILTIN[name])
        _hosted[name].start()
    except OSError:
        worker = _hosted.pop(name, None)
        if worker is not None:
            worker.close()


def send_ahead(names, stack: np.ndarray, loss, full_matrices: bool) -> None:
    """Send one call to the worker of every built-in of ``names`` at once, so that they compute side
    by side (hosted.py); each backend's compute() with these arguments takes its answer."""
    workers = [_hosted[name] for name in names if name in _hosted and name not in _custom]
    if len(workers) > 1:
        hosted.send_ahead(workers, stack, loss, full_matrices)


def close_workers() -> None:
    """End the worker processes of the plug-ins (isolation.py)."""
    isolation.stop_all()


def backend_names() -> list[str]:
    """Built-in, registered and entry-point backends (specs are named where they are used)."""
    names = [*BUILTIN, *(n for n in _custom if n not in BUILTIN)]
    return names + [n for n in plugins.entry_point_backends() if n not in names]


def is_available(name: str) -> bool:
    if name in _custom or name in _loaded or name in plugins.entry_point_backends():
        return True
    return name in BUILTIN and _installed(name)


def _installed(builtin: str) -> bool:
    """Whether the framework of a built-in backend is installed (nothing imported)."""
    return importlib.util.find_spec(BUILTIN[builtin].requires) is not None


def origin(name: str) -> str:
    return load_backend(name).origin if name not in BUILTIN or name in _custom else BUILT_IN


def installed_version(name: str) -> str | None:
    """The backend's version (a framework's from its package metadata, without importing it)."""
    try:
        return load_backend(name).version()
    except (KeyError, UsageError):
        return None


def install_hint(name: str) -> str:
    spec = BUILTIN.get(name)
    if spec is None:
        return "register it with register_backend()"
    return INSTALL.get(name, f"pip install {spec.distribution}")


IMPORT_TIMEOUT = 120  # seconds; TensorFlow alone takes several


def import_problem(name: str) -> str | None:
    """Why a built-in backend's framework fails to import here (its last error line), or None.

    Imported in a child process, so a broken install (or a slow TensorFlow) costs this one nothing.
    """
    backend = BUILTIN[name]
    code = f"import importlib; importlib.import_module({backend.module_path!r}).framework()"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=IMPORT_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return f"importing {backend.requires} took over {IMPORT_TIMEOUT} s"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {done.returncode}"


def default_backends() -> list[str]:
    """Every built-in and registered backend that can run here, in registry order. An entry point
    runs only where it is named (-b, or ``backends`` in [tool.svdgrad]): installing a package must
    not change everyone's run."""
    entry_points = plugins.entry_point_backends()
    return [name for name in backend_names() if name not in entry_points and is_available(name)]


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
            backend = load_backend(name)  # a spec or an entry point: imported now, errors are usage errors
            if isinstance(backend, UnloadableBackend):
                raise UsageError(backend.problem)
        elif not is_available(name):
            raise BackendUnavailable(
                f"backend {name!r} is not installed; install it with: {install_hint(name)}"
            )
        if name not in resolved:
            resolved.append(name)
    _refuse_shared_names(resolved)
    return resolved


def _refuse_shared_names(names: list[str]) -> None:
    """Two backends reported under one name would merge in every report: a usage error."""
    seen: dict[str, str] = {}
    for name in names:
        shown = display_name(name)
        if shown in seen:
            raise UsageError(
                f"backends {seen[shown]!r} and {name!r} would both be reported as {shown!r}; "
                "name one with NAME=SPEC"
            )
        seen[shown] = name


def load_backend(name: str) -> Backend:
    """The backend registered under ``name`` (a custom one wins over a built-in of that name), or
    the one a spec or an entry point of that name provides (loaded once)."""
    if name in _custom:
        return _custom[name]
    if name in BUILTIN:
        return _hosted.get(name, BUILTIN[name])
    if name not in _loaded:
        _loaded[name] = _load_plugin(name)
    return _loaded[name]


def _load_plugin(name: str) -> Backend:
    lowrank = parse_lowrank(name)  # torch.svd_lowrank, named only where asked for (torch_lowrank.py)
    if lowrank is not None:
        if not is_available("torch"):
            raise BackendUnavailable(f"backend {name!r} needs torch: {install_hint('torch')}")
        return lowrank
    spec = plugins.parse_spec(name)
    if spec is not None:
        if spec.contract in BUILTIN and not is_available(spec.contract):
            raise BackendUnavailable(f"backend {name!r} needs {spec.contract}: {install_hint(spec.contract)}")
        return WorkerBackend(Recipe("spec", name))
    if name in plugins.entry_point_backends():
        try:
            return WorkerBackend(Recipe("entry point", name))
        except UsageError as exc:
            return UnloadableBackend(name, str(exc))
    raise UsageError(
        f"unknown backend {name!r}; known: {', '.join(backend_names())}, or a spec FRAMEWORK:MODULE:FUNCTION"
    )


def backend_versions(names) -> dict[str, str | None]:
    """Each backend's version by the name it is reported under."""
    return {display_name(name): installed_version(name) for name in names}


def display_name(name: str) -> str:
    """The name a backend is reported under (a spec's NAME=, or MODULE.FUNCTION)."""
    return load_backend(name).name
