"""One matrix as a rich panel: its spectrum, each backend's verdict and digits, warnings, the explanation.

Plain words by default, at 80 columns; ``--details`` adds each backend's singular values, the
pairwise differences, budget multiples and the reference's method.
"""

from __future__ import annotations

import math
import re

import numpy as np
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from svdgrad_cli.explain_parts import parts_rows, parts_sentence
from svdgrad_cli.model import BOUND_NOTE, NOTE, MatrixReport
from svdgrad_cli.render.colours import colour
from svdgrad_cli.verdicts import MatrixStatus, MatrixVerdict

MAX_VALUE_ROWS = 20  # longer spectra show their first and last rows
MAX_SHOWN_MATRIX = 12  # --show-gradients prints matrices up to this many rows and columns
MIN_DECADES = 3  # the bars always span at least this many decades below s_1
PANEL_MARGIN = 24  # columns the panel's borders and the other spectrum columns take


def style(verdict) -> str:
    """A verdict's rich style (colours.py): bold for a matrix's verdict."""
    return f"bold {colour(verdict)}" if isinstance(verdict, MatrixVerdict) else colour(verdict)


def _decades(values: np.ndarray, top: float) -> float:
    """How many decades below s_1 the bars span: three at least, down to the smallest positive value."""
    positive = values[values > 0]
    if top <= 0 or not len(positive):
        return MIN_DECADES
    return min(16.0, max(MIN_DECADES, math.ceil(math.log10(top / float(positive.min())))))


def bar(value: float, top: float, decades: float, width: int, colour: str) -> Text:
    """log10(s_i / s_1) as a bar: full at 0, empty at -decades (and for zero)."""
    filled = 0 if top <= 0 or value <= 0 else round(width * max(0.0, 1 - math.log10(top / value) / decades))
    return Text("█" * filled + "·" * (width - filled), style=colour)


def _value_rows(k: int) -> list[int | None]:
    if k <= MAX_VALUE_ROWS:
        return list(range(k))
    half = MAX_VALUE_ROWS // 2
    return [*range(half), None, *range(k - half, k)]


def _singular_values(report: MatrixReport, details: bool, width: int) -> Table:
    ref = report.checked_reference
    values = np.asarray(ref.singular_values, dtype=np.float64)
    top = float(values[0]) if len(values) else 0.0
    decades = _decades(values, top)
    flagged = {
        i - 1: ("red" if f.code == "near-zero" else "yellow") for f in report.warnings for i in f.indices
    }
    backends = report.backends if details else ()
    shown = [(b.name, b.singular_values) for b in backends if b.singular_values is not None]
    bar_width = max(10, width - PANEL_MARGIN - 11 * len(shown))
    table = Table(box=None, padding=(0, 1), title="singular values", title_justify="left")
    table.add_column("i", justify="right", style="dim")
    table.add_column("s_i", justify="right")
    for name, _ in shown:
        table.add_column(name, justify="right", overflow="fold")
    table.add_column(f"log10 s_i/s_1, 0 to -{decades:g}")
    for i in _value_rows(len(values)):
        if i is None:
            table.add_row("⋮", *["⋮"] * (len(shown) + 2))
            continue
        colour = flagged.get(i, "green")
        cells = [f"{float(backend_values[i]):.5g}" for _, backend_values in shown]
        table.add_row(
            str(i + 1),
            Text(f"{values[i]:.5g}", style=colour),
            *cells,
            bar(values[i], top, decades, bar_width, colour),
        )
    return table


def _digits(got: float | None, justified: float | None, at_least: str = "") -> str:
    """'12.3/13.8': correct digits of the result over the digits the data justify (``at_least``:
    '>=' where the first is a lower bound)."""
    if got is None or justified is None:
        return "-"
    shown = [">16" if math.isinf(x) or x > 16 else f"{max(x, 0.0):.1f}" for x in (got, justified)]
    return at_least + "/".join(shown) if not shown[0].startswith(">") else "/".join(shown)


