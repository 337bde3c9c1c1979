"""One self-contained HTML report: the summary, then a panel per matrix with its pictures.

Everything is inside the file: the style sheet inline, the pictures as base64 PNG ``data:`` URIs
(matrix_plots.py), no script, no font or link to fetch, so it opens offline, in a CI artifact viewer
and in a mail. Verdicts are words on coloured badges (the word carries the meaning). Pictures are
drawn for the PICTURE_LIMIT most severe matrices; without matplotlib the report says how to get them.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import math
from collections.abc import Mapping

from svdgrad_cli.explain_parts import parts_sentence
from svdgrad_cli.model import BOUND_NOTE, MatrixReport, RunReport, worst_first
from svdgrad_cli.options import Settings
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.colours import colours
from svdgrad_cli.render.plots import INSTALL
from svdgrad_cli.render.table import backend_summary
from svdgrad_cli.render.terminal import terminal_text
from svdgrad_cli.verdicts import MatrixStatus, MatrixVerdict

PICTURE_LIMIT = 20  # matrices drawn (the most severe); about half a second each
CAPTIONS = {
    "spectrum": "Singular values relative to s_1, and the gaps between neighbours, with the thresholds "
    "for zero, tied and near-duplicate values.",
    "errors": "Each backend's relative error against the error budget (the digits the data justify) "
    "and sqrt(eps), beyond which a result is wrong.",
    "differences": "Where each backend's gradient differs from the reference, entry by entry.",
}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
background:#f6f7f9;color:#1b1f24;line-height:1.45;font-size:15px}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:18px;margin:0 0 6px;word-break:break-all}
h3{font-size:15px;margin:14px 0 6px}
.lead{font-size:16px;margin:4px 0 16px}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;font-weight:600;font-size:13px;
font-family:ui-monospace,"DejaVu Sans Mono",monospace;white-space:nowrap}
.panel{background:#fff;border:1px solid #d0d7de;border-left:8px solid #999;border-radius:6px;
padding:14px 18px;margin:18px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:14px}
th,td{padding:3px 10px;border-bottom:1px solid #e4e7eb;text-align:right;vertical-align:top}
th{background:#eef1f4;font-weight:600}th:first-child,td:first-child,th.text,td.text{text-align:left}
td.num{font-family:ui-monospace,"DejaVu Sans Mono",monospace;white-space:nowrap}
.scroll{overflow-x:auto}
.meta{color:#57606a;font-size:13px}.explanation{max-width:72em}
.warning{color:#7a4b00}.note{color:#57606a}.error{color:#b00020}
figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid #e4e7eb;background:#fff}
figcaption{color:#57606a;font-size:13px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:14px}dt{color:#57606a}
"""


def escaped(value) -> str:
    """Text for HTML: its markup characters escaped, and its controls and bidi characters (terminal.py)."""
    return html.escape(terminal_text(str(value), keep="\n"))


def badge(verdict: str) -> str:
    background, text = colours(verdict)
    return f'<span class="badge" style="background:{background};color:{text}">{escaped(verdict)}</span>'


def _number(x, spec: str = ".3g") -> str:
    return "-" if x is None else ("inf" if isinstance(x, float) and math.isinf(x) else format(x, spec))


def _backends_table(report: MatrixReport) -> str:
    rows = []
    for b in report.backends:
        at_most, at_least = (html.escape(mark) for mark in b.bound_marks)
        digits = f"{at_least}{_number(b.digits, '.1f')} / {_number(b.justified_digits, '.1f')}"
        rows.append(
            f"<tr><td>{escaped(b.name)}</td><td class=text>{badge(b.verdict or '-')}</td>"
            f"<td class=num>{digits}</td><td class=num>{at_most}{_number(b.error, '.2e')}</td>"
            f"<td class=num>{_number(b.budget, '.2e')}</td>"
            f"<td class=num>{_number(b.gradient_norm, '.4g')}</td></tr>"
        )
        if b.message:
            rows.append(f'<tr><td></td><td colspan=5 class="text meta">{escaped(b.message)}</td></tr>')
        if b.error_parts is not None:
            where = escaped(parts_sentence(b.error_parts))
            rows.append(f'<tr><td></td><td colspan=5 class="text meta">{where}</td></tr>')
    if any(b.error_is_bound for b in report.backends):
        rows.append(f'<tr><td colspan=6 class="text meta">{escaped(BOUND_NOTE)}</td></tr>')
    head = "<tr><th>backend</th><th>verdict</th><th>digits (correct / justified)</th><th>error</th>"
    return (
        f'<div class="scroll"><table>{head}<th>budget</th><th>||G||_F</th></tr>{"".join(rows)}</table></div>'
    )


