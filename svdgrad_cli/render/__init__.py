"""Renderers: each turns a RunReport into one output format; none of them computes anything.

``table`` is rich's human report (render/table.py); every other format is a string made by
``render_document``, whose modules are imported only when that format is asked for.
"""

from __future__ import annotations

from svdgrad_cli.model import RunReport

FORMATS = ("table", "json", "jsonl", "junit", "github", "markdown")


def render_document(output_format: str, run: RunReport, include_arrays: bool = False) -> str:
    """The whole run in one of the machine-readable formats (every FORMATS entry but ``table``)."""
    if output_format == "json":
        from svdgrad_cli.render.json_format import render_json

        return render_json(run, include_arrays)
    if output_format == "jsonl":
        from svdgrad_cli.render.jsonl import render_jsonl_line, render_jsonl_summary

        lines = [render_jsonl_line(report, include_arrays) for report in run.results]
        return "\n".join([*lines, render_jsonl_summary(run)])
    if output_format == "junit":
        from svdgrad_cli.render.junit import render_junit

        return render_junit(run)
    if output_format == "github":
        from svdgrad_cli.render.github import render_github

        return render_github(run)
    if output_format == "markdown":
        from svdgrad_cli.render.markdown import render_markdown

        return render_markdown(run)
    raise ValueError(f"no document renderer for format {output_format!r}")
