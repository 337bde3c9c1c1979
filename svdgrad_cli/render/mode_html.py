"""``--format html`` of ``--mode jvp|hvp`` (issue 25): one self-contained file, as the gradient's
(html.py: its style sheet, its badges, pictures as base64 PNG ``data:`` URIs, no script): a run's
summary and a panel per matrix (each direction's reference and every path's verdict, and the
errors picture, render/mode_plots.py), or a sweep's picture and each path's verdicts point by point.
Without matplotlib the document says how to get the pictures.
"""

from __future__ import annotations

from collections import Counter

from svdgrad_cli.mode_model import DirectionResult, ModePoint, ModeReport, ModeRun, ModeSweep
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.html import badge, badges, can_draw, document, drawn, escaped, figure
from svdgrad_cli.render.modes import MODE_NAMES, WHY_JVPS_DIFFER, unchecked
from svdgrad_cli.render.plots import INSTALL
from svdgrad_cli.render.row_formats import html_unchecked

PICTURE_LIMIT = 20  # matrices drawn, in the order met
NO_PICTURES = f"No pictures: they need matplotlib ({INSTALL})."


def _number(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def _reference(report: ModeReport, d: DirectionResult) -> str:
    facts = [d.reference]
    if report.mode == "jvp" and d.value is not None:
        facts.append(f"L'(A;E{d.index + 1}) = {d.value:.10g}")
        if d.interval is not None:
            facts.append(f"members give [{d.interval[0]:.6g}, {d.interval[1]:.6g}]")
    elif d.norm is not None:
        facts.append(f"||H(A)[E{d.index + 1}]||_F = {d.norm:.6g}")
    return f"<h3>E{d.index + 1}</h3><p class=meta>{escaped('; '.join(facts))}</p>"


def _direction(report: ModeReport, d: DirectionResult) -> str:
    rows = "".join(
        f"<tr><td>{escaped(r.backend)}</td><td class=text>{escaped(r.path)}</td>"
        f"<td class=text>{badge(r.verdict)}</td><td class=num>{_number(r.relative_error)}</td>"
        f"<td class=num>{_number(r.budget)}</td><td class='text meta'>{escaped(r.message)}</td></tr>"
        for r in d.results
    )
    head = "<tr><th>backend</th><th class=text>path</th><th class=text>verdict</th><th>rel. error</th>"
    head += "<th>budget</th><th></th></tr>"
    return f'{_reference(report, d)}<div class="scroll"><table>{head}{rows}</table></div>'


def _errors_picture(report: ModeReport) -> bytes:
    from svdgrad_cli.render.mode_plots import errors_figure
    from svdgrad_cli.render.plots import figure_bytes

    return figure_bytes(errors_figure(report))


def panel(report: ModeReport, number: int, draw: bool) -> str:
    """One matrix's panel: its directions, and its errors picture where ``draw``."""
    m, n = report.shape
    parts = [
        f'<article class="panel" id="m{number}"><h2>{escaped(report.label)} {badge(report.verdict)}</h2>',
        f"<p class=meta>{m}x{n}, loss {escaped(report.loss)}, {escaped(report.dtype)}</p>",
        *(_direction(report, d) for d in report.directions),
    ]
    if report.mode == "jvp" and any(d.interval for d in report.directions):
        parts.append(f"<p class=explanation>{escaped(WHY_JVPS_DIFFER)}</p>")
    if draw:
        caption = "Each path's relative error per direction against the budget and sqrt(eps)."
        parts.append(figure(_errors_picture(report), f"errors of {report.label}", caption))
    return "".join(parts) + "</article>"


def run_html(run: ModeRun) -> str:
    """A run in one mode as a document."""
    draw = can_draw()
    parts = [
        f'<p class="lead">mode {escaped(MODE_NAMES[run.mode])}: {len(run.reports)} matrices</p>',
        badges(Counter(str(r.verdict) for r in run.reports)),
        html_unchecked(unchecked(run)),
    ]
    if not draw:
        parts.append(f"<p class=meta>{escaped(NO_PICTURES)}</p>")
    parts += [panel(r, i + 1, draw and i < PICTURE_LIMIT) for i, r in enumerate(run.reports)]
    return document(f"svdgrad check --mode {run.mode}", "".join(parts))


def sweep_html(sweep: ModeSweep) -> str:
    """A sweep in one mode as a document: its picture, then each point's verdicts."""
    parts = [
        f'<p class="lead">sweep {escaped(sweep.family.parameter)}, mode {escaped(MODE_NAMES[sweep.mode])}</p>'
    ]
    if sweep.interrupted:
        parts.append('<p class="error">Interrupted: the report covers the points checked so far.</p>')
    if sweep.points:
        from svdgrad_cli.render.mode_plots import mode_sweep_figure

        caption = "Each path's relative error along one seeded direction against the swept parameter."
        parts.append(drawn(lambda: mode_sweep_figure(sweep), "the sweep", caption))
    parts += [_point(p) for p in sweep.points]
    return document(f"svdgrad sweep --mode {sweep.mode}", "".join(parts))


def _point(point: ModePoint) -> str:
    d = point.report.directions[0]
    return f"<h2>{escaped(point.label)} {badge(point.report.verdict)}</h2>{_direction(point.report, d)}"


class ModeHtmlRenderer(Renderer[ModeReport, ModeRun]):
    name = "html"

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        return run_html(report)


class ModeSweepHtmlRenderer(Renderer[ModePoint, ModeSweep]):
    name = "html"

    def finish(self, report: ModeSweep, streamed: bool = False) -> str:
        return sweep_html(report)