def _findings(report: MatrixReport) -> str:
    items = [
        f'<li class="{escaped(f.level)}"><b>{escaped(f.code)}</b>'
        f"{' (note)' if f.level == 'note' else ''}: {escaped(f.message)}</li>"
        for f in report.warnings
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def figure(data: bytes, alt: str, caption: str) -> str:
    """A PNG picture inside the document (a base64 ``data:`` URI) with its caption."""
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img alt="{escaped(alt)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{escaped(caption)}</figcaption></figure>"
    )


def document(title: str, body: str, heading: str = "") -> str:
    """A whole self-contained document: the style sheet inline, ``body`` under the heading (the
    title where none is given)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escaped(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{escaped(heading or title)}</h1>{body}</main></body></html>\n"
    )


def can_draw() -> bool:
    """Whether matplotlib is there to draw pictures."""
    return importlib.util.find_spec("matplotlib") is not None


def drawn(make_figure, alt: str, caption: str) -> str:
    """The picture ``make_figure()`` draws (a matplotlib figure), or a line saying how to get pictures."""
    if not can_draw():
        return f"<p class=meta>No pictures: they need matplotlib ({escaped(INSTALL)}).</p>"
    from svdgrad_cli.render.plots import figure_bytes

    return figure(figure_bytes(make_figure()), alt, caption)


def badges(counts: Mapping[str, int] | Mapping[MatrixVerdict, int]) -> str:
    """Each verdict's badge and how many have it."""
    return "<p>" + " ".join(f"{badge(v)} {n}" for v, n in counts.items() if n) + "</p>"


def _figures(pictures: dict[str, bytes], label: str) -> str:
    return "".join(figure(data, f"{kind} of {label}", CAPTIONS[kind]) for kind, data in pictures.items())


NO_DIFFERENCES = (
    "No picture of |G - G_ref|: this report holds no gradients (a merged report has them only where "
    "the shards ran with --include-arrays)."
)


def _without_differences(report: MatrixReport, pictures: dict[str, bytes] | None) -> bool:
    """Pictures without |G - G_ref| where a gradient existed to draw: a report read back from jsonl
    without its arrays."""
    reference = report.reference
    missing = pictures is not None and bool(pictures) and "differences" not in pictures
    return missing and reference is not None and reference.defined and reference.gradient is None


def panel(report: MatrixReport, number: int, pictures: dict[str, bytes] | None, why_none: str = "") -> str:
    """One matrix's panel (an input error as a short one)."""
    label = escaped(report.label)
    colour = colours(report.verdict)[0]
    start = f'<article class="panel" id="m{number}" style="border-left-color:{colour}">'
    if report.status is MatrixStatus.ERROR:
        problem = escaped(report.error or "")
        return f'{start}<h2>{label} {badge("error")}</h2><p class="error">{problem}</p></article>'
    m, n = report.shape
    stored = f" (stored {report.stored_dtype})" if report.stored_dtype else ""
    stored += f"; kernel {html.escape(report.reshaped)}" if report.reshaped else ""
    values = [] if report.reference is None else list(report.reference.singular_values)
    shown = ", ".join(f"{v:.5g}" for v in values[:12]) + (", ..." if len(values) > 12 else "")
    parts = [
        f"{start}<h2>{label} {badge(report.verdict)}</h2>",
        f'<p class="meta">{m}x{n} {escaped(report.dtype)}{stored}; singular values {shown}</p>',
        f'<p class="explanation">{escaped(report.explanation)}</p>',
        _backends_table(report),
        _findings(report),
        _figures(pictures, report.label) if pictures else f'<p class="meta">{escaped(why_none)}</p>',
        f'<p class="meta">{NO_DIFFERENCES}</p>' if _without_differences(report, pictures) else "",
    ]
    return "".join(parts) + "</article>"


