"""``svdgrad merge``: the jsonl reports of a run's shards (``check --shard K/N -f jsonl``) as one run.

Each file must be a whole jsonl report (result lines, then the summary line that ends every run)
from the same svdgrad and library versions, with the same settings (the shard aside), planned over
the same inputs (the plan digest of inputs/shards.py), every shard 1..N exactly once. Each file's
result lines must add up to its summary line (verdict, error, warning and skipped counts, the exit
code), a shard's must be the lines it wrote (the digest of render/jsonl.py, which covers K/N: a copy
relabelled as another shard fails it), no two results may hold one place in the run, and statuses
and verdicts must be ones svdgrad writes. Anything else is refused with one line naming the file.

The merged RunReport has the shards' results and skipped inputs in the order one unsharded run gives
them (by the positions the shards recorded) and no trace of the sharding, so every format renders it
as if one run had produced it: the summary and the exit code are derived from it as for any run. One
report without ``--shard`` is taken as it is (a format conversion: ``svdgrad merge run.jsonl -f junit``).
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field, fields, replace

from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.parts import ShardInfo
from svdgrad_cli.interrupts import exit_code
from svdgrad_cli.json_read import matrix_from_dict, options_from_settings, skipped_from_dict
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.options import RunOptions, option_fields
from svdgrad_cli.outputs import Writer
from svdgrad_cli.render.json_format import SCHEMA, summary_dict
from svdgrad_cli.render.jsonl import LineDigest
from svdgrad_cli.run_loop import Stream, run_loop

MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)
SUMMARY_KEYS = ("settings", "versions", "skipped", "interrupted")


@dataclass
class ShardReport:
    """One jsonl report as read: its results and its summary line."""

    path: str
    summary: dict
    results: list[MatrixReport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    lines: LineDigest = field(default_factory=LineDigest)  # of the result lines as read

    @property
    def shard(self) -> tuple[int, int] | None:
        shard = self.summary.get("shard")
        return None if shard is None else (shard["index"], shard["count"])

    @property
    def settings(self) -> dict:
        return {key: value for key, value in self.summary["settings"].items() if key != "shard"}


NO_SUMMARY = "no summary line: the shard did not finish, or this is not a jsonl report"


def _problem(exc: BaseException) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"


def _records(path: str, handle):
    """(line number, line, record) of every non-blank line; an InputError at the first that is not a
    record."""
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        if number == 1 and line.strip() == "{":  # how a -f json document starts
            raise InputError(path, "a -f json document; merge takes the shards' -f jsonl reports")
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(path, f"line {number} is not JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(record, dict) or record.get("type") not in ("result", "summary"):
            raise InputError(path, f"line {number} is not a result or summary line of svdgrad check -f jsonl")
        yield number, line.rstrip("\r\n"), record


def _summary(path: str, record: dict) -> dict:
    missing = [key for key in SUMMARY_KEYS if key not in record]
    if missing:
        raise InputError(
            path, f"its summary line has no {missing[0]} (written by an svdgrad older than merge?)"
        )
    if record.get("schema", SCHEMA) != SCHEMA:
        raise InputError(path, f"schema {record.get('schema')!r}, not {SCHEMA}")
    if not isinstance(record["settings"], dict) or not isinstance(record["versions"], dict):
        raise InputError(path, "its summary line is not valid (settings and versions must be objects)")
    return record


def read_report(path: str) -> ShardReport:
    """One jsonl report, its results rebuilt (json_read.py); an InputError if malformed."""
    results, summary, digest = [], None, LineDigest()
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line, record in _records(path, handle):
                if summary is not None:
                    raise InputError(path, f"line {number} follows the summary line, which ends a report")
                if record["type"] == "summary":
                    summary = _summary(path, record)
                    continue
                digest.update(line)
                try:
                    results.append(matrix_from_dict(record))
                except MALFORMED as exc:
                    raise InputError(path, f"line {number} is not a valid result ({_problem(exc)})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a jsonl report: not UTF-8 text") from None
    if summary is None:
        raise InputError(path, NO_SUMMARY)
    try:
        skipped = [skipped_from_dict(s) for s in summary["skipped"]]
        _ = ShardReport(path, summary).shard
    except MALFORMED as exc:
        raise InputError(path, f"its summary line is not valid ({_problem(exc)})") from None
    return ShardReport(path, summary, results, skipped, digest)


def _first_difference(first: dict, other: dict) -> str | None:
    for key in [*first, *(k for k in other if k not in first)]:
        if first.get(key) != other.get(key):
            return key
    return None


def _check_alike(reports: list[ShardReport]) -> None:
    """The same versions and settings everywhere (the shard aside)."""
    flags = {f.name: o.long_flag for _, f, o in option_fields()}
    first = reports[0]
    for other in reports[1:]:
        key = _first_difference(first.summary["versions"], other.summary["versions"])
        if key is not None:
            a, b = first.summary["versions"].get(key), other.summary["versions"].get(key)
            raise UsageError(
                f"{first.path} and {other.path} come from different versions ({key} {a} and {b}); "
                "merge the shards of one run only"
            )
        key = _first_difference(first.settings, other.settings)
        if key is not None:
            a, b = first.settings.get(key), other.settings.get(key)
            raise UsageError(
                f"{first.path} and {other.path} were run with different settings ({flags.get(key, key)} "
                f"{json.dumps(a)} and {json.dumps(b)}); merge the shards of one run only"
            )


def _check_shards(reports: list[ShardReport]) -> None:
    """Every shard 1..N of one plan, each once."""
    unsharded = next((r for r in reports if r.shard is None), None)
    if unsharded is not None:
        if len(reports) == 1:
            return
        raise UsageError(f"{unsharded.path} is not a shard's report (check ran without --shard K/N)")
    first, count = reports[0], _shard(reports[0])[1]
    seen: dict[int, str] = {}
    for report in reports:
        index = _same_plan(first, report)
        if index in seen:
            raise UsageError(f"shard {index}/{count} is given twice: {seen[index]} and {report.path}")
        seen[index] = report.path
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in seen]
    if len(missing) == 1:
        raise UsageError(f"shard {missing[0]} is missing")
    if missing:
        raise UsageError(f"shards {', '.join(missing[:-1])} and {missing[-1]} are missing")


def _shard(report: ShardReport) -> tuple[int, int]:
    """(K, N) of a shard's report."""
    if report.shard is None:
        raise InputError(report.path, "not a shard's report (check ran without --shard K/N)")
    return report.shard


