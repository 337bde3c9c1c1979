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
from dataclasses import fields, replace

from svdgrad_cli.eigh_model import EighReport, EighResult, EighRun
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.parts import ShardInfo
from svdgrad_cli.json_read import options_from_settings
from svdgrad_cli.merge import MALFORMED, ShardReport, _check_alike, _check_shards, _interrupted_by, _records
from svdgrad_cli.mode_model import CheckedRun, DirectionResult, ModeReport, ModeRun, PathResult
from svdgrad_cli.model import RunReport, unmatched_text
from svdgrad_cli.numerics.differentiated import DerivativeMode
from svdgrad_cli.options import RunOptions
from svdgrad_cli.outputs import Writer
from svdgrad_cli.render import EIGH_RENDERERS, MODE_RENDERERS, eigh_report, modes
from svdgrad_cli.render.checked_jsonl import CHECKED_SCHEMA
from svdgrad_cli.render.jsonl import LineDigest
from svdgrad_cli.run_loop import Stream, run_loop
from svdgrad_cli.verdicts import BackendVerdict

SUMMARY_KEYS = ("kind", "settings", "versions", "errors", "error_positions", "sources", "interrupted")


def _float(x) -> float:
    return float("nan") if x is None else float(x)


def _eigh(record: dict) -> EighReport:
    results = [
        EighResult(
            r["backend"],
            BackendVerdict(r["verdict"]),
            relative_error=r["relative_error"],
            budget=r["budget"],
            asymmetry=r["asymmetry"],
            message=r["message"],
            forward=r["forward"],
        )
        for r in record["backends"]
    ]
    values = tuple(_float(w) for w in record["eigenvalues"])
    shape, head = tuple(record["shape"]), (record["dtype"], record["loss"], values, record["reference"])
    return EighReport(
        record["label"], shape, *head, record["defined"], record["unique"], results, record["symmetrized"]
    )


def _path(r: dict) -> PathResult:
    numbers = (r["error"], r["relative_error"], r["relative_budget"], r["value"])
    return PathResult(r["backend"], r["path"], BackendVerdict(r["verdict"]), *numbers, r["message"])


def _mode(record: dict) -> ModeReport:
    directions = [
        DirectionResult(
            d["index"],
            d["reference"],
            d["defined"],
            d["unique"],
            d["value"],
            None if d["interval"] is None else tuple(d["interval"]),
            d["norm"],
            [_path(r) for r in d["results"]],
        )
        for d in record["directions"]
    ]
    shape, mode = tuple(record["shape"]), DerivativeMode(record["mode"])
    return ModeReport(record["label"], shape, mode, record["loss"], record["dtype"], directions)


def _rebuilt(kind: str, record: dict):
    """The report a result line was written from; ValueError where writing it again differs."""
    report, as_dict = (
        (_eigh(record), eigh_report.as_dict) if kind == "eigh" else (_mode(record), modes.as_dict)
    )
    written = {key: value for key, value in record.items() if key not in ("type", "position")}
    if as_dict(report) != written:
        raise ValueError("its fields do not write back as read (edited, or another svdgrad's)")
    return report


def is_checked_report(path: str) -> bool:
    """Whether ``path`` ends with the summary line of render/checked_jsonl.py."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
        record = json.loads(lines[-1]) if lines else None
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(record, dict) and record.get("schema") == CHECKED_SCHEMA


def read_checked(path: str) -> ShardReport:
    """One report: its summary line and its results rebuilt, each result's position kept beside it."""
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
    if summary is None or any(key not in summary for key in SUMMARY_KEYS):
        raise InputError(path, "no whole summary line: the run did not finish, or this is not its report")
    report = ShardReport(path, summary, lines=digest)
    for number, record in records:
        try:
            position = record.get("position")
            report.results.append(
                (None if position is None else tuple(position), _rebuilt(summary["kind"], record))
            )
        except MALFORMED as exc:
            raise InputError(path, f"line {number} is not a valid result ({exc})") from None
    return report


