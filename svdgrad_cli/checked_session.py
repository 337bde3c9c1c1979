"""The run of a ``check`` judged outside the SVD pipeline: ``--mode jvp|hvp`` (mode_session.py) and
``--decomposition eigh`` (eigh_session.py). Both read their PATHS as the SVD check does, with the same
--select and --skip (a --select that matched no tensor is named and exits 2), --shard K/N and --plan
FILE (inputs/shards.py, inputs/plan.py: the same plan, so the same matrices go to the same shard),
and stream each loaded matrix to the caller's ``record`` through the one run loop (run_loop.py).

A shard's run keeps each report's and each input error's position in the unsharded run; its ``-f
jsonl`` report (render/checked_jsonl.py) carries them, and ``svdgrad merge`` (merge_checked.py)
restores the one run's order from them.
"""

from __future__ import annotations

from collections.abc import Callable

from svdgrad_cli.eigh_model import EighRun
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.plan import planned_files
from svdgrad_cli.inputs.shards import ShardPlan, parse_shard
from svdgrad_cli.mode_model import CheckedRun, ModeRun
from svdgrad_cli.model import unmatched_text
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.outputs import Writer
from svdgrad_cli.pipeline.modes_run import path_cases
from svdgrad_cli.pipeline.run import run_versions
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.run_loop import Stream, run_loop


def _sourced(record: Callable, report: CheckedRun) -> Callable:
    """``record`` that first notes every input met (its tensor names answer --select)."""

    def take(item):
        report.sources.append(item.source)
        return record(item)

    return take


def _positioned(record: Callable, report: EighRun | ModeRun, plan: ShardPlan) -> Callable:
    """``record`` that also notes where the report or the input error it adds comes in the run."""

    def take(item):
        if isinstance(item, Skipped):  # reported by no format of these runs: no place to keep
            return record(item)
        position = plan.position(item.source, getattr(item, "index", ()))
        reports, errors = len(report.reports), len(report.errors)
        shown = record(item)
        report.positions += [position] * (len(report.reports) - reports)
        report.error_positions += [position] * (len(report.errors) - errors)
        return shown

    return take


def run_checked(
    paths: list[str],
    settings: Settings,
    options: RunOptions,
    report: EighRun | ModeRun,
    record: Callable,
    write: Writer,
    notify: Writer,
    registry: dict[str, str],
) -> None:
    """Check the matrices of ``paths`` (this shard's, or the plan's) into ``report``, each loaded
    item given to ``record(item)``; write the report in the formats of ``registry`` and name each
    --select that matched no tensor."""
    shard = parse_shard(options.shard, paths)
    plan = planned_files(paths, shard, settings, options)
    if plan is not None:
        notify(plan.summary())
    files = (
        collect_files(paths, options.recursive, options.globs, options.excludes)
        if plan is None
        else plan.files
    )
    run = report.run
    if run is None:
        raise TypeError("a checked run without its RunReport")
    run.versions = run_versions(settings)
    take = _sourced(record, report)
    if shard is not None and plan is not None:
        run.shard = plan.info
        take = _positioned(take, report, plan)
    progress = RunProgress(len(files.entries))
    cases = path_cases(files, settings, options.max_elements, progress.file)
    run_loop(Stream(run, cases, take, report, progress), options, write, notify, registry)
    if not report.reports and not report.errors and not run.interrupted:  # exit 2: fail closed
        notify("nothing was checked" + (" (no matrix of the run is this shard's)" if shard else ""))
    for pattern in report.unmatched:
        notify(f"error: {unmatched_text('--select', pattern)}")
