"""svdgrad: diagnose SVD gradients across frameworks against an independent reference.

The public API imports no framework and neither click nor rich; names load on first use, so that
``import svdgrad_cli`` (and ``svdgrad --help``) costs nothing::

    from svdgrad_cli import check
    report = check(matrix, loss="sum")          # RunReport; report.results[0].verdict
"""

from __future__ import annotations

import importlib

from svdgrad_cli._version import __version__

# public name -> module that defines it
_EXPORTS = {
    "register_backend": "svdgrad_cli.backends.registry",
    "unregister_backend": "svdgrad_cli.backends.registry",
    "assert_gradients_ok": "svdgrad_cli.pipeline.run",
    "check": "svdgrad_cli.pipeline.run",
    "check_paths": "svdgrad_cli.pipeline.run",
    "check_eigh": "svdgrad_cli.pipeline.eigh_run",
    "iter_reports": "svdgrad_cli.pipeline.stream",
    "BackendUnavailable": "svdgrad_cli.errors",
    "InputError": "svdgrad_cli.errors",
    "SvdgradError": "svdgrad_cli.errors",
    "UsageError": "svdgrad_cli.errors",
    "MatrixReport": "svdgrad_cli.model",
    "RunReport": "svdgrad_cli.model",
    "Settings": "svdgrad_cli.options",
    "RunOptions": "svdgrad_cli.options",
}
__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'svdgrad_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
