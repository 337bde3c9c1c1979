"""``svdgrad check --mode jvp|hvp`` (issue 25): run pipeline/modes_run.py on the paths and write the
report in the chosen format. The ``vjp`` mode is session.py.

Hook for the seam of issue 23: cli.py calls ``run_mode_check`` when ``--mode`` is not ``vjp``.
"""

from __future__ import annotations

from pathlib import Path

from svdgrad_cli.errors import UsageError
from svdgrad_cli.pipeline.modes_run import check_mode_paths
from svdgrad_cli.pipeline.run import resolve_settings
from svdgrad_cli.render.modes import FORMATS, render

SUPPORTED_FORMATS = ("table", *FORMATS)


def run_mode_check(paths, settings, run_options, write, notify) -> int:
    """Check ``paths`` in ``settings.mode``, write the report, name each unchecked input; the exit code."""
    mode, directions = settings.mode, settings.directions
    if run_options.output_format not in SUPPORTED_FORMATS:
        raise UsageError(f"--mode {mode} writes --format {', '.join(SUPPORTED_FORMATS)}")
    if directions is not None and mode != "jvp":
        raise UsageError("--directions is for --mode jvp (hvp draws its own; give them in Python)")
    settings = resolve_settings(settings)
    run = check_mode_paths(paths, settings, mode, directions, run_options.max_elements)
    for error in run.errors:
        notify(error)
    write(render(run.reports, mode, run_options.output_format))
    if run_options.output:
        chosen = "json" if run_options.output_format == "table" else run_options.output_format
        Path(run_options.output).write_text(render(run.reports, mode, chosen))
    return run.exit_code


def run_mode_sweep(spec, settings, run_options, write) -> int:
    """``svdgrad sweep --mode jvp|hvp``: the table or JSON of pipeline/modes_sweep.py; the exit code
    (1 on a wrong or non-finite point, else 0)."""
    from svdgrad_cli.pipeline.modes_sweep import sweep_modes
    from svdgrad_cli.render.modes import sweep_json, sweep_table

    if settings.directions is not None:
        raise UsageError("sweep draws one seeded direction per family; --directions is for check --mode jvp")
    if run_options.output_format not in ("table", "json"):
        raise UsageError(f"sweep --mode {settings.mode} writes --format table or json")
    settings = resolve_settings(settings)
    sweep = sweep_modes(spec, settings, run_options.max_elements)
    write(sweep_json(sweep) if run_options.output_format == "json" else sweep_table(sweep))
    if run_options.output:
        Path(run_options.output).write_text(sweep_json(sweep))
    findings = [r for _, _, report in sweep.points for d in report.directions for r in d.results]
    return 1 if any(r.verdict.is_finding for r in findings) else 0
