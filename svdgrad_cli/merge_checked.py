"""``svdgrad merge`` of the shards of a check outside the SVD pipeline (``--mode jvp|hvp``,
``--decomposition eigh``): their ``-f jsonl`` reports (render/checked_jsonl.py) as one run.

Refused as merge.py refuses the SVD check's shards (the same code: versions and settings alike, every
shard 1..N of one plan exactly once, each shard's lines the ones it wrote, no two results at one place
in the run), and also: reports of different kinds (eigh, jvp, hvp, or one of them and the SVD
check's), a result line that does not read back as the result it says (its fields rebuilt and written
again must give the same record), and a report whose lines do not give the exit code its summary line
records. The merged run has every shard's results and input errors in the order one unsharded run
gives them, and is written by that kind's renderers, with that run's exit code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from svdgrad_cli.checked_read import report_from_dict
from svdgrad_cli.eigh_model import EighReport, EighRun
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.parts import ShardInfo
from svdgrad_cli.json_read import options_from_settings
from svdgrad_cli.merge import (
    MALFORMED,
    NO_SUMMARY,
    ShardReport,
    _check_alike,
    _check_shards,
    _interrupted_by,
    _records,
    merge_files,
    write_report,
)
from svdgrad_cli.mode_model import CheckedRun, ModeReport, ModeRun
from svdgrad_cli.model import RunReport, unmatched_text
from svdgrad_cli.numerics.differentiated import DerivativeMode
from svdgrad_cli.options import RunOptions
from svdgrad_cli.outputs import Writer
from svdgrad_cli.render import EIGH_RENDERERS, MODE_RENDERERS
from svdgrad_cli.render.checked_jsonl import CHECKED_SCHEMA
from svdgrad_cli.render.jsonl import LineDigest
from svdgrad_cli.run_loop import Stream, run_loop

KINDS = ("eigh", *(mode.value for mode in DerivativeMode if mode is not DerivativeMode.VJP))
SUMMARY_KEYS = ("kind", "settings", "versions", "errors", "error_positions", "sources", "interrupted")


def _last_record(path: str) -> dict | None:
    """The last line of ``path`` as JSON (None where it cannot be read as one)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
        record = json.loads(lines[-1]) if lines else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_checked_report(path: str) -> bool:
    """Whether ``path`` ends with the summary line of render/checked_jsonl.py."""
    record = _last_record(path)
    return record is not None and record.get("schema") == CHECKED_SCHEMA


Placed = tuple[tuple[int, ...] | None, EighReport | ModeReport]


@dataclass
class CheckedShard(ShardReport):
    """One report of render/checked_jsonl.py as read: ``placed`` its results, each with its position."""

    placed: list[Placed] = field(default_factory=list)


def _position(value) -> tuple[int, ...]:
    """A position as written (a list of whole numbers); ValueError for anything else."""
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise ValueError(f"position {value!r} is not a list of whole numbers")
    return tuple(value)


def _check_summary(report: ShardReport) -> None:
    """A TypeError or ValueError where the summary line is not one that svdgrad writes."""
    summary = report.summary
    if summary["kind"] not in KINDS:
        raise ValueError(f"kind {summary['kind']!r} is none of {', '.join(KINDS)}")
    if not isinstance(summary["settings"], dict) or not isinstance(summary["versions"], dict):
        raise TypeError("settings and versions must be objects")
    for key in ("errors", "error_positions", "sources"):
        if not isinstance(summary[key], list):
            raise TypeError(f"{key} must be a list")
    options_from_settings(report.settings)
    [_position(p) for p in summary["error_positions"]]
    _ = report.shard


def _lines(path: str) -> tuple[dict | None, LineDigest, list[tuple[int, dict]]]:
    """The summary line, the digest of the result lines and each result line's number and record."""
    summary, digest, records = None, LineDigest(), []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line, record in _records(path, handle):
                if summary is not None:
                    raise InputError(path, f"line {number} follows the summary line, which ends a report")
                if record["type"] == "summary":
                    summary = record
                else:
                    digest.update(line)
                    records.append((number, record))
    except OSError as exc:
        raise InputError(path, f"cannot read it ({exc.strerror or exc})") from None
    return summary, digest, records


def read_checked(path: str) -> CheckedShard:
    """One report: its summary line and its results rebuilt, each result's position kept beside it."""
    summary, digest, records = _lines(path)
    if summary is None or any(key not in summary for key in SUMMARY_KEYS):
        raise InputError(path, "no whole summary line: the run did not finish, or this is not its report")
    report = CheckedShard(path, summary, lines=digest)
    try:
        _check_summary(report)
    except MALFORMED as exc:
        raise InputError(path, f"its summary line is not valid ({exc})") from None
    for number, record in records:
        try:
            position = record.get("position")
            report.placed.append(
                (None if position is None else _position(position), report_from_dict(summary["kind"], record))
            )
        except MALFORMED as exc:
            raise InputError(path, f"line {number} is not a valid result ({exc})") from None
    return report


Checked = EighRun | ModeRun


def _run(kind: str, settings, options: RunOptions, report: ShardReport | None = None) -> Checked:
    """An empty run of ``kind``: a shard's as it was written (``report``), else the merged one."""
    run = RunReport(settings, options=options)
    if report is not None:
        run.interrupted = bool(report.summary["interrupted"])
        run.interrupted_by = _interrupted_by([report])
        run.shard = (
            None if report.shard is None else ShardInfo(*report.shard, report.summary["shard"]["plan"])
        )
    if kind == "eigh":
        return EighRun(run=run, failing=settings.failing, select=settings.select)
    return ModeRun(DerivativeMode(kind), run=run, failing=settings.failing, select=settings.select)


