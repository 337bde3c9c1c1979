"""JSON lines, JUnit XML, GitHub annotations and Markdown of ``--decomposition eigh`` (eigh_model.py),
through row_formats.py as the ``--mode`` runs' are: a Case per backend and matrix, whose message says
eigh, the loss, the relative error, the budget, the asym column (what the framework adds off the
symmetric subspace: which triangle it reads), the notes and the blame. Each format is a Renderer
(base.py) of EIGH_RENDERERS (JSON lines also of EIGH_SWEEP_RENDERERS); a run is written whole at its
end (``finish(run)``)."""

from __future__ import annotations

import textwrap
from collections import Counter

from svdgrad_cli.eigh_model import EighReport, EighResult, EighRun
from svdgrad_cli.render.eigh_report import ASYM_NOTE, EighRenderer, number
from svdgrad_cli.render.markdown import inline, table_lines
from svdgrad_cli.render.row_formats import (
    WIDTH,
    Case,
    Unchecked,
    github,
    junit,
    markdown_unchecked,
    wrapped_item,
)
from svdgrad_cli.verdicts import SEVERITY

TITLE = "svdgrad eigh"


def unchecked(run: EighRun) -> Unchecked:
    """What an eigh run did not check: its input errors (a sweep's: its points') and an interruption."""
    items = "matrices" if run.swept is None else "points"
    return Unchecked(tuple(run.errors), run.interrupted, len(run.reports), items)


def _numbers(r: EighResult) -> str:
    if r.relative_error is None:
        return ""
    error, budget, asym = map(number, (r.relative_error, r.budget, r.asymmetry))
    return f"; relative error {error}, budget {budget}, asym {asym}"


def message(report: EighReport, r: EighResult) -> str:
    """One backend's row as one line."""
    head = f"{r.backend}: {r.verdict} (eigh, loss {report.loss}, {report.dtype}){_numbers(r)}"
    return "; ".join([head, *(note for note in (r.message, r.forward) if note)])


def cases(run: EighRun) -> list[Case]:
    """A Case per backend and matrix."""
    return [
        Case(report.label, r.backend, r.verdict, message(report, r))
        for report in run.reports
        for r in report.results
    ]


def _paragraph(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_on_hyphens=False, break_long_words=False)


def _matrix(report: EighReport) -> list[str]:
    n = report.shape[0]
    out = [f"### {inline(report.label)}: {report.verdict}", ""]
    facts = f"{n}x{n} {report.dtype}, loss {inline(report.loss)}; reference: {inline(report.reference)}"
    out += _paragraph(facts)
    rows = [
        [inline(r.backend), r.verdict, *map(number, (r.relative_error, r.budget, r.asymmetry))]
        for r in report.results
    ]
    out += ["", *table_lines(["backend", "verdict", "rel. error", "budget", "asym"], rows)]
    notes = [f"{r.backend}: {note}" for r in report.results for note in (r.message, r.forward) if note]
    return [*out, *([""] if notes else []), *(wrapped_item(inline(note)) for note in notes), ""]


def markdown(run: EighRun) -> str:
    """A summary for a PR comment or $GITHUB_STEP_SUMMARY: counts, a table per matrix, what was not
    checked; prose wrapped at 80 columns."""
    counts = Counter(str(r.verdict) for r in run.reports)
    said = (
        f"Matrices checked: {len(run.reports)}. Inputs not checked: {len(run.errors)}. "
        f"Exit code: {run.exit_code}."
    )
    out = ["## svdgrad check --decomposition eigh", "", *_paragraph(said)]
    out += markdown_unchecked(unchecked(run))
    out += ["", *table_lines(["verdict", "matrices"], [[v, str(counts[v])] for v in SEVERITY if counts[v]])]
    out += ["", *(line for report in run.reports for line in _matrix(report))]
    if run.reports:
        out += _paragraph(inline(ASYM_NOTE))
    return "\n".join(out).rstrip("\n") + "\n"


def _junit(run: EighRun) -> str:
    return junit("svdgrad check --decomposition eigh", cases(run), unchecked(run))


def _github(run: EighRun) -> str:
    return github(TITLE, cases(run), unchecked(run))


class EighJunitRenderer(EighRenderer):
    name = "junit"
    document = staticmethod(_junit)


class EighGithubRenderer(EighRenderer):
    name = "github"
    document = staticmethod(_github)


class EighMarkdownRenderer(EighRenderer):
    name = "markdown"
    document = staticmethod(markdown)
