"""JSON Lines: one strict JSON object per matrix (``"type": "result"``), then one ``"type": "summary"``.

A shard's summary line (``check --shard K/N``) also holds ``shard.lines``, a digest of its result lines
exactly as written, of K/N and of the plan (LineDigest), by which ``svdgrad merge`` refuses a shard
whose lines were edited, deleted, added or copied from another shard, or which was relabelled.
"""

from __future__ import annotations

import hashlib
import json

from svdgrad_cli._version import __version__
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.options import json_settings
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.json_format import SCHEMA, matrix_to_dict, run_dict


def render_jsonl_line(report: MatrixReport, include_arrays: bool = False) -> str:
    """One matrix as a single line, with the fields of an ``svdgrad/1`` result."""
    return json.dumps({"type": "result", **matrix_to_dict(report, include_arrays)}, allow_nan=False)


class LineDigest:
    """A digest of a shard's result lines (each without its line end) in order, its K/N and its plan:
    what ``svdgrad merge`` recomputes from the lines it reads."""

    def __init__(self) -> None:
        self.lines = hashlib.sha256()

    def update(self, line: str) -> None:
        self.lines.update(line.encode("utf-8") + b"\n")

    def hexdigest(self, shard) -> str:
        whole = hashlib.sha256(f"{shard.plan} {shard.index}/{shard.count} ".encode())
        whole.update(self.lines.digest())
        return whole.hexdigest()[:16]


def render_jsonl_summary(run: RunReport, lines: LineDigest | None = None) -> str:
    """The last line: verdict counts, versions, skipped inputs, interruption and the exit code, and what
    ``svdgrad merge`` needs to rebuild the run (schema, version, settings; a shard's ``shard``, with
    the digest of its result ``lines``)."""
    header = {"schema": SCHEMA, "version": __version__, "settings": json_settings(run.settings, run.options)}
    document = {"type": "summary", **header, **run_dict(run)}
    if run.shard is not None and lines is not None:
        document["shard"] = {**document["shard"], "lines": lines.hexdigest(run.shard)}
    return json.dumps(document, allow_nan=False)


class JsonlRenderer(Renderer):
    """A line per matrix as it finishes, then the summary line."""

    name = "jsonl"
    streaming = True

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.digest = LineDigest()

    def item(self, report: MatrixReport) -> str:
        line = render_jsonl_line(report, self.options.include_arrays)
        self.digest.update(line)
        return line + "\n"

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        lines = [] if streamed else [self.item(report) for report in run.results]
        return "".join(lines) + render_jsonl_summary(run, self.digest) + "\n"
