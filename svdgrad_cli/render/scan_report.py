"""The report of ``svdgrad scan`` (pipeline/scan.py): a table for people and one JSON document,
each a Renderer (base.py) registered in SCAN_RENDERERS (render/__init__.py), neither streaming.

Its verdicts are the screen's own, ``at-risk`` and ``clear-spectrum`` (and ``error``), never a
check's: every format says that no gradient was checked.
"""

from __future__ import annotations

import json
import textwrap

from svdgrad_cli._version import __version__
from svdgrad_cli.model import WARNING
from svdgrad_cli.options import DETAIL_LIMIT, json_settings
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.terminal import terminal_text
from svdgrad_cli.scan_model import ScanRun, Screened, ScreenVerdict

SCAN_SCHEMA = "svdgrad-scan/1"
NOT_CHECKED = (
    "a screen of the spectrum only: no gradient was checked; 'svdgrad scan --then-check' checks the "
    "matrices at risk"
)
WIDTH = 80


def _gap(screened: Screened) -> str:
    """The closest relative gap, as the table shows it ('-' without two positive values)."""
    if screened.closest is None:
        return "-"
    return "0" if screened.closest == 0 else f"{screened.closest:.1e}"


def _row(r: Screened) -> str:
    if r.verdict is ScreenVerdict.ERROR:
        return f"{r.verdict.value:<15} {terminal_text(r.label)}: {terminal_text(r.error or '')}"
    shape = "x".join(map(str, r.shape[-2:]))
    return (
        f"{r.verdict.value:<15} {shape:<10} {r.dtype:<9} {r.rank:>6} {_gap(r):>8}  {terminal_text(r.label)}"
    )


def summary_text(run: ScanRun) -> str:
    """One line: how many matrices were screened and what the spectrum shows of them."""
    counts = run.counts()
    parts = [
        f"{counts[v.value]} {v.value}"
        for v in ScreenVerdict
        if counts[v.value] or v is not ScreenVerdict.ERROR
    ]
    skipped = f"; {len(run.skipped)} skipped" if run.skipped else ""
    stopped = " (interrupted)" if run.interrupted else ""
    count = len(run.results)
    return f"screened {count} matri{'x' if count == 1 else 'ces'}{stopped}: {', '.join(parts)}{skipped}"


def render_table(run: ScanRun, details: bool = False, quiet: bool = False) -> str:
    """The rows (at-risk and errors only past DETAIL_LIMIT matrices, unless ``details``), each finding
    of the matrices at risk, and the summary."""
    lines = [] if quiet else _rows_and_findings(run, details)
    lines.append(summary_text(run))
    lines.append(textwrap.fill(f"({NOT_CHECKED})", WIDTH, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def _rows_and_findings(run: ScanRun, details: bool) -> list[str]:
    """The table's rows and each matrix at risk with its warnings, then a blank line (none if empty)."""
    lines = []
    shown = [r for r in run.results if details or len(run.results) <= DETAIL_LIMIT]
    shown = shown or [r for r in run.results if r.verdict is not ScreenVerdict.CLEAR]
    if shown:
        lines.append(f"{'screen':<15} {'shape':<10} {'dtype':<9} {'rank':>6} {'gap/s_1':>8}  matrix")
        lines += [_row(r) for r in shown]
    for r in run.at_risk:
        lines += ["", f"{terminal_text(r.label)} ({run.settings.loss}):", *_warnings(r)]
    return [*lines, ""] if lines else lines


def _warnings(r: Screened) -> list[str]:
    return [_wrapped(f"{f.level}: {terminal_text(f.message)}") for f in r.findings if f.level == WARNING]


def _wrapped(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False)


def _finding(f) -> dict:
    return {"code": f.code, "level": f.level, "message": f.message, "indices": list(f.indices)}


def screened_dict(r: Screened) -> dict:
    return {
        "source": r.source,
        "index": list(r.index),
        "label": r.label,
        "shape": list(r.shape),
        "dtype": r.dtype,
        "screen": r.verdict.value,
        "checked": False,
        "rank": r.rank,
        "s1": r.top,
        "closest_gap": r.closest,  # relative to s_1; null without two positive values
        "findings": [_finding(f) for f in r.findings],
        "error": r.error,
    }


def render_json(run: ScanRun, options=None) -> str:
    document = {
        "schema": SCAN_SCHEMA,
        "version": __version__,
        "checked": False,
        "note": NOT_CHECKED,
        "settings": json_settings(run.settings, options),
        "results": [screened_dict(r) for r in run.results],
        "skipped": [{"source": s.source, "reason": s.reason} for s in run.skipped],
        "interrupted": run.interrupted,
        "summary": {"matrices": len(run.results), "screens": run.counts()},
        "exit_code": run.exit_code,
    }
    return json.dumps(document, allow_nan=False, indent=2) + "\n"


class ScanTableRenderer(Renderer[Screened, ScanRun]):
    """The screen's table (render_table), for people."""

    name = "table"

    def finish(self, report: ScanRun, streamed: bool = False) -> str:
        return render_table(report, self.options.details, self.options.quiet)


class ScanJsonRenderer(Renderer[Screened, ScanRun]):
    """One ``svdgrad-scan/1`` document for the whole screen."""

    name = "json"

    def finish(self, report: ScanRun, streamed: bool = False) -> str:
        return render_json(report, self.options)
