"""svdgrad: diagnose SVD gradients across frameworks against a float64 reference.

The public API imports no framework and neither click nor rich::

    from svdgrad_cli import check
    report = check(matrix, loss="sum")          # RunReport; report.results[0].verdict
"""

__version__ = "0.1.0"

from svdgrad_cli.backends.registry import register_backend, unregister_backend
from svdgrad_cli.errors import BackendUnavailable, InputError, SvdgradError, UsageError
from svdgrad_cli.model import MatrixReport, RunReport, Settings
from svdgrad_cli.pipeline.run import check, check_paths, iter_reports

__all__ = [
    "BackendUnavailable",
    "InputError",
    "MatrixReport",
    "RunReport",
    "Settings",
    "SvdgradError",
    "UsageError",
    "__version__",
    "check",
    "check_paths",
    "iter_reports",
    "register_backend",
    "unregister_backend",
]
