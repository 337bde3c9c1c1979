"""Renderers: each turns a RunReport into one output format; none of them computes anything.

Every format is a :class:`svdgrad_cli.render.base.Renderer` registered here by name (the module is
imported only when its format is asked for, so this registry costs nothing at start-up). Streaming
formats also write one piece per matrix as it finishes.
"""

from __future__ import annotations

import importlib

# format name -> "module:class"; the order is the order --help lists them.
RENDERERS = {
    "table": "svdgrad_cli.render.table:TableRenderer",
    "json": "svdgrad_cli.render.json_format:JsonRenderer",
    "jsonl": "svdgrad_cli.render.jsonl:JsonlRenderer",
    "junit": "svdgrad_cli.render.junit:JunitRenderer",
    "github": "svdgrad_cli.render.github:GithubRenderer",
    "markdown": "svdgrad_cli.render.markdown:MarkdownRenderer",
    "html": "svdgrad_cli.render.html:HtmlRenderer",
}
FORMATS = tuple(RENDERERS)
# The formats of ``svdgrad sweep`` (render/sweep_table.py, render/sweep_json.py): item(point), finish(sweep).
SWEEP_RENDERERS = {
    "table": "svdgrad_cli.render.sweep_table:SweepTableRenderer",
    "json": "svdgrad_cli.render.sweep_json:SweepJsonRenderer",
    "jsonl": "svdgrad_cli.render.sweep_json:SweepJsonlRenderer",
}
SWEEP_FORMATS = tuple(SWEEP_RENDERERS)
# The formats of ``svdgrad scan``'s own report (render/scan_report.py): finish(scan run).
SCAN_RENDERERS = {
    "table": "svdgrad_cli.render.scan_report:ScanTableRenderer",
    "json": "svdgrad_cli.render.scan_report:ScanJsonRenderer",
}
SCAN_FORMATS = tuple(SCAN_RENDERERS)
# The formats of ``--mode jvp|hvp``: render/modes.py (finish(run)), render/mode_sweep.py (finish(sweep)).
MODE_RENDERERS = {
    "table": "svdgrad_cli.render.modes:ModeTableRenderer",
    "json": "svdgrad_cli.render.modes:ModeJsonRenderer",
    "jsonl": "svdgrad_cli.render.checked_jsonl:ModeJsonlRenderer",
    "junit": "svdgrad_cli.render.modes:ModeJunitRenderer",
    "github": "svdgrad_cli.render.modes:ModeGithubRenderer",
    "markdown": "svdgrad_cli.render.modes:ModeMarkdownRenderer",
    "html": "svdgrad_cli.render.mode_html:ModeHtmlRenderer",
}
# The formats of ``--decomposition eigh``: render/eigh_report.py, eigh_formats.py, eigh_html.py (finish(run)).
EIGH_RENDERERS = {
    "table": "svdgrad_cli.render.eigh_report:EighTableRenderer",
    "json": "svdgrad_cli.render.eigh_report:EighJsonRenderer",
    "jsonl": "svdgrad_cli.render.checked_jsonl:EighJsonlRenderer",
    "junit": "svdgrad_cli.render.eigh_formats:EighJunitRenderer",
    "github": "svdgrad_cli.render.eigh_formats:EighGithubRenderer",
    "markdown": "svdgrad_cli.render.eigh_formats:EighMarkdownRenderer",
    "html": "svdgrad_cli.render.eigh_html:EighHtmlRenderer",
}
EIGH_SWEEP_RENDERERS = {
    "table": "svdgrad_cli.render.eigh_report:EighSweepTableRenderer",
    "json": "svdgrad_cli.render.eigh_report:EighJsonRenderer",
    "jsonl": "svdgrad_cli.render.checked_jsonl:EighJsonlRenderer",
    "html": "svdgrad_cli.render.eigh_html:EighSweepHtmlRenderer",
}
MODE_SWEEP_RENDERERS = {
    "table": "svdgrad_cli.render.mode_sweep:ModeSweepTableRenderer",
    "json": "svdgrad_cli.render.mode_sweep:ModeSweepJsonRenderer",
    "html": "svdgrad_cli.render.mode_html:ModeSweepHtmlRenderer",
}


def renderer_class(output_format: str, registry: dict[str, str] = RENDERERS):
    """The Renderer class of a format name (ValueError for an unknown one); ``registry``
    SWEEP_RENDERERS for a sweep's, SCAN_RENDERERS for a scan's."""
    try:
        module, name = registry[output_format].split(":")
    except KeyError:
        raise ValueError(f"no renderer for format {output_format!r}") from None
    return getattr(importlib.import_module(module), name)


def render_document(output_format: str, run, options=None) -> str:
    """The whole run in one format, as one string (for files, tests and the Python API); the
    renderer takes default RunOptions where ``options`` is None."""
    return renderer_class(output_format)(options).finish(run, streamed=False)
