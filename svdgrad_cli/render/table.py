"""Human output with rich: per-matrix panels (panel.py), then a run summary that fits a CI log.

Every name is shown in full, on a line of its own and folded where it is longer than the line,
never cut, its control and bidi characters escaped (terminal.py); the summary ends with one line
whose counts add up (matrices by verdict, unreadable inputs, skipped ones) and the exit code.
"""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from svdgrad_cli.explain_parts import parts_brief
from svdgrad_cli.model import BackendResult, MatrixReport, RunReport, worst_first
from svdgrad_cli.options import DETAIL_LIMIT
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.panel import error_line, render_matrix, style
from svdgrad_cli.render.terminal import terminal_report, terminal_run
from svdgrad_cli.verdicts import BackendVerdict, MatrixStatus, MatrixVerdict

FINE = (BackendVerdict.CORRECT, BackendVerdict.VALID)
SKIPPED_SHOWN = 5  # skipped inputs named in the summary (all of them with -v, as they happen)


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def summary_line(run: RunReport) -> Text:
    counts = run.verdict_counts()
    parts = [f"{n} {v}" for v, n in counts.items() if n]
    parts += [f"{n} also {v}" for v, n in run.hidden_counts().items()]  # under a worse verdict
    text = Text.assemble(("svdgrad: ", "bold"), f"{_plural(run.checked, 'matrix', 'matrices')} checked")
    if parts:
        text.append(" (" + ", ".join(parts) + ")")
    if run.unreadable:
        text.append(f"; {_plural(run.unreadable, 'input', 'inputs')} could not be read")
    if run.skipped:
        text.append(f"; {len(run.skipped)} skipped")
    for pattern in run.unmatched(run.settings.select):
        text.append(f"; --select {pattern!r} matched nothing", style="bold red")
    if run.interrupted:
        text.append("; interrupted", style="bold red")
    text.append(f"; exit code {run.exit_code}")
    return text


def _off_entry(b: BackendResult) -> str:
    """A backend that is not fine, with its budget multiple and where its error lies."""
    at_most = b.bound_marks[0]
    multiple = f" {at_most}{b.budget_multiple:.2g}x budget" if b.budget_multiple is not None else ""
    where = f" ({parts_brief(b.error_parts)})" if b.error_parts is not None else ""
    return f"{b.name}{multiple}{where}"


def backend_summary(report: MatrixReport) -> str:
    """The backends that are not fine, grouped by verdict, with where a wrong or inaccurate one errs:
    'wrong: noproj 2.6e+13x budget (ΔG 100% outside span(U)); ...'."""
    groups: dict[str, list[str]] = {}
    for b in report.backends:
        if b.verdict not in FINE:
            groups.setdefault(b.verdict or "-", []).append(_off_entry(b))
    fine = sum(1 for b in report.backends if b.verdict in FINE)
    parts = [f"{verdict}: {', '.join(names)}" for verdict, names in groups.items()]
    if fine:
        parts.append(f"{fine} {'correct' if report.reference and report.reference.unique else 'valid'}")
    if report.max_abs_diff is not None:
        parts.append(f"max |diff| {report.max_abs_diff:.3g}")
    return "; ".join(parts)


def _indented(text: Text, indent: int) -> Padding:
    """Text folded at the console's width with every line indented (names are never cut)."""
    text.overflow = "fold"
    return Padding(text, (0, 0, 0, indent), expand=False)


def _worst(console: Console, run: RunReport, top: int) -> None:
    flagged = [
        r
        for r in worst_first(run.results)
        if r.status is MatrixStatus.CHECKED and r.verdict != MatrixVerdict.AGREE
    ]
    if not flagged or top == 0:
        return
    console.print(Text(f"worst matrices (top {min(top, len(flagged))} of {len(flagged)})", style="bold"))
    for report in flagged[:top]:
        console.print(Text(f"  {report.label}"), soft_wrap=True)  # whole on one line, as pytest lists
        verdict = Text.assemble((report.verdict, style(report.verdict)), "  ", backend_summary(report))
        console.print(_indented(verdict, 6))


def _warnings(console: Console, run: RunReport) -> None:
    counts = run.warning_counts()
    if counts:
        listed = ", ".join(
            f"{code} ({_plural(n, 'matrix', 'matrices')})" for code, n in sorted(counts.items())
        )
        console.print(Text.assemble(("warnings: ", "bold yellow"), listed))


def _skipped(console: Console, run: RunReport) -> None:
    if not run.skipped or run.options.verbose:  # with -v each was named as it happened
        return
    console.print(Text(f"skipped ({len(run.skipped)}):", style="bold"))
    for s in run.skipped[:SKIPPED_SHOWN]:
        entry = f"  {s.source}: {s.reason}"
        if len(entry) <= console.width:
            console.print(Text(entry, style="dim"))
        else:  # the name whole on its line (searchable, as pytest lists), the reason folded below it
            console.print(Text(f"  {s.source}:", style="dim"), soft_wrap=True)
            console.print(_indented(Text(s.reason, style="dim"), 4))
    if len(run.skipped) > SKIPPED_SHOWN:
        console.print(
            Text(
                f"  ... and {len(run.skipped) - SKIPPED_SHOWN} more (-v names them all); all "
                f"{len(run.skipped)} by reason:",
                style="dim",
            )
        )
        reasons = Counter(re.sub(r" of length \d+(,\d{3})*", "", s.reason) for s in run.skipped)  # any length
        for reason, count in reasons.most_common():
            console.print(_indented(Text(f"{count} x {reason}", style="dim"), 4))


def render_summary(console: Console, run: RunReport, top: int, list_errors: bool) -> None:
    """Warnings by code, the worst matrices, skipped inputs and (``list_errors``) the input errors."""
    _warnings(console, run)
    _worst(console, run, top)
    _skipped(console, run)
    if list_errors:
        for report in (r for r in run.results if r.status is MatrixStatus.ERROR):
            console.print(error_line(report), soft_wrap=False)


class TableRenderer(Renderer):
    """rich's human report, captured as text (with colour codes when stdout is a colour terminal).

    With --details every matrix's panel is written as soon as it is checked; otherwise panels wait
    for the end, where they are shown for runs of up to DETAIL_LIMIT matrices.
    """

    name = "table"

    def __init__(self, options=None, console: Console | None = None) -> None:
        super().__init__(options)
        self.console = console or Console()
        self.streaming = self.options.details and not self.options.quiet

    def _captured(self, draw) -> str:
        with self.console.capture() as capture:
            draw()
        return capture.get()

    def item(self, report: MatrixReport) -> str:
        if not self.streaming:
            return ""
        return self._captured(lambda: render_matrix(self.console, terminal_report(report), self.options))

    def _draw(self, run: RunReport, streamed: bool) -> None:
        o = self.options
        detailed = (o.details or len(run.results) <= DETAIL_LIMIT) and not run.interrupted
        if not o.quiet:
            if detailed and not streamed:
                for report in run.results:
                    render_matrix(self.console, report, o)
            if len(run.results) > 1 or not detailed:
                render_summary(self.console, run, o.top, list_errors=not detailed)
            else:  # one matrix, shown above: what was passed over beside it is still named
                _skipped(self.console, run)
            self.console.print(Text(f"config: {run.config_shown}", style="dim"), soft_wrap=True)
        self.console.print(summary_line(run), soft_wrap=False)

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        return self._captured(lambda: self._draw(terminal_run(run), streamed))
