"""A sweep as a terminal picture: one row per backend, one cell per point, then where each verdict holds.

Each cell is a letter for the verdict (so that the picture reads without colour, in a CI log or in
greyscale) and the backend's correct digits, on a background coloured by the verdict; a row of the
matrix verdicts follows. Points wrap into blocks that fit the console (80 columns in a log), and every
line is folded rather than cut.
"""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.colours import colours
from svdgrad_cli.render.table import summary_line
from svdgrad_cli.render.terminal import terminal_text
from svdgrad_cli.sweep_model import Family, SweepPoint, SweepReport
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

CELL = 4  # three characters and a space
MAX_NAME = 16  # longer backend names are listed under short aliases
# verdict -> letter: the letter carries the meaning, the colour (colours.py) repeats it.
BACKEND_LETTERS = {
    BackendVerdict.CORRECT: "c",
    BackendVerdict.VALID: "v",
    BackendVerdict.INDETERMINATE: "?",
    BackendVerdict.UNDEFINED: "-",
    BackendVerdict.INACCURATE: "i",
    BackendVerdict.WRONG: "W",
    BackendVerdict.NON_FINITE: "N",
    BackendVerdict.UNSUPPORTED: "u",
    BackendVerdict.FAILED: "F",
}
MATRIX_LETTERS = {
    MatrixVerdict.AGREE: "=",
    MatrixVerdict.NON_UNIQUE: "~",
    MatrixVerdict.UNDEFINED: "-",
    MatrixVerdict.INDETERMINATE: "?",
    MatrixVerdict.UNSUPPORTED: "u",
    MatrixVerdict.INACCURATE: "i",
    MatrixVerdict.ERROR: "E",
    MatrixVerdict.NON_FINITE: "N",
    MatrixVerdict.WRONG: "W",
}


def glyph(verdict, letters: dict) -> tuple[str, str]:
    """(letter, rich style) of a verdict in the picture."""
    background, text = colours(verdict)
    return letters[verdict], f"{text} on {background}"


REALISED_SHOWN = 4  # points whose realised parameter differs that are named (JSON has them all)
REALISED_CLOSE = 0.05  # relative difference below which realised and requested are the same


def axis_labels(family: Family, points: list[SweepPoint]) -> list[str]:
    """The column headings: where rounding gives several columns one heading, only the column
    nearest to it keeps it (10 10 10 11 for 9.97, 10.5, 10.9, 11 would mislead)."""
    vary = family.vary
    labels = [vary.axis_value(p.member.requested) for p in points]

    def off(i: int) -> float:
        x = points[i].member.requested
        position = vary.axis_position(x) if x > 0 else math.inf  # an exact end has its own heading
        return abs(position - float(labels[i])) if math.isfinite(position) else 0.0

    for label in set(labels):
        columns = [i for i, other in enumerate(labels) if other == label]
        nearest = min(columns, key=off)
        for i in columns:
            labels[i] = label if i == nearest else ""
    return labels


def _digits(value: float | None) -> str:
    if value is None:
        return ""
    if math.isinf(value) or value >= 99.5:
        return "∞"
    return f"{max(0, math.floor(value)):>2d}"


def backend_cell(point: SweepPoint, name: str) -> Text:
    result = next((b for b in point.report.backends if b.name == name), None)
    if result is None:
        return Text("   ", style="dim")
    letter, style = glyph(result.verdict, BACKEND_LETTERS)
    digits = _digits(result.digits) if result.verdict not in (BackendVerdict.NON_FINITE,) else ""
    return Text(f"{letter}{digits:>2}"[:3].ljust(3), style=style)


def matrix_cell(point: SweepPoint) -> Text:
    letter, style = glyph(point.report.verdict, MATRIX_LETTERS)
    return Text(f" {letter} ", style=style)


def backend_names(report: SweepReport) -> list[str]:
    names: list[str] = []
    for point in report.points:
        names += [b.name for b in point.report.backends if b.name not in names]
    return names


def _aliases(names: list[str]) -> dict[str, str]:
    shown = [terminal_text(n) for n in names]
    return {
        n: (s if len(s) <= MAX_NAME else f"b{i + 1}")
        for i, (n, s) in enumerate(zip(names, shown, strict=True))
    }


