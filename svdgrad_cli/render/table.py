"""Human output with rich: per-matrix tables, warnings, a coloured verdict, and a run summary."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from svdgrad_cli.model import MatrixReport, RunReport, worst_first, worst_multiple
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.options import DETAIL_LIMIT
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.verdicts import SEVERITY, BackendVerdict, MatrixVerdict

VERDICT_STYLE = {
    MatrixVerdict.AGREE: "bold green",
    MatrixVerdict.NON_UNIQUE: "bold yellow",
    MatrixVerdict.UNDEFINED: "bold yellow",
    MatrixVerdict.INDETERMINATE: "bold yellow",
    MatrixVerdict.INACCURATE: "bold magenta",
    MatrixVerdict.WRONG: "bold red",
    MatrixVerdict.NON_FINITE: "bold red",
    MatrixVerdict.ERROR: "bold red",
    BackendVerdict.CORRECT: "green",
    BackendVerdict.VALID: "yellow",
    BackendVerdict.INDETERMINATE: "yellow",
    BackendVerdict.INACCURATE: "magenta",
    BackendVerdict.FAILED: "red",
}
BAR_WIDTH = 12
MAX_VALUE_ROWS = 20  # longer spectra show their first and last rows
MAX_SHOWN_MATRIX = 12  # --show-gradients prints matrices up to this many rows and columns
LOG_FLOOR = np.log10(np.finfo(np.float64).eps)


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _conditioning_note(reference) -> str:
    """How sensitive the true gradient is, in words, with the number for --details readers."""
    if reference.gradient is None or not reference.unique:
        return f"reference: {reference.precision}"
    return f"reference: {reference.precision}; relative condition of the gradient {reference.condition:.3g}"


def _bar(value: float, top: float, style: str) -> Text:
    """A bar whose length is log10(s_i / s_1) from 0 (full) down to log10(eps64) (empty)."""
    if top <= 0 or value <= 0:
        filled = 0
    else:
        filled = round(BAR_WIDTH * max(0.0, 1 - np.log10(value / top) / LOG_FLOOR))
    return Text("█" * filled + "·" * (BAR_WIDTH - filled), style=style)


def _value_rows(k: int) -> list[int | None]:
    if k <= MAX_VALUE_ROWS:
        return list(range(k))
    half = MAX_VALUE_ROWS // 2
    return [*range(half), None, *range(k - half, k)]


def _singular_values(report: MatrixReport) -> Table:
    ref = report.reference
    flagged = {
        i - 1: ("red" if f.code == "near-zero" else "yellow") for f in report.warnings for i in f.indices
    }
    table = Table(title="singular values", title_justify="left", box=None, padding=(0, 1))
    table.add_column("i", justify="right", style="dim")
    table.add_column("float64 ref", justify="right")
    shown = [b for b in report.backends if b.singular_values is not None]
    for b in shown:
        table.add_column(b.name, justify="right")
    table.add_column("log s_i/s_1")
    top = float(ref.singular_values[0])
    for i in _value_rows(len(ref.singular_values)):
        if i is None:
            table.add_row("…", *["…"] * (len(shown) + 2))
            continue
        style = flagged.get(i, "green")
        cells = [f"{float(b.singular_values[i]):.5g}" for b in shown]
        value = float(ref.singular_values[i])
        table.add_row(str(i + 1), Text(f"{value:.5g}", style=style), *cells, _bar(value, top, style))
    return table


def _backend_table(report: MatrixReport) -> Table:
    table = Table(box=None, padding=(0, 1))
    for name, justify in (
        ("backend", "left"),
        ("verdict", "left"),
        ("error", "right"),
        ("budget", "right"),
        ("x budget", "right"),
        ("digits", "right"),
        ("||G||_F", "right"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify)

    def fmt(x, spec=".2e"):
        return "-" if x is None else format(x, spec)

    for b in report.backends:
        multiple = "-" if b.budget_multiple is None else f"{b.budget_multiple:.3g}x"
        table.add_row(
            b.name,
            Text(b.verdict, style=VERDICT_STYLE.get(b.verdict, "")),
            fmt(b.error),
            fmt(b.budget),
            multiple,
            _digits(b.digits, b.justified_digits),
            fmt(b.gradient_norm, ".4g"),
            escape(b.message or ""),
        )
    ref = report.reference
    if ref.gradient_norm is not None:
        label = "reference" if ref.unique else "min-norm member"
        table.add_row(Text(label, style="dim"), "", "", "", "", "", fmt(ref.gradient_norm, ".4g"), "")
    return table


def _digits(got: float | None, justified: float | None) -> str:
    """'12.3/13.8': correct digits of the result over the digits the data justify."""
    if got is None or justified is None:
        return "-"
    shown = [">16" if math.isinf(x) or x > 16 else f"{max(x, 0.0):.1f}" for x in (got, justified)]
    return "/".join(shown)


def _pairs_table(report: MatrixReport) -> Table | None:
    measured = [p for p in report.pairs if p.max_abs_diff is not None]
    if not measured:
        return None
    table = Table(title="between backends", title_justify="left", box=None, padding=(0, 1))
    table.add_column("pair")
    table.add_column("max |diff|", justify="right")
    table.add_column("relative", justify="right")
    for p in measured:
        table.add_row(
            f"{p.first} vs {p.second}",
            "-" if p.max_abs_diff is None else f"{p.max_abs_diff:.3e}",
            "-" if p.relative is None else f"{p.relative:.3e}",
        )
    return table


def _matrix(array: np.ndarray, title: str) -> Table | Text:
    if max(array.shape) > MAX_SHOWN_MATRIX:
        return Text(f"{title}: {array.shape[0]}x{array.shape[1]}, too large to print", style="dim")
    table = Table(title=escape(title), title_justify="left", box=None, show_header=False)
    for _ in range(array.shape[1]):
        table.add_column(justify="right")
    for row in np.asarray(array, dtype=np.float64):
        table.add_row(*(f"{x:.4f}" for x in row))
    return table


def render_matrix(console: Console, report: MatrixReport, show_gradients: bool, show_reference: bool) -> None:
    header = f"{escape(report.label)}"
    if report.status == "error":
        console.print(_error_line(report), soft_wrap=True)
        return
    m, n = report.shape
    ref = report.reference
    parts = [
        _singular_values(report),
        Text(""),
        Text(f"vs float64 reference: {ref.set_description}"),
        Text(f"{_conditioning_note(ref)}; {ref.method}", style="dim"),
        _backend_table(report),
    ]
    pairs = _pairs_table(report)
    if pairs is not None:
        parts += [Text(""), pairs]
    if report.warnings:
        parts.append(Text(""))
        for f in report.warnings:
            parts.append(Text.assemble(("! ", "yellow"), (f.code, "bold yellow"), f": {f.message}"))
    if show_reference and report.reference.gradient is not None:
        label = "reference gradient" if report.reference.unique else "minimum-norm subgradient"
        norm = report.reference.gradient_norm
        parts += [Text(""), _matrix(report.reference.gradient, f"{label} (norm {norm:.4g})")]
    if show_gradients:
        for b in report.backends:
            if b.gradient is not None:
                norm = frobenius(b.gradient)
                parts += [Text(""), _matrix(b.gradient, f"{b.name} gradient (norm {norm:.4g})")]
    verdict = Text.assemble((report.verdict.upper(), VERDICT_STYLE[report.verdict]), "  ", report.explanation)
    parts += [Text(""), verdict]
    title = f"{header}  [dim]{m}x{n} {report.dtype}[/dim]"
    console.print(
        Panel(
            Group(*parts),
            title=title,
            title_align="left",
            border_style=VERDICT_STYLE[report.verdict].replace("bold ", ""),
        )
    )


def _summary_line(run: RunReport) -> Text:
    counts = run.verdict_counts()
    parts = [f"{n} {v}" for v, n in counts.items() if n]
    checked = run.checked
    text = Text.assemble(("svdgrad: ", "bold"), f"{_plural(checked, 'matrix', 'matrices')} checked")
    if parts:
        text.append(" (" + ", ".join(parts) + ")")
    if run.unreadable:
        text.append(f"; {_plural(run.unreadable, 'input', 'inputs')} could not be read")
    if run.skipped:
        text.append(f"; {len(run.skipped)} skipped")
    if run.interrupted:
        text.append("; interrupted")
    text.append(f"; exit code {run.exit_code}")
    return text


def _worst_table(run: RunReport, top: int) -> Table | None:
    flagged = [
        r for r in worst_first(run.results) if r.status == "checked" and r.verdict != MatrixVerdict.AGREE
    ]
    if not flagged or top == 0:
        return None
    table = Table(title=f"worst matrices (top {top})", title_justify="left", box=None, padding=(0, 1))
    for name in ("matrix", "verdict", "backends", "max |diff|", "x budget"):
        table.add_column(name)
    for report in flagged[:top]:
        multiple = worst_multiple(report)
        table.add_row(
            escape(report.label),
            Text(report.verdict, style=VERDICT_STYLE[report.verdict]),
            ", ".join(f"{b.name}: {b.verdict}" for b in report.backends),
            "-" if report.max_abs_diff is None else f"{report.max_abs_diff:.3g}",
            "-" if multiple is None else f"{multiple:.3g}x",
        )
    return table


def _error_line(report: MatrixReport) -> Text:
    return Text.assemble(("error ", "bold red"), (report.label, "bold"), f": {report.error}")


def render_summary(console: Console, run: RunReport, top: int, list_errors: bool) -> None:
    """Counts per verdict and per warning, the worst matrices, and (``list_errors``) the input errors."""
    counts = run.verdict_counts()
    table = Table(title="summary", title_justify="left", box=None, padding=(0, 1))
    table.add_column("verdict")
    table.add_column("matrices", justify="right")
    for verdict in SEVERITY:
        if counts.get(verdict):
            table.add_row(Text(verdict, style=VERDICT_STYLE[verdict]), str(counts[verdict]))
    if run.skipped:
        table.add_row(Text("(skipped)", style="dim"), str(len(run.skipped)))
    console.print(table)
    warnings = run.warning_counts()
    if warnings:
        warning_table = Table(box=None, padding=(0, 1))
        warning_table.add_column("warning")
        warning_table.add_column("matrices", justify="right")
        for code, count in sorted(warnings.items()):
            warning_table.add_row(Text(code, style="yellow"), str(count))
        console.print(warning_table)
    worst = _worst_table(run, top)
    if worst is not None:
        console.print(worst)
    if list_errors:
        for report in (r for r in run.results if r.status == "error"):
            console.print(_error_line(report), soft_wrap=True)


def render_table(
    console: Console,
    run: RunReport,
    show_gradients: bool = False,
    show_reference: bool = False,
    detailed: bool = True,
    quiet: bool = False,
    top: int = 10,
    panels_written: bool = False,
) -> None:
    """Per-matrix panels (when ``detailed``, unless already ``panels_written`` as they came), then a
    summary for runs of more than one matrix."""
    if not quiet:
        if detailed and not panels_written:
            for report in run.results:
                render_matrix(console, report, show_gradients, show_reference)
        if len(run.results) > 1 or not detailed:
            render_summary(console, run, top, list_errors=not detailed)
    console.print(_summary_line(run), soft_wrap=True)


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
        o = self.options
        return self._captured(lambda: render_matrix(self.console, report, o.show_gradients, o.show_reference))

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        o = self.options
        detailed = (o.details or len(run.results) <= DETAIL_LIMIT) and not o.quiet and not run.interrupted
        return self._captured(
            lambda: render_table(
                self.console, run, o.show_gradients, o.show_reference, detailed, o.quiet, o.top, streamed
            )
        )