def _as_written(report: CheckedShard) -> Checked:
    """A report's run rebuilt from its lines, checked against its summary line (a shard's: against
    the digest of the lines it wrote, and with every result and error at a position)."""
    summary, kind = report.summary, report.summary["kind"]
    settings, options = options_from_settings(report.settings)
    run = _run(kind, settings, options, report)
    run.reports = [matrix for _, matrix in report.placed]  # type: ignore[assignment]  # of the run's kind
    run.errors, run.sources = [str(e) for e in summary["errors"]], [str(s) for s in summary["sources"]]
    shard = _report(run).shard
    if shard is not None:
        _place(report, run, shard)
    if run.exit_code != summary.get("exit_code"):
        raise InputError(
            report.path,
            f"its lines give exit code {run.exit_code}, its summary line {summary.get('exit_code')}: edited?",
        )
    return run


def _place(report: CheckedShard, run: Checked, shard: ShardInfo) -> None:
    """A shard's positions into ``run``: an InputError where one is missing, or where its result lines
    are not the ones it wrote."""
    positions = [position for position, _ in report.placed]
    run.error_positions = [_position(p) for p in report.summary["error_positions"]]
    run.positions = [p for p in positions if p is not None]
    if len(run.positions) != len(positions) or len(run.error_positions) != len(run.errors):
        raise InputError(report.path, "a result or an error has no position in the run (not from --shard)")
    if report.lines.hexdigest(shard) != report.summary["shard"].get("lines"):
        raise InputError(
            report.path, "its result lines are not the ones its shard wrote (their digest differs)"
        )


def _kind(reports: list[ShardReport]) -> str:
    """The one kind of every report; a UsageError naming two that differ."""
    first = reports[0]
    for other in reports[1:]:
        if other.summary["kind"] != first.summary["kind"]:
            raise UsageError(
                f"{first.path} is a report of {first.summary['kind']} and {other.path} of "
                f"{other.summary['kind']}; merge the shards of one run only"
            )
    return first.summary["kind"]


def _report(run: CheckedRun) -> RunReport:
    """The RunReport every run of this module holds."""
    if run.run is None:
        raise TypeError("a checked run without its RunReport")
    return run.run


def _placed(reports: list[CheckedShard], runs: list[Checked]) -> tuple[list[Any], list[str]]:
    """Every result and error of the shards in the order of the unsharded run; an InputError for two
    at one place."""
    placed: list[tuple] = []
    seen: dict[tuple[int, ...], str] = {}
    for report, run in zip(reports, runs, strict=True):
        items: list[tuple] = [*zip(run.positions, run.reports, strict=True)]
        items += zip(run.error_positions, run.errors, strict=True)
        for position, item in items:
            if position in seen:
                raise InputError(
                    report.path,
                    f"{getattr(item, 'label', item)} is at a place in the run that {seen[position]} holds "
                    f"already (position {list(position)}): a result given twice",
                )
            seen[position] = report.path
            placed.append((position, isinstance(item, str), item))
    placed.sort(key=lambda entry: entry[0])
    return [i for _, error, i in placed if not error], [i for _, error, i in placed if error]


def _in_order(reports: list[CheckedShard], runs: list[Checked]) -> tuple[list[Any], list[str]]:
    """The results and errors of the run: one report's as they are, the shards' by their positions."""
    if len(runs) == 1 and _report(runs[0]).shard is None:
        return list(runs[0].reports), list(runs[0].errors)
    return _placed(reports, runs)


def merge_paths(paths: list[str], display: RunOptions | None = None) -> RunReport | Checked:
    """``svdgrad merge PATHS``: the SVD check's reports by merge.py, the others' here (one of each:
    refused)."""
    checked = [path for path in paths if is_checked_report(path)]
    if not checked:
        return merge_files(paths, display)
    other = next((path for path in paths if path not in checked), None)
    if other is not None:
        last = _last_record(other)
        if last is None or last.get("type") != "summary":  # cut short: of no kind yet
            raise InputError(other, NO_SUMMARY)
        raise UsageError(
            f"{other} is a report of the SVD check and {checked[0]} is not; merge one run's shards only"
        )
    return merge_checked(paths, display)


def merge_checked(paths: list[str], display: RunOptions | None = None) -> Checked:
    """The merged run of the reports of render/checked_jsonl.py at ``paths``."""
    reports = [read_checked(path) for path in paths]
    alike: list[ShardReport] = list(reports)
    kind = _kind(alike)
    _check_alike(alike)
    _check_shards(alike)
    runs = [_as_written(report) for report in reports]
    matrices, errors = _in_order(reports, runs)
    settings, recorded = options_from_settings(reports[0].settings)
    echoed = {f.name: getattr(recorded, f.name) for f in fields(recorded) if f.metadata["option"].json}
    merged = _run(kind, settings, replace(display or RunOptions(), **echoed))
    run = _report(merged)
    run.interrupted = any(shard.interrupted for shard in runs)
    run.interrupted_by = _interrupted_by(alike)
    run.versions = dict(reports[0].summary["versions"])
    merged.reports, merged.errors = matrices, errors
    merged.sources = [source for run in runs for source in run.sources]
    return merged


def write_merged(run: RunReport | Checked, options: RunOptions, write_stdout: Writer, notify: Writer) -> None:
    """The merged run in one of its kind's formats, and each --select that matched nothing named."""
    if isinstance(run, RunReport):
        return write_report(run, options, write_stdout, notify)
    registry = EIGH_RENDERERS if isinstance(run, EighRun) else MODE_RENDERERS
    if options.output_format not in registry:
        raise UsageError(f"a merged run of this kind is written as --format {', '.join(registry)}")
    run_loop(Stream(_report(run), report=run), options, write_stdout, notify, registry)
    for pattern in run.unmatched:
        notify(f"error: {unmatched_text('--select', pattern)}")