def _block(console: Console, report: SweepReport, points: list[SweepPoint], width: int) -> None:
    family = report.family
    names = backend_names(report)
    aliases = _aliases(names)
    header = Text(family.vary.axis_label.ljust(width), style="bold")
    for label in axis_labels(family, points):
        header.append(f"{label:>3} ")
    console.print(header, soft_wrap=False, overflow="ignore", crop=False)
    for name in names:
        row = Text(aliases[name].ljust(width))
        for p in points:
            row.append(backend_cell(p, name))
            row.append(" ")
        console.print(row, soft_wrap=False, overflow="ignore", crop=False)
    row = Text("matrix".ljust(width), style="bold")
    for p in points:
        row.append(matrix_cell(p))
        row.append(" ")
    console.print(row, soft_wrap=False, overflow="ignore", crop=False)
    if len(names) > 1:
        row = Text("log10 diff".ljust(width), style="dim")
        for p in points:
            row.append(f"{diff_cell(p):>3} ")
        console.print(row, soft_wrap=False, overflow="ignore", crop=False)


def diff_cell(point: SweepPoint) -> str:
    """log10 of the largest relative difference between two backends' gradients ('-' for none)."""
    values = [p.relative for p in point.report.pairs if p.relative is not None]
    if not values:
        return "-"
    largest = max(values)
    return "-∞" if largest == 0 else f"{max(-99, math.floor(math.log10(largest) + 0.5)):d}"


def folded(console: Console, text: Text, label: str = "", width: int = 0, style: str = "") -> None:
    """``label`` in a column of ``width``, then ``text`` folded beside it (continuation lines align)."""
    text.overflow = "fold"
    if not width:
        console.print(text)
        return
    grid = Table.grid()
    grid.add_column(width=width, no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text(label, style=style), text)
    console.print(grid)


def _legend(console: Console, report: SweepReport) -> None:
    seen_b = {b.verdict for p in report.points for b in p.report.backends}
    seen_m = {p.report.verdict for p in report.points}
    folded(console, _letters(Text(), BACKEND_LETTERS, seen_b))
    folded(console, Text(_digits_legend(report), style="dim"))
    folded(console, _letters(Text("matrix: ", style="dim"), MATRIX_LETTERS, seen_m))
    names = backend_names(report)
    if len(names) > 1:
        note = "log10 diff: the largest relative difference between two backends' gradients"
        folded(console, Text(note, style="dim"))
    for name, alias in _aliases(names).items():
        if alias != name:
            folded(console, Text(f"{alias} = {terminal_text(name)}", style="dim"))


def _letters(line: Text, letters: dict, seen: set) -> Text:
    """``line`` with the letter and name of every verdict of ``letters`` that the sweep shows."""
    for verdict in (v for v in letters if v in seen):
        letter, style = glyph(verdict, letters)
        line.append(f" {letter} ", style=style).append(f" {verdict}  ")
    return line


def _span(values: list[int]) -> str:
    """'3', '3 to 12', or '' for no values."""
    if not values:
        return ""
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low} to {high}"


def _digits_legend(report: SweepReport) -> str:
    """What the numbers in the cells are: correct digits, and the range the data justify."""
    every = [b.justified_digits for p in report.points for b in p.report.backends]
    justified = [math.floor(max(0.0, d)) for d in every if d is not None and math.isfinite(d)]
    span = _span(justified)
    digits = f"number: correct digits (the data justify {span})" if span else "number: correct digits"
    if any(b.error_is_bound for p in report.points for b in p.report.backends):
        digits += "; at least, where within the float64 reference's own error"
    return digits


def runs(report: SweepReport, name: str | None) -> list[tuple[str, float, float]]:
    """(verdict, first x, last x) over consecutive points with one verdict: a backend's (``name``),
    or the matrix's (None)."""
    out: list[tuple[str, float, float]] = []
    for p in report.points:
        verdict: str = (
            p.report.verdict
            if name is None
            else next((b.verdict or "-" for b in p.report.backends if b.name == name), "-")
        )
        x = p.member.requested
        if out and out[-1][0] == verdict:
            out[-1] = (verdict, out[-1][1], x)
        else:
            out.append((verdict, x, x))
    return out


