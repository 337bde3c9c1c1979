"""What ``svdgrad backends`` prints: every backend, whether it loads here, its version and origin."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from svdgrad_cli.backends import plugins, registry
from svdgrad_cli.errors import SvdgradError


def _builtin_rows(names: list[str]) -> list[tuple[str, str, str, str]]:
    installed = [n for n in names if registry.is_available(n)]
    with ThreadPoolExecutor(max(1, len(installed))) as pool:  # each import in its own child process
        problems = dict(zip(installed, pool.map(registry.import_problem, installed), strict=True))
    rows = []
    for name in names:
        version = registry.installed_version(name) or ""
        if name not in problems:
            rows.append((name, "missing", "", f"install with: {registry.install_hint(name)}"))
        elif problems[name]:
            rows.append((name, "broken", version, str(problems[name])))
        else:
            rows.append((name, "available", version, "built-in"))
    return rows


def _plugin_row(name: str) -> tuple[str, str, str, str]:
    try:
        backend = registry.load_backend(name)
    except SvdgradError as exc:
        return name, "broken", "", str(exc)
    if isinstance(backend, registry.UnloadableBackend):
        return name, "broken", "", backend.problem
    opt_in = "; runs only where named" if name in plugins.entry_point_backends() else ""
    return backend.name, "available", backend.version() or "", backend.origin + opt_in


def backend_rows(specs: list[str]) -> list[tuple[str, str, str, str]]:
    """(name, status, version, origin) of the built-in backends, registered and entry-point ones, and
    the specs asked about."""
    builtin = [n for n in registry.backend_names() if n in registry.BUILTIN]
    others = [n for n in registry.backend_names() if n not in registry.BUILTIN]
    try:
        return _builtin_rows(builtin) + [_plugin_row(n) for n in [*others, *specs]]
    finally:
        registry.close_workers()  # each plug-in was loaded in its worker process
