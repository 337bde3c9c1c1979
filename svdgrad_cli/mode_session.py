"""``svdgrad check|sweep --mode jvp|hvp`` (issue 25): ``--mode`` selects a Target whose DerivativeMode
is the JVP or the HVP (numerics/differentiated.py); each matrix or point is judged by its ModeCheck
(pipeline/modes_run.py) in the one run loop (run_loop.py: signals, the interrupted report), written
where the one plan says (outputs.py) in the formats of MODE_RENDERERS or MODE_SWEEP_RENDERERS.
The VJP is session.py and sweep_session.py.
"""

from __future__ import annotations

from svdgrad_cli.checked_session import run_checked
from svdgrad_cli.errors import UsageError
from svdgrad_cli.mode_model import ModePoint, ModeRun, ModeSweep
from svdgrad_cli.model import RunReport
from svdgrad_cli.numerics.differentiated import DerivativeMode, Target
from svdgrad_cli.options import RunOptions, Settings, SweepOptions, given_flags
from svdgrad_cli.outputs import Writer, draw_plot, require_plot_file, require_writable
from svdgrad_cli.pipeline.modes_run import ModeCheck, load_directions, mode_target
from svdgrad_cli.pipeline.modes_sweep import iter_mode_points, sweep_check
from svdgrad_cli.pipeline.run import resolve_settings
from svdgrad_cli.pipeline.sweep import SweepSpec, build_family, parse_shape
from svdgrad_cli.render import MODE_RENDERERS, MODE_SWEEP_RENDERERS
from svdgrad_cli.render.plots import require_matplotlib
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.run_loop import Stream, run_loop


def mode_run_target(settings: Settings) -> Target | None:
    """The Target ``--mode`` selects when its derivative is not the VJP, else None (session.py's
    run); ``--directions`` is for --mode jvp only."""
    target = mode_target(settings.mode)
    if settings.directions is not None and target.mode is not DerivativeMode.JVP:
        raise UsageError("--directions is for --mode jvp (hvp draws its own; give them in Python)")
    return None if target.mode is DerivativeMode.VJP else target


def _require_format(options: RunOptions, registry: dict[str, str], command: str) -> None:
    if options.output_format not in registry:
        raise UsageError(f"{command} writes --format {', '.join(registry)}; not {options.output_format}")
    require_writable(options.output, "-o")


# Options of check and sweep that a --mode jvp|hvp run does not honour: given, they are refused
# rather than ignored (fail closed). Each is given when it differs from its default.
UNHONOURED = (
    "dup_tol",
    "budget_factor",
    "rtol",
    "atol",
    "reference",
    "cotangents",
    "full_matrices",
    "show_gradients",
    "show_reference",
    "include_arrays",
    "save_repro",
)


def _refuse_unhonoured(settings: Settings, options: RunOptions, command: str) -> None:
    """A UsageError naming the first option of UNHONOURED given, or --jobs (a mode's paths are
    transforms built in this process, which worker processes cannot share)."""
    if options.jobs > 1:
        raise UsageError(f"{command} runs in one process (each path is a transform built here); drop --jobs")
    given = given_flags(UNHONOURED, settings, options)
    if given:
        raise UsageError(f"{command} does not honour {', '.join(given)} (it is for --mode vjp); drop it")


def run_mode_check(
    paths, target: Target, settings: Settings, options: RunOptions, write: Writer, notify
) -> int:
    """Check ``paths`` in ``target``'s mode (--select, --skip, --shard, --plan, --fail-on as check),
    write the report, name each unchecked input and each --select that matched nothing; the exit
    code."""
    _require_format(options, MODE_RENDERERS, f"--mode {target.mode}")
    _refuse_unhonoured(settings, options, f"--mode {target.mode}")
    settings = resolve_settings(settings)
    given = load_directions(settings.directions) if settings.directions else None
    check = ModeCheck.resolve(
        target, settings.loss, settings.backends, settings.seed, settings.zero_tol, given, settings.timeout
    )
    run = RunReport(settings, options=options)
    report = ModeRun(target.mode, run=run, failing=settings.failing, select=settings.select)
    take = _pictured(lambda item: check.record(item, report, notify), options.plot, notify)
    run_checked(paths, settings, options, report, take, write, notify, MODE_RENDERERS)
    return report.exit_code


def _pictured(record, folder: str | None, notify):
    """``record`` that also draws each matrix's picture into --plot ``folder`` (render/mode_plots.py)."""
    if folder is None:
        return record
    require_matplotlib()
    from svdgrad_cli.render.mode_plots import save_mode_pictures

    taken: set[str] = set()

    def take(item):
        report = record(item)
        if report is not None:
            notify(f"wrote {save_mode_pictures(report, folder, taken)}")
        return report

    return take


def run_mode_sweep(
    target: Target, settings: Settings, options: RunOptions, sweep: SweepOptions, write, notify
) -> int:
    """``svdgrad sweep --mode jvp|hvp``: every point judged in the mode, written as a check's report
    is; the exit code (1 on a wrong or non-finite point, else 0)."""
    command = f"sweep --mode {target.mode}"
    if settings.directions is not None:
        raise UsageError("sweep draws one seeded direction per family; --directions is for check --mode jvp")
    if sweep.save_matrices is not None:
        raise UsageError(f"{command}: --save-matrices is for --mode vjp sweeps")
    _require_format(options, MODE_SWEEP_RENDERERS, command)
    require_plot_file(sweep.plot_file)
    _refuse_unhonoured(settings, options, command)
    settings = resolve_settings(settings)
    spec = SweepSpec(sweep.vary, sweep.at, sweep.points, parse_shape(sweep.shape), sweep.source)
    family = build_family(spec, settings, options.max_elements)
    run = RunReport(settings, options=options)
    report = ModeSweep(family, target.mode, run=run)

    def take(point: ModePoint) -> ModePoint:
        report.points.append(point)
        return point

    points = iter_mode_points(family, sweep_check(family, target, settings))
    progress = RunProgress(len(family.members))
    stream = Stream(run, points, take, report, progress, covers="points checked")
    run_loop(stream, options, write, notify, MODE_SWEEP_RENDERERS)
    if sweep.plot_file is not None and report.points:
        from svdgrad_cli.render.mode_plots import save_mode_sweep_plot

        draw_plot(save_mode_sweep_plot, report, sweep.plot_file, notify)
    return report.exit_code
