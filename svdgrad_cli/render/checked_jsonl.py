"""JSON Lines of a check outside the SVD pipeline (``--mode jvp|hvp``, ``--decomposition eigh``): one
strict JSON object per matrix (``"type": "result"``, the fields of that format's ``-f json`` result,
and in a shard's run its ``position`` in the unsharded run), then one ``"type": "summary"`` line.

The summary line holds what ``svdgrad merge`` (merge_checked.py) needs to rebuild the run and to
refuse what is not one run's shards: the schema, the ``kind`` (``eigh``, ``jvp``, ``hvp``), the
settings and versions, the inputs that could not be checked (each with its position in a shard's
run), every input met (--select is answered from their names), whether the run was interrupted, the
exit code and, for a shard, K/N, the plan's digest and the digest of its result lines (LineDigest,
as render/jsonl.py's).
"""

from __future__ import annotations

import json

from svdgrad_cli._version import __version__
from svdgrad_cli.eigh_model import EighRun
from svdgrad_cli.mode_model import ModeRun
from svdgrad_cli.options import json_settings
from svdgrad_cli.render import eigh_report, modes
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.jsonl import LineDigest

CHECKED_SCHEMA = "svdgrad-checked/1"
JUDGED_BY = ("mode", "decomposition", "symmetrize", "directions")  # settings the svdgrad/1 block leaves out


def _positioned(record: dict, positions: list, number: int) -> dict:
    return {**record, "position": list(positions[number])} if positions else record


Checked = EighRun | ModeRun


def summary_line(run: Checked, kind: str, digest: LineDigest) -> str:
    """The last line (see the module docstring); a sweep's names its parameter (``swept``)."""
    report = run.run
    if report is None:
        raise TypeError("a checked run without its RunReport")
    document = {
        "type": "summary",
        "schema": CHECKED_SCHEMA,
        "kind": kind,
        "version": __version__,
        "settings": {
            **json_settings(report.settings, report.options),
            **{name: getattr(report.settings, name) for name in JUDGED_BY},
        },
        "versions": report.versions,
        "errors": list(run.errors),
        "error_positions": [list(p) for p in run.error_positions],
        "sources": list(run.sources),
        "interrupted": run.interrupted,
        "exit_code": run.exit_code,
    }
    if isinstance(run, EighRun) and run.swept:
        document["swept"] = run.swept
    if report.shard is not None:
        document["shard"] = {**vars(report.shard), "lines": digest.hexdigest(report.shard)}
    return json.dumps(document, allow_nan=False)


class CheckedJsonlRenderer(Renderer):
    """Every matrix's line, then the summary line, at the end of the run."""

    name = "jsonl"

    def kind(self, run) -> str:
        raise NotImplementedError

    def records(self, run) -> list[dict]:
        """Each matrix's fields, in the run's order."""
        raise NotImplementedError

    def finish(self, report: Checked, streamed: bool = False) -> str:
        digest, lines = LineDigest(), []
        for number, fields in enumerate(self.records(report)):
            record = {"type": "result", **fields}
            line = json.dumps(_positioned(record, report.positions, number), allow_nan=False)
            digest.update(line)
            lines.append(line + "\n")
        return "".join(lines) + summary_line(report, self.kind(report), digest) + "\n"


class EighJsonlRenderer(CheckedJsonlRenderer):
    def kind(self, run: EighRun) -> str:
        return "eigh"

    def records(self, run: EighRun) -> list[dict]:
        return eigh_report.results(run)  # a sweep's points with their parameter


class ModeJsonlRenderer(CheckedJsonlRenderer):
    def kind(self, run: ModeRun) -> str:
        return str(run.mode)

    def records(self, run: ModeRun) -> list[dict]:
        return [modes.as_dict(report) for report in run.reports]
