"""Markdown for a PR comment or ``$GITHUB_STEP_SUMMARY``: verdict counts, worst matrices, errors."""

from __future__ import annotations

import re

from svdgrad_cli.explain_parts import parts_brief
from svdgrad_cli.model import (
    BOUND_NOTE,
    BackendResult,
    MatrixReport,
    RunReport,
    unmatched_text,
    worst_first,
    worst_multiple,
)
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.terminal import terminal_text
from svdgrad_cli.verdicts import SEVERITY, BackendVerdict, MatrixStatus

MAX_ROWS = 50
# Markdown punctuation that could start emphasis, code, links, HTML or entities, or split a table cell.
ACTIVE = re.compile(r"([\\`*_\[\]<>&|~#])")


def inline(text: str) -> str:
    """Text as one literal line of Markdown, safe inside a table cell (``|`` becomes ``\\|``)."""
    return ACTIVE.sub(r"\\\1", " ".join(terminal_text(text, keep="\n").splitlines()))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _verdict_counts(run: RunReport) -> list[str]:
    counts = run.verdict_counts()
    return table_lines(["verdict", "matrices"], [[v, str(counts.get(v, 0))] for v in SEVERITY])


def _bounded(report: MatrixReport) -> bool:
    """Whether the worst budget multiple of a matrix is a bound (its error is: BOUND_NOTE)."""
    multiple = worst_multiple(report)
    return any(b.error_is_bound and b.budget_multiple == multiple for b in report.backends)


def _backend_cell(b: BackendResult) -> str:
    """'name: verdict', and where a wrong or inaccurate one errs (explain_parts.py)."""
    return f"{b.name}: {b.verdict}" + (f" ({parts_brief(b.error_parts)})" if b.error_parts else "")


def _matrix_row(report: MatrixReport) -> list[str]:
    backends = ", ".join(_backend_cell(b) for b in report.backends)
    diff, multiple = report.max_relative_diff, worst_multiple(report)
    at_most = inline("<=") if _bounded(report) else ""
    return [
        inline(report.label),
        report.verdict,
        inline(backends) or "-",
        "-" if diff is None else f"{diff:.2e}",
        "-" if multiple is None else f"{at_most}{multiple:.3g}x",
    ]


def _matrix_table(run: RunReport) -> list[str]:
    checked = worst_first([r for r in run.results if r.status is MatrixStatus.CHECKED])
    if not checked:
        return []
    header = ["matrix", "verdict", "backends", "max rel. diff", "worst x budget"]
    lines = table_lines(header, [_matrix_row(r) for r in checked[:MAX_ROWS]])
    if len(checked) > MAX_ROWS:
        lines += ["", f"... and {len(checked) - MAX_ROWS} more"]
    if any(_bounded(r) for r in checked[:MAX_ROWS]):
        lines += ["", inline(BOUND_NOTE)]
    return ["", *lines]


def _errors_of(report: MatrixReport) -> list[str]:
    label = inline(report.label)
    if report.status is MatrixStatus.ERROR:
        return [f"- **{label}**: {inline(report.error or report.explanation)}"]
    return [
        f"- **{label}**: {inline(b.name)} failed: {inline(b.message or '')}"
        for b in report.backends
        if b.verdict == BackendVerdict.FAILED
    ]


def _error_list(run: RunReport) -> list[str]:
    lines = [line for report in run.results for line in _errors_of(report)]
    return ["", "### Errors", "", *lines] if lines else []


def render_markdown(run: RunReport) -> str:
    """The summary as Markdown text ending in a newline."""
    said = f"**Interrupted** ({run.interruption}): the counts cover what was checked before."
    interrupted = ["", said] if run.interrupted else []
    lines = [
        "## svdgrad report",
        "",
        f"Matrices checked: {run.checked}. Inputs that could not be read: {run.unreadable}. "
        f"Skipped: {len(run.skipped)}. Exit code: {run.exit_code}.",
        "",
        f"Config: {inline(run.config_shown)}.",
        *interrupted,
        *_unmatched(run),
        "",
        *_verdict_counts(run),
        *_matrix_table(run),
        *_error_list(run),
        *_skipped_list(run),
        *_versions(run),
    ]
    return "\n".join(lines) + "\n"


def _unmatched(run: RunReport) -> list[str]:
    """A --select that matched no tensor: the check it meant did not run (exit code 2)."""
    patterns = run.unmatched(run.settings.select)
    return [line for p in patterns for line in ("", f"**Error**: {inline(unmatched_text('--select', p))}.")]


def _skipped_list(run: RunReport) -> list[str]:
    if not run.skipped:
        return []
    lines = [f"- {inline(s.source)}: {inline(s.reason)}" for s in run.skipped[:MAX_ROWS]]
    more = [f"- ... and {len(run.skipped) - MAX_ROWS} more"] if len(run.skipped) > MAX_ROWS else []
    return ["", "### Skipped", "", *lines, *more]


def _versions(run: RunReport) -> list[str]:
    if not run.versions:
        return []
    return [
        "",
        "Versions: " + ", ".join(f"{inline(k)} {inline(v or 'unknown')}" for k, v in run.versions.items()),
    ]


class MarkdownRenderer(Renderer):
    """A Markdown summary for a PR comment or $GITHUB_STEP_SUMMARY."""

    name = "markdown"

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        text = render_markdown(run)
        return text if not text or text.endswith("\n") else text + "\n"
