"""``svdgrad check --decomposition eigh`` (issue 27): the gradients of losses of a real symmetric
eigendecomposition, each matrix judged by pipeline/eigh_check.py in the one run loop (run_loop.py:
signals, the interrupted report), written where the one plan says (outputs.py) in the formats of
EIGH_RENDERERS. An option of ``check`` rather than a sibling command: the inputs, the backends'
names and plug-in specs, --loss, --seed, --dtype, --format and -o mean the same thing; only the
decomposition differs, as numerics/differentiated.py's Target says.
"""

from __future__ import annotations

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.eigh_model import EighRun
from svdgrad_cli.errors import UsageError
from svdgrad_cli.model import RunReport
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.outputs import Writer, require_writable
from svdgrad_cli.pipeline.eigh_check import record
from svdgrad_cli.pipeline.modes_run import path_cases
from svdgrad_cli.render import EIGH_RENDERERS
from svdgrad_cli.run_loop import Stream, run_loop

SVD_DEFAULT_LOSS = "sum"  # --loss's default: under eigh, the sum of the eigenvalues (eigsum)


def run_eigh_check(paths, settings: Settings, options: RunOptions, write: Writer, notify) -> int:
    """Check ``paths`` under --decomposition eigh, write the report, name each unchecked input; the
    exit code."""
    if options.output_format not in EIGH_RENDERERS:
        raise UsageError(
            f"--decomposition eigh writes --format {', '.join(EIGH_RENDERERS)}; not {options.output_format}"
        )
    require_writable(options.output, "-o")
    if settings.mode != "vjp":
        raise UsageError("--decomposition eigh judges reverse-mode gradients (--mode vjp) only")
    loss = parse_eigh_loss("eigsum" if settings.loss == SVD_DEFAULT_LOSS else settings.loss)
    backends = eigh_backends(tuple(settings.backends))
    run = RunReport(settings, options=options)
    report = EighRun(run=run)
    cases = path_cases(paths, settings.dtype, options.max_elements)

    def take(item):
        return record(item, loss, backends, settings.seed, settings.symmetrize, report, notify)

    run_loop(Stream(run, cases, take, report), options, write, notify, EIGH_RENDERERS)
    return report.exit_code


def refuse_sweep(*_) -> int:
    """``svdgrad sweep --decomposition eigh``: not built yet, a one-line usage error."""
    raise UsageError("svdgrad sweep does not take --decomposition eigh yet; use svdgrad check")
