"""JSON Lines: one strict JSON object per matrix (``"type": "result"``), then one ``"type": "summary"``."""

from __future__ import annotations

import json

from svdgrad_cli._version import __version__
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.options import json_settings
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.json_format import SCHEMA, matrix_to_dict, run_dict


def render_jsonl_line(report: MatrixReport, include_arrays: bool = False) -> str:
    """One matrix as a single line, with the fields of an ``svdgrad/1`` result."""
    return json.dumps({"type": "result", **matrix_to_dict(report, include_arrays)}, allow_nan=False)


def render_jsonl_summary(run: RunReport) -> str:
    """The last line: verdict counts, versions, skipped inputs, interruption and the exit code, and what
    ``svdgrad merge`` needs to rebuild the run (schema, version, settings; a shard's ``shard``)."""
    header = {"schema": SCHEMA, "version": __version__, "settings": json_settings(run.settings, run.options)}
    document = {"type": "summary", **header, **run_dict(run)}
    return json.dumps(document, allow_nan=False)


class JsonlRenderer(Renderer):
    """A line per matrix as it finishes, then the summary line."""

    name = "jsonl"
    streaming = True

    def item(self, report: MatrixReport) -> str:
        return render_jsonl_line(report, self.options.include_arrays) + "\n"

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        lines = [] if streamed else [self.item(report) for report in run.results]
        return "".join(lines) + render_jsonl_summary(run) + "\n"