def _backends(report: MatrixReport, details: bool) -> Table:
    table = Table(box=None, padding=(0, 1))
    columns = [
        "backend",
        "verdict",
        "digits",
        "error",
        "budget",
        *(["x budget"] if details else []),
        "||G||_F",
    ]
    # a long backend name folds in its own column; the verdict and the numbers are never cut
    table.add_column("backend", overflow="fold")
    for name in columns[1:]:
        table.add_column(name, justify="left" if name == "verdict" else "right", no_wrap=True)

    def fmt(x, spec=".2e"):
        return "-" if x is None else format(x, spec)

    for b in report.backends:
        at_most, at_least = b.bound_marks
        shown = "-" if b.budget_multiple is None else f"{at_most}{b.budget_multiple:.3g}x"
        multiple = [shown] if details else []
        verdict = Text(b.verdict or "-", style=style(b.verdict))
        digits = _digits(b.digits, b.justified_digits, at_least)
        error = at_most + fmt(b.error)
        table.add_row(b.name, verdict, digits, error, fmt(b.budget), *multiple, fmt(b.gradient_norm, ".4g"))
    ref = report.checked_reference
    if ref.gradient_norm is not None:
        label = "reference" if ref.unique else "min-norm member"
        table.add_row(Text(label, style="dim"), *[""] * (len(columns) - 2), fmt(ref.gradient_norm, ".4g"))
    return table


def _backend_notes(report: MatrixReport) -> list[Padding]:
    """Messages that do not fit a table cell: failures, NaN counts, decisions in a backend's favour,
    and why errors are bounds; indented, and folded under their own first column."""
    notes = [Text.assemble((f"{b.name}: ", "bold"), escape(b.message)) for b in report.backends if b.message]
    if any(b.error_is_bound for b in report.backends):
        notes.append(Text(BOUND_NOTE, style="dim"))
    return [Padding(note, (0, 0, 0, 2)) for note in notes]


def _error_parts(report: MatrixReport, verbose: bool) -> list[Padding]:
    """Under each wrong or inaccurate backend's row, where its error lies: one sentence, or with -v
    one line per part of the SVD rule (explain_parts.py)."""
    lines = []
    for b, parts in ((b, b.error_parts) for b in report.backends):
        if parts is None:
            continue
        if not verbose:
            line = Text.assemble((f"{b.name}: ", "bold"), parts_sentence(parts))
            lines.append(Padding(line, (0, 0, 0, 2)))
            continue
        heading = Text.assemble((f"{b.name}: ", "bold"), "ΔG = G - G_ref by part, share of ||ΔG||^2:")
        lines.append(Padding(heading, (0, 0, 0, 2)))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column()  # a long label folds under itself
        for share, words in parts_rows(parts):
            grid.add_row(share, words)
        lines.append(Padding(grid, (0, 0, 0, 4)))
    return lines


def _reference_line(report: MatrixReport, details: bool) -> list[Text]:
    ref = report.checked_reference
    if not ref.defined:
        what = "no gradient here (it depends on the SVD's arbitrary basis)"
    elif ref.unique:
        what = f"the unique gradient, computed in {ref.precision}"
    else:
        what = f"the gradient set; its minimum-norm member ({ref.precision})"
    lines = [Text(f"reference: {what}")]
    if details:
        lines.append(
            Text(f"{ref.set_description}; {ref.method}; relative condition {ref.condition:.3g}", style="dim")
        )
    return lines


def _pairs(report: MatrixReport) -> list:
    measured = [p for p in report.pairs if p.max_abs_diff is not None]
    if not measured:
        return []
    table = Table(title="between backends", title_justify="left", box=None, padding=(0, 1))
    for name in ("pair", "max |diff|", "relative"):
        table.add_column(name, justify="left" if name == "pair" else "right")
    for p in measured:
        relative = "-" if p.relative is None else f"{p.relative:.3e}"
        table.add_row(f"{p.first} vs {p.second}", f"{p.max_abs_diff:.3e}", relative)
    return [Text(""), table]


