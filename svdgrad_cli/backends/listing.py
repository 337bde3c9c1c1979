"""What ``svdgrad backends`` prints: every backend, whether it loads here, its version and origin."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

from svdgrad_cli.backends import plugins, registry, torch_lowrank
from svdgrad_cli.backends.protocol import BUILT_IN
from svdgrad_cli.errors import SvdgradError


class Availability(StrEnum):
    """Whether a backend loads here, as ``svdgrad backends`` lists it."""

    AVAILABLE = "available"
    MISSING = "missing"  # not installed
    BROKEN = "broken"  # installed or named, but it does not load


BackendRow = tuple[str, Availability, str, str]  # (name, availability, version, origin)


def _builtin_rows(names: list[str]) -> list[BackendRow]:
    installed = [n for n in names if registry.is_available(n)]
    with ThreadPoolExecutor(max(1, len(installed))) as pool:  # each import in its own child process
        problems = dict(zip(installed, pool.map(registry.import_problem, installed), strict=True))
    rows = []
    for name in names:
        version = registry.installed_version(name) or ""
        if name not in problems:
            rows.append((name, Availability.MISSING, "", f"install with: {registry.install_hint(name)}"))
        elif problems[name]:
            rows.append((name, Availability.BROKEN, version, str(problems[name])))
        else:
            rows.append((name, Availability.AVAILABLE, version, BUILT_IN))
    return rows


def _lowrank_row(torch: BackendRow) -> BackendRow:
    """torch.svd_lowrank (torch_lowrank.py): loads where torch does, runs only where named, with its
    parameters."""
    _, status, version, origin = torch
    named = f"{BUILT_IN}, only where named: -b {torch_lowrank.USAGE}"
    return torch_lowrank.NAME, status, version, named if status is Availability.AVAILABLE else origin


def _plugin_row(name: str) -> BackendRow:
    try:
        backend = registry.load_backend(name)
    except SvdgradError as exc:
        return name, Availability.BROKEN, "", str(exc)
    if isinstance(backend, registry.UnloadableBackend):
        return name, Availability.BROKEN, "", backend.problem
    opt_in = "; runs only where named" if name in plugins.entry_point_backends() else ""
    return backend.name, Availability.AVAILABLE, backend.version() or "", backend.origin + opt_in


def backend_rows(specs: list[str]) -> list[BackendRow]:
    """(name, status, version, origin) of the built-in backends, registered and entry-point ones, and
    the specs asked about."""
    builtin = [n for n in registry.backend_names() if n in registry.BUILTIN]
    others = [n for n in registry.backend_names() if n not in registry.BUILTIN]
    try:
        rows = _builtin_rows(builtin)
        rows += [_lowrank_row(row) for row in rows if row[0] == "torch"]
        return rows + [_plugin_row(n) for n in [*others, *specs]]
    finally:
        registry.close_workers()  # each plug-in was loaded in its worker process