def _same_plan(first: ShardReport, report: ShardReport) -> int:
    """The shard number K of ``report``, a shard of the same N and plan as ``first``."""
    (_, count), (index, n) = _shard(first), _shard(report)
    if n != count:
        raise UsageError(f"{first.path} is one of {count} shards but {report.path} one of {n}")
    if report.summary["shard"].get("plan") != first.summary["shard"].get("plan"):
        raise UsageError(
            f"{first.path} and {report.path} planned different inputs (the files, tensors or shapes "
            "differ between the shards); every shard must check the same paths"
        )
    return index


def _first_change(recorded, found, path: str = "") -> str | None:
    """Where two summaries first differ: 'verdicts wrong: 1 in the summary line, 0 in ...'."""
    if isinstance(recorded, dict) and isinstance(found, dict):
        for key in [*recorded, *(k for k in found if k not in recorded)]:
            change = _first_change(recorded.get(key), found.get(key), f"{path}{key} ")
            if change is not None:
                return change
        return None
    if recorded == found:
        return None
    return (
        f"{path.strip()}: {json.dumps(recorded)} in the summary line, {json.dumps(found)} in the result lines"
    )


def _as_written(report: ShardReport) -> RunReport:
    """The run of a report's result lines, as the summary line was computed from them."""
    summary = report.summary
    settings, _ = options_from_settings(report.settings)
    shard = None if report.shard is None else ShardInfo(*report.shard, summary["shard"].get("plan"))
    run = RunReport(settings, report.results, report.skipped, interrupted=bool(summary["interrupted"]))
    run.interrupted_by, run.shard = _stopped_by(summary), shard
    return run


