"""``--format html`` of ``--decomposition eigh`` (eigh_model.py): one self-contained file, as the
gradient's (html.py: its style sheet, its badges, pictures as base64 PNG ``data:`` URIs, no script).
A check: its counts, what was not checked, and a panel per matrix (its eigenvalues, the reference,
each backend's verdict, relative error, budget and asym, its notes and blame). A sweep: the picture
render/eigh_plot.py draws for --plot, then a row per point with each backend's verdict.
"""

from __future__ import annotations

from collections import Counter

from svdgrad_cli.eigh_model import EighReport, EighResult, EighRun
from svdgrad_cli.render.colours import colours
from svdgrad_cli.render.eigh_formats import unchecked
from svdgrad_cli.render.eigh_report import ASYM_NOTE, SHOWN_VALUES, EighRenderer, number
from svdgrad_cli.render.html import badge, badges, document, drawn, escaped
from svdgrad_cli.render.row_formats import html_unchecked
from svdgrad_cli.verdicts import BackendVerdict

SWEEP_CAPTION = (
    "Each backend's relative error against the swept parameter, the relative budget (grey) and "
    "sqrt(eps); NaN on the top strip; undefined points shaded grey, indeterminate ones light."
)


def _row(r: EighResult) -> str:
    cells = "".join(f"<td class=num>{number(x)}</td>" for x in (r.relative_error, r.budget, r.asymmetry))
    return f"<tr><td>{escaped(r.backend)}</td><td class=text>{badge(r.verdict)}</td>{cells}</tr>"


def _notes(report: EighReport) -> str:
    """Each backend's notes and blame, below the table (they would stretch it)."""
    items = "".join(
        f"<li><b>{escaped(r.backend)}</b>: {escaped(note)}</li>"
        for r in report.results
        for note in (r.message, r.forward)
        if note
    )
    return f"<ul class=meta>{items}</ul>" if items else ""


def _facts(report: EighReport) -> str:
    n = report.shape[0]
    values = ", ".join(f"{w:.6g}" for w in report.eigenvalues[:SHOWN_VALUES])
    more = ", ..." if len(report.eigenvalues) > SHOWN_VALUES else ""
    facts = f"{n}x{n} {report.dtype}, eigh, loss {report.loss}; eigenvalues {values}{more}"
    removed = report.symmetrized
    symmetrized = "" if removed is None else f"; --symmetrize removed ||A - A^H||_F / ||A||_F = {removed:.3g}"
    return f"<p class=meta>{escaped(facts + symmetrized)}</p>"


def panel(report: EighReport, index: int) -> str:
    """One matrix's panel."""
    head = "<tr><th>backend</th><th class=text>verdict</th><th>rel. error</th><th>budget</th><th>asym</th>"
    return (
        f'<article class="panel" id="m{index}" style="border-left-color:{colours(report.verdict)[0]}">'
        f"<h2>{escaped(report.label)} {badge(report.verdict)}</h2>{_facts(report)}"
        f"<p class=explanation>reference: {escaped(report.reference)}</p>"
        f'<div class="scroll"><table>{head}</tr>{"".join(_row(r) for r in report.results)}</table></div>'
        f"{_notes(report)}</article>"
    )


def _lead(run: EighRun, what: str) -> str:
    losses = ", ".join(dict.fromkeys(r.loss for r in run.reports)) or "-"
    return f'<p class="lead">{escaped(what)}; eigh, loss {escaped(losses)}</p>'


def check_html(run: EighRun) -> str:
    """An eigh check as a document."""
    parts = [
        _lead(run, f"{len(run.reports)} matrices checked, {len(run.errors)} inputs not checked"),
        badges(Counter(str(r.verdict) for r in run.reports)),
        html_unchecked(unchecked(run)),
        *(panel(r, i + 1) for i, r in enumerate(run.reports)),
    ]
    if run.reports:
        parts.append(f"<p class='meta explanation'>{escaped(ASYM_NOTE)}</p>")
    return document("svdgrad check --decomposition eigh", "".join(parts))


def _point(report: EighReport) -> str:
    budget = next((r.budget for r in report.results if r.budget is not None), None)
    cells = "".join(
        f"<td class=text>{badge(r.verdict)}</td><td class=num>{number(r.relative_error)}</td>"
        for r in report.results
    )
    return f"<tr><td>{escaped(report.label)}</td><td class=num>{number(budget)}</td>{cells}</tr>"


def sweep_html(run: EighRun) -> str:
    """An eigh sweep as a document: its picture, then each point's verdicts and relative errors."""
    parts = [_lead(run, f"sweep --vary {run.swept}, {len(run.reports)} points")]
    parts.append(html_unchecked(unchecked(run)))
    if run.reports:
        from svdgrad_cli.render.eigh_plot import eigh_sweep_figure

        parts.append(drawn(lambda: eigh_sweep_figure(run), "the sweep", SWEEP_CAPTION))
        names = "".join(f"<th colspan=2 class=text>{escaped(r.backend)}</th>" for r in run.reports[0].results)
        rows = "".join(_point(r) for r in run.reports)
        table = f"<table><tr><th>point</th><th>budget</th>{names}</tr>{rows}</table>"
        parts.append(f'<div class="scroll">{table}</div>')
        parts.append(_failures(run))
    return document("svdgrad sweep --decomposition eigh", "".join(parts))


def _failures(run: EighRun) -> str:
    """Why each backend failed at each point (the table shows only that it did)."""
    items = "".join(
        f"<li>{escaped(report.label)}: <b>{escaped(r.backend)}</b> failed: {escaped(r.message)}</li>"
        for report in run.reports
        for r in report.results
        if r.verdict == BackendVerdict.FAILED
    )
    return f"<ul class=meta>{items}</ul>" if items else ""


class EighHtmlRenderer(EighRenderer):
    name = "html"
    document = staticmethod(check_html)


class EighSweepHtmlRenderer(EighRenderer):
    name = "html"
    document = staticmethod(sweep_html)