def _transitions(console: Console, report: SweepReport) -> None:
    """Where each verdict holds, per backend (once for all of them where they agree) and per matrix."""
    family = report.family
    names = backend_names(report)
    texts = {}
    for name in [*names, None]:
        parts = []
        for verdict, first, last in runs(report, name):
            where = family.vary.x_text(first) + (f" to {family.vary.x_text(last)}" if last != first else "")
            parts.append(f"{verdict} {where}")
        texts[name] = "; ".join(parts)
    if len(names) > 1 and len({texts[n] for n in names}) == 1:
        texts = {"every backend": texts[names[0]], None: texts[None]}
    width = max(len(str(n)) for n in [*texts, "matrix"]) + 2
    for name, text in texts.items():
        folded(console, Text(text), terminal_text(name or "matrix"), width, "bold")


def differing(report: SweepReport) -> list[SweepPoint]:
    """Points whose realised parameter is not the requested one (within REALISED_CLOSE)."""
    out = []
    for p in report.points:
        want, got = p.member.requested, p.realised_parameter
        if want == 0:
            close = got == 0 or (not math.isnan(got) and got <= report.family.zero_level)
        else:
            close = abs(got - want) <= REALISED_CLOSE * want
        if not close:
            out.append(p)
    return out


def _realised(console: Console, report: SweepReport) -> None:
    family = report.family
    off = differing(report)
    methods = sorted({p.method for p in report.points})
    how = " and ".join(methods)
    if not off:
        text = f"realised x of the stored matrices ({how}): as requested (within {REALISED_CLOSE:.0%})"
        folded(console, Text(text, style="dim"))
        return
    shown = ", ".join(
        f"{family.vary.x_text(p.member.requested)} -> {p.realised_parameter:.3g}"
        for p in off[:REALISED_SHOWN]
    )
    more = (
        f", and {len(off) - REALISED_SHOWN} more (JSON lists every point)"
        if len(off) > REALISED_SHOWN
        else ""
    )
    text = f"realised x ({how}) differs at {len(off)} point(s), where the stored matrix rounds: {shown}{more}"
    folded(console, Text(text, style="dim"))


def _title(console: Console, report: SweepReport) -> None:
    f = report.family
    m, n = f.shape
    s = report.run.settings
    unitary = "unitary" if f.dtype.startswith("complex") else "orthogonal"
    made = {
        "dyadic": f"exactly {unitary} dyadic factors",
        "qr": "seeded QR factors",
        "svd": "its own singular vectors",
    }[f.factors.kind]
    title = Text.assemble(
        ("sweep ", "bold"), (f"x = {f.parameter}", "bold"), f" over {len(f.members)} points, loss {s.loss}"
    )
    folded(console, title)
    values = f.spectrum if f.spectrum is not None else f.base
    zero = f.zero_level * float(values[0])
    shown = [f"{v:.4g}" if v > zero else "≈0" for v in values[:6]]
    base = ", ".join(shown) + (", ..." if len(values) > 6 else "")
    what = f"{terminal_text(f.source)}, {m}x{n} {f.dtype}" if f.source else f"{m}x{n} {f.dtype}"
    seeded = "" if f.factors.kind == "svd" else f" (seed {f.seed})"
    folded(console, Text(f"{what}, {made}{seeded}; s_i = {base}", style="dim"))
    if f.marked_original is not None:
        x = "≈ 0 (numerically zero)" if f.marked_original <= f.zero_level else f"= {f.marked_original:.3g}"
        folded(console, Text(f"the matrix itself has x {x}", style="dim"))


def render_sweep(console: Console, report: SweepReport, quiet: bool = False) -> None:
    if not quiet and report.points:
        _title(console, report)
        console.print()
        names = backend_names(report)
        labels = [*_aliases(names).values(), "matrix", "log10 diff", report.family.vary.axis_label]
        width = max(len(label) for label in labels) + 2
        per_block = max(1, (console.width - width) // CELL)
        for start in range(0, len(report.points), per_block):
            _block(console, report, report.points[start : start + per_block], width)
            console.print()
        _legend(console, report)
        console.print()
        _transitions(console, report)
        _realised(console, report)
    console.print(summary_line(report.run), soft_wrap=False)


class SweepTableRenderer(Renderer[SweepPoint, SweepReport]):
    """The picture, written once the sweep is done (captured as text, with colour on a terminal)."""

    name = "table"

    def __init__(self, options=None, console: Console | None = None) -> None:
        super().__init__(options)
        self.console = console or Console()

    def finish(self, report: SweepReport, streamed: bool = False) -> str:
        with self.console.capture() as capture:
            render_sweep(self.console, report, self.options.quiet)
        return capture.get()