def _check_lines(report: ShardReport) -> None:
    """A report's result lines are the ones its summary line counts (verdicts, errors, warnings,
    skipped inputs, exit code), and a shard's are the lines that shard wrote (their digest)."""
    run = _as_written(report)
    found = json.loads(json.dumps({**summary_dict(run), "exit code": run.exit_code}))
    recorded = {**(report.summary.get("summary") or {}), "exit code": report.summary.get("exit_code")}
    change = _first_change(recorded, found)
    if change is not None:
        raise InputError(
            report.path, f"its result lines do not add up to its summary line ({change}): edited?"
        )
    if run.shard is None:
        return
    written = report.summary["shard"].get("lines")
    if written is None:
        raise InputError(
            report.path, "its summary line has no digest of its result lines (an older svdgrad?)"
        )
    if report.lines.hexdigest(run.shard) != written:
        k, n = _shard(report)
        raise InputError(
            report.path,
            f"its result lines are not the ones shard {k}/{n} wrote (their digest differs): "
            "the file was edited, or is another shard's copy",
        )


def _check_positions(reports: list[ShardReport]) -> None:
    """Every result and skipped input of the shards at a place of its own in the run."""
    if len(reports) == 1 and reports[0].shard is None:
        return
    seen: dict[tuple[int, ...], str] = {}
    for report in reports:
        items: list[MatrixReport | Skipped] = [*report.results, *report.skipped]
        for item in items:
            label = getattr(item, "label", item.source)
            if item.position is None:
                raise InputError(report.path, f"{label} has no position in the run (not from check --shard)")
            if item.position in seen:
                raise InputError(
                    report.path,
                    f"{label} is at a place in the run that {seen[item.position]} holds already "
                    f"(position {list(item.position)}): a result given twice",
                )
            seen[item.position] = report.path


def _in_order(items: list) -> list:
    """Items by their position in the whole run (stable: unsharded items keep their order), positions
    cleared so that the merged report is that of one run."""
    return [replace(item, position=None) for item in sorted(items, key=lambda item: item.position or ())]


def _stopped_by(summary: dict) -> int:
    """The signal that interrupted a report's run, by its exit code: SIGTERM (143) or SIGINT."""
    return signal.SIGTERM if summary.get("exit_code") == exit_code(signal.SIGTERM) else signal.SIGINT


def _interrupted_by(reports: list[ShardReport]) -> int:
    """SIGTERM if it stopped any shard, else SIGINT (Ctrl-C)."""
    stopped = {_stopped_by(report.summary) for report in reports if report.summary["interrupted"]}
    return signal.SIGTERM if signal.SIGTERM in stopped else signal.SIGINT


def merge_reports(reports: list[ShardReport], display: RunOptions | None = None) -> RunReport:
    """One RunReport of the shards' reports (checked alike and complete first: a UsageError if not);
    ``display`` supplies how it is shown (format, -o, --top, ...)."""
    _check_alike(reports)
    _check_shards(reports)
    for report in reports:
        _check_lines(report)
    _check_positions(reports)
    settings, recorded = options_from_settings(reports[0].settings)
    echoed = {f.name: getattr(recorded, f.name) for f in fields(recorded) if f.metadata["option"].json}
    options = replace(display or RunOptions(), **echoed)  # the shards' file selection, shown as asked
    return RunReport(
        settings,
        results=_in_order([r for report in reports for r in report.results]),
        skipped=_in_order([s for report in reports for s in report.skipped]),
        options=options,
        interrupted=any(report.summary["interrupted"] for report in reports),
        interrupted_by=_interrupted_by(reports),
        versions=dict(reports[0].summary["versions"]),
        config=_configs(reports),
    )


def _configs(reports: list[ShardReport]) -> str | None:
    """The pyproject.toml the shards ran under; where they differ (alike settings from a file in one
    directory and the command line in another), each with its shard: 'p/pyproject.toml (shard 1/2);
    none (shard 2/2)'."""
    configs = {report.summary.get("config") for report in reports}
    if len(configs) == 1:
        return configs.pop()
    named = [(r.summary.get("config") or "none", "/".join(map(str, r.shard or ()))) for r in reports]
    return "; ".join(f"{config} (shard {shard})" for config, shard in named)


def merge_files(paths: list[str], display: RunOptions | None = None) -> RunReport:
    """Read and merge jsonl reports (see the module docstring)."""
    return merge_reports([read_report(path) for path in paths], display)


def write_report(run: RunReport, options: RunOptions, write_stdout: Writer, notify: Writer) -> None:
    """As every command writes (outputs.py), through the run loop every command shares (run_loop.py):
    the merged report is whole before it is written, so the loop has no items to stream."""
    run_loop(Stream(run), options, write_stdout, notify)