def _findings(report: MatrixReport) -> list[Text]:
    lines = []
    for f in report.warnings:
        if f.level == NOTE:
            lines.append(
                Text.assemble(("· ", "dim"), (f"{f.code} (note)", "dim bold"), (f": {f.message}", "dim"))
            )
        else:
            lines.append(Text.assemble(("! ", "yellow"), (f.code, "bold yellow"), f": {f.message}"))
    return [Text(""), *lines] if lines else []


def _matrix(array: np.ndarray, title: str) -> Table | Text:
    if max(array.shape) > MAX_SHOWN_MATRIX:
        return Text(f"{title}: {array.shape[0]}x{array.shape[1]}, too large to print", style="dim")
    table = Table(title=escape(title), title_justify="left", box=None, show_header=False)
    for _ in range(array.shape[1]):
        table.add_column(justify="right")
    values = np.asarray(array)
    entry = "{:.4f}" if not np.iscomplexobj(values) else "{0.real:.4f}{0.imag:+.4f}j"
    for row in values:
        table.add_row(*(entry.format(x) for x in row))
    return table


def _arrays(report: MatrixReport, show_gradients: bool, show_reference: bool) -> list:
    parts: list = []
    ref = report.checked_reference
    if show_reference and ref.gradient is not None:
        label = "reference gradient" if ref.unique else "minimum-norm subgradient"
        parts += [Text(""), _matrix(ref.gradient, f"{label} (norm {ref.gradient_norm:.4g})")]
    if show_gradients:
        for b, gradient in ((b, b.gradient) for b in report.backends):
            if gradient is None:
                continue
            mapped = f"; the conjugate of what {b.name} returned" if b.conjugated else ""
            title = f"{b.name} gradient (norm {b.gradient_norm:.4g}{mapped})"
            parts += [Text(""), _matrix(gradient, title)]
    return parts


def fold_name(name: str, width: int) -> str:
    """A name longer than ``width`` in lines that break after '/', '.', '_' or '-', so that each piece
    can still be searched for; mid-word only where one piece is longer than a line."""
    lines, line = [], ""
    for piece in re.split(r"(?<=[/._-])", name):
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        while len(line) + len(piece) > width:
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    return "\n".join([*lines, line])


def error_line(report: MatrixReport) -> Text:
    return Text.assemble(("error ", "bold red"), (report.label, "bold"), f": {report.error}")


def render_matrix(console: Console, report: MatrixReport, options) -> None:
    """One matrix's panel (an input error as one line)."""
    if report.status is MatrixStatus.ERROR:
        console.print(error_line(report), soft_wrap=True)
        return
    details = options.details
    parts = [
        _singular_values(report, details, console.width),
        Text(""),
        *_reference_line(report, details),
        _backends(report, details),
        *_backend_notes(report),
        *_error_parts(report, options.verbose),
        *(_pairs(report) if details else []),
        *_findings(report),
        *_arrays(report, options.show_gradients, options.show_reference),
        Text(""),
        Text.assemble((report.verdict.upper(), style(report.verdict)), "  ", report.explanation),
    ]
    m, n = report.shape
    stored = f" (stored {report.stored_dtype})" if report.stored_dtype else ""
    shape = f"{m}x{n} {report.dtype}{stored}"
    title = Text.assemble((report.label, "bold"), (f"  {shape}", "dim"))
    if report.reshaped:  # a checkpoint's kernel read as one matrix: say how, first
        parts.insert(0, Text(f"kernel {report.reshaped}", style="dim"))
    if len(title) > console.width - 8:  # a title would be cut: the name goes inside, folded, in full
        parts.insert(0, Text(fold_name(report.label, console.width - 4), style="bold", overflow="fold"))
        title = Text(shape, style="dim")
    colour = style(report.verdict).replace("bold ", "")
    console.print(Panel(Group(*parts), title=title, title_align="left", border_style=colour))