def _run(kind: str, settings, options: RunOptions, report: ShardReport | None = None) -> CheckedRun:
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


def _as_written(report: ShardReport) -> CheckedRun:
    """A report's run rebuilt from its lines, checked against its summary line (a shard's: against
    the digest of the lines it wrote, and with every result and error at a position)."""
    summary, kind = report.summary, report.summary["kind"]
    settings, options = options_from_settings(report.settings)
    run = _run(kind, settings, options, report)
    run.reports = [matrix for _, matrix in report.results]
    run.errors, run.sources = [str(e) for e in summary["errors"]], [str(s) for s in summary["sources"]]
    if run.run.shard is not None:
        run.positions = [position for position, _ in report.results]
        run.error_positions = [tuple(p) for p in summary["error_positions"]]
        if None in run.positions or len(run.error_positions) != len(run.errors):
            raise InputError(
                report.path, "a result or an error has no position in the run (not from --shard)"
            )
        if report.lines.hexdigest(run.run.shard) != summary["shard"].get("lines"):
            raise InputError(
                report.path, "its result lines are not the ones its shard wrote (their digest differs)"
            )
    if run.exit_code != summary.get("exit_code"):
        raise InputError(
            report.path,
            f"its lines give exit code {run.exit_code}, its summary line {summary.get('exit_code')}: edited?",
        )
    return run


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


def _placed(runs: list[CheckedRun]) -> tuple[list, list]:
    """Every result and error of the shards in the order of the unsharded run; an InputError for two
    at one place."""
    placed, seen = [], {}
    for run in runs:
        items = [*zip(run.positions, run.reports, strict=True)]
        items += zip(run.error_positions, run.errors, strict=True)
        for position, item in items:
            if position in seen:
                raise InputError(str(getattr(item, "label", item)), f"at position {list(position)} twice")
            seen[position] = item
            placed.append((position, isinstance(item, str), item))
    placed.sort(key=lambda entry: entry[0])
    return [i for _, error, i in placed if not error], [i for _, error, i in placed if error]


def merge_checked(paths: list[str], checked: list[str], display: RunOptions | None = None) -> CheckedRun:
    """The merged run of the reports at ``paths``, ``checked`` those of render/checked_jsonl.py (any
    other is an SVD check's report: refused)."""
    other = next((path for path in paths if path not in checked), None)
    if other is not None:
        raise UsageError(
            f"{other} is a report of the SVD check and {checked[0]} is not; merge one run's shards only"
        )
    reports = [read_checked(path) for path in paths]
    kind = _kind(reports)
    _check_alike(reports)
    _check_shards(reports)
    runs = [_as_written(report) for report in reports]
    if len(runs) == 1 and runs[0].run.shard is None:
        reports_, errors = runs[0].reports, runs[0].errors
    else:
        reports_, errors = _placed(runs)
    settings, recorded = options_from_settings(reports[0].settings)
    echoed = {f.name: getattr(recorded, f.name) for f in fields(recorded) if f.metadata["option"].json}
    merged = _run(kind, settings, replace(display or RunOptions(), **echoed))
    merged.run.interrupted = any(run.interrupted for run in runs)
    merged.run.interrupted_by = _interrupted_by(reports)
    merged.run.versions = dict(reports[0].summary["versions"])
    merged.reports, merged.errors = list(reports_), list(errors)
    merged.sources = [source for run in runs for source in run.sources]
    return merged


def write_checked(run: CheckedRun, options: RunOptions, write_stdout: Writer, notify: Writer) -> None:
    """The merged run in one of its kind's formats, and each --select that matched nothing named."""
    registry = EIGH_RENDERERS if isinstance(run, EighRun) else MODE_RENDERERS
    if options.output_format not in registry:
        raise UsageError(f"a merged run of this kind is written as --format {', '.join(registry)}")
    run_loop(Stream(run.run, report=run), options, write_stdout, notify, registry)
    for pattern in run.unmatched:
        notify(f"error: {unmatched_text('--select', pattern)}")
