"""``svdgrad check|sweep --decomposition eigh`` (issue 27): the gradients of losses of a real symmetric
eigendecomposition, each matrix judged by pipeline/eigh_check.py in the one run loop (run_loop.py:
signals, the interrupted report), written where the one plan says (outputs.py) in the formats of
EIGH_RENDERERS. An option of ``check`` rather than a sibling command: the inputs, the backends'
names and plug-in specs, --loss, --seed, --dtype, --format and -o mean the same thing; only the
decomposition differs, as numerics/differentiated.py's Target says.
"""

from __future__ import annotations

from dataclasses import replace

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.checked_session import run_checked
from svdgrad_cli.eigh_model import EighRun
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.cotangents import load_cotangents
from svdgrad_cli.inputs.loading import matrices
from svdgrad_cli.model import RunReport
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.options import RunOptions, Settings, SweepOptions, given_flags
from svdgrad_cli.outputs import Writer, draw_plot, require_folder, require_plot_file, require_writable
from svdgrad_cli.pipeline.eigh_check import record, symmetric_input
from svdgrad_cli.pipeline.eigh_sweep import EighBase, built_in_base, eigh_family, save_points, users_base
from svdgrad_cli.pipeline.sweep import parse_shape, users_matrix
from svdgrad_cli.render import EIGH_RENDERERS, EIGH_SWEEP_RENDERERS
from svdgrad_cli.run_loop import Stream, run_loop
from svdgrad_cli.verdicts import ReferencePrecision

SVD_DEFAULT_LOSS = "sum"  # --loss's default: under eigh, the sum of the eigenvalues (eigsum)
NOT_HONOURED = (  # the options --decomposition eigh cannot honour yet (also --jobs above 1)
    "plot",
    "save_repro",
    "zero_tol",
    "dup_tol",
    "full_matrices",
    "directions",
)


def _resolved(settings: Settings, options: RunOptions, formats: dict[str, str]):
    """(loss, backends) of an eigh run; a UsageError for what it cannot do."""
    if options.output_format not in formats:
        raise UsageError(
            f"--decomposition eigh writes --format {', '.join(formats)}; not {options.output_format}"
        )
    require_writable(options.output, "-o")
    if settings.mode != "vjp":
        raise UsageError("--decomposition eigh judges reverse-mode gradients (--mode vjp) only")
    given = given_flags(NOT_HONOURED, settings, options)
    given += ["--jobs above 1"] * (options.jobs > 1)
    if given:
        raise UsageError(f"--decomposition eigh: {', '.join(given)} not built yet")
    loss = parse_eigh_loss("eigsum" if settings.loss == SVD_DEFAULT_LOSS else settings.loss)
    if loss.kind == "wq" and settings.reference == "high":
        raise UsageError("--reference high: --loss wq reads its cotangents at NumPy's float64 eigenvectors")
    if settings.cotangents is not None:
        names = tuple(loss.weight_shapes(2))
        if not names:
            raise UsageError(
                f"--cotangents: loss {loss.name} has no weights to replace (--loss wq: C_w, C_Q)"
            )
        loss = replace(loss, given=load_cotangents(settings.cotangents, names))
    return loss, eigh_backends(tuple(settings.backends), settings.timeout)


def run_eigh_check(paths, settings: Settings, options: RunOptions, write: Writer, notify) -> int:
    """Check ``paths`` under --decomposition eigh, write the report, name each unchecked input; the
    exit code."""
    loss, backends = _resolved(settings, options, EIGH_RENDERERS)
    run = RunReport(settings, options=options)
    report = EighRun(run=run, failing=settings.failing, select=settings.select)
    tolerances = (settings.budget_factor, settings.rtol, settings.atol)
    precision = ReferencePrecision(settings.reference)

    def take(item):
        symmetrize = settings.symmetrize
        return record(item, loss, backends, settings.seed, symmetrize, report, notify, tolerances, precision)

    run_checked(paths, settings, options, report, take, write, notify, EIGH_RENDERERS)
    return report.exit_code


def _sweep_base(settings: Settings, options: RunOptions, sweep: SweepOptions) -> EighBase:
    """The family's eigenvectors and eigenvalues: --from's matrix (symmetric, or made so by
    --symmetrize), else the built-in one of --shape."""
    if sweep.source is not None:
        case = users_matrix(sweep.source, settings, options.max_elements)
        try:
            a, _ = symmetric_input(case.array, case.label, settings.symmetrize)
        except InputError as error:
            raise UsageError(f"--from {error}") from None
        return users_base(a, case.label, sweep.at)
    m, n = parse_shape(sweep.shape)
    if m != n:
        raise UsageError(f"sweep --decomposition eigh needs a square --shape, not {m}x{n}")
    return built_in_base(n, settings.seed, "float64" if settings.dtype == "auto" else settings.dtype)


def run_eigh_sweep(
    settings: Settings, options: RunOptions, sweep: SweepOptions, write: Writer, notify
) -> int:
    """``svdgrad sweep --decomposition eigh --vary gap|scale`` (pipeline/eigh_sweep.py): every point
    judged as a check's matrix, drawn with --plot; the exit code (1 on a wrong or non-finite point,
    else 0)."""
    require_plot_file(sweep.plot_file)
    require_folder(sweep.save_matrices, "--save-matrices")
    loss, backends = _resolved(settings, options, EIGH_SWEEP_RENDERERS)
    base = _sweep_base(settings, options, sweep)
    problem = loss.check_fits(len(base.w))
    if problem:
        raise UsageError(f"sweep --decomposition eigh, {len(base.w)}x{len(base.w)}: {problem}")
    family = list(eigh_family(sweep.vary, sweep.at, sweep.points, base))
    if sweep.save_matrices is not None:
        save_points(family, sweep.vary, sweep.save_matrices)
        notify(f"saved the matrices in {sweep.save_matrices}")
    cases = ((x, case) for x, loaded in family for case in matrices(loaded, base.dtype))
    run = RunReport(settings, options=options)
    report = EighRun(run=run, swept=sweep.vary, failing=settings.failing)
    tolerances = (settings.budget_factor, settings.rtol, settings.atol)
    precision = ReferencePrecision(settings.reference)

    def take(item):
        x, case = item
        judged = record(case, loss, backends, settings.seed, False, report, notify, tolerances, precision)
        report.parameters += [x] if judged is not None else []  # one parameter per report
        return judged

    stream = Stream(run, cases, take, report, covers="points checked")
    run_loop(stream, options, write, notify, EIGH_SWEEP_RENDERERS)
    if sweep.plot_file is not None and report.reports:
        from svdgrad_cli.render.eigh_plot import save_eigh_sweep_plot

        draw_plot(save_eigh_sweep_plot, report, sweep.plot_file, notify)
    return report.exit_code