def _summary(run: RunReport) -> str:
    from svdgrad_cli.render.table import summary_line

    counts = badges(run.verdict_counts())
    s = run.settings
    tools = ("svdgrad", "python", "numpy", "mpmath")
    facts = {
        "loss": s.loss,
        "backends": ", ".join(f"{k} {v or ''}".strip() for k, v in run.versions.items() if k not in tools),
        "dtype": s.dtype,
        "versions": ", ".join(f"{k} {v}" for k, v in run.versions.items() if k in tools),
        "config": run.config_shown,
    }
    if run.warning_counts():
        facts["warnings"] = ", ".join(f"{code} ({n})" for code, n in sorted(run.warning_counts().items()))
    rows = "".join(f"<dt>{escaped(k)}</dt><dd>{escaped(v)}</dd>" for k, v in facts.items())
    line = escaped(summary_line(run).plain.removeprefix("svdgrad: "))
    return f'<p class="lead">{line}</p>{counts}<dl>{rows}</dl>'


def _worst(run: RunReport, numbers: dict[int, int]) -> str:
    flagged = [
        r
        for r in worst_first(run.results)
        if r.status is MatrixStatus.CHECKED and r.verdict != MatrixVerdict.AGREE
    ]
    if not flagged:
        return ""
    rows = "".join(
        f'<tr><td><a href="#m{numbers[id(r)]}">{escaped(r.label)}</a></td>'
        f"<td class=text>{badge(r.verdict)}</td>"
        f'<td class="text">{escaped(backend_summary(r))}</td></tr>'
        for r in flagged[:20]
    )
    return f"<h3>worst matrices</h3><table><tr><th>matrix</th><th>verdict</th><th>why</th></tr>{rows}</table>"


def _skipped(run: RunReport) -> str:
    if not run.skipped:
        return ""
    items = "".join(f"<li>{escaped(s.source)}: {escaped(s.reason)}</li>" for s in run.skipped)
    return f"<h3>skipped ({len(run.skipped)})</h3><ul class=meta>{items}</ul>"


def render_html(
    run: RunReport, pictures: dict[int, dict[str, bytes]] | None = None, why_none: str = ""
) -> str:
    """The document; ``pictures[i]`` are the pictures of ``run.results[i]`` (missing: none)."""
    pictures = pictures or {}
    numbers = {id(r): i + 1 for i, r in enumerate(run.results)}
    panels = "".join(panel(r, i + 1, pictures.get(i), why_none) for i, r in enumerate(run.results))
    interrupted = '<p class="error">Interrupted: the report covers the matrices checked so far.</p>'
    body = (
        f"{_summary(run)}{interrupted if run.interrupted else ''}"
        f"{_worst(run, numbers)}{_skipped(run)}<h3>matrices</h3>{panels}"
    )
    return document("svdgrad report", body, "svdgrad check")


def most_severe(kept: list[tuple[int, MatrixReport]]) -> list[tuple[int, MatrixReport]]:
    """The PICTURE_LIMIT most severe of (position, report) pairs (model.worst_first's order)."""
    order = {id(r): n for n, r in enumerate(worst_first([r for _, r in kept]))}
    return sorted(kept, key=lambda pair: order[id(pair[1])])[:PICTURE_LIMIT]


class HtmlRenderer(Renderer):
    """The html format. ``item`` sees each report while it still has its gradients and keeps the
    PICTURE_LIMIT most severe; ``finish`` draws them and writes the document."""

    name = "html"

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.kept: list[tuple[int, MatrixReport]] = []
        self.seen = 0

    def item(self, report: MatrixReport) -> str:
        self.kept = most_severe([*self.kept, (self.seen, report)])
        self.seen += 1
        return ""

    def _pictures(self, run: RunReport) -> tuple[dict[int, dict[str, bytes]], str]:
        if not can_draw():
            return {}, f"No pictures: they need matplotlib ({INSTALL})."
        from svdgrad_cli.render.matrix_plots import matrix_pictures

        kept = self.kept if self.seen else most_severe(list(enumerate(run.results)))
        settings = run.settings or Settings()
        pictures = {i: matrix_pictures(r, settings) for i, r in kept}
        return pictures, f"Pictures are drawn for the {PICTURE_LIMIT} most severe matrices only."

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        pictures, why_none = self._pictures(run)
        return render_html(run, pictures, why_none)
