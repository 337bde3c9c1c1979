"""Reports of ``--mode jvp|hvp`` (mode_model.py): a table at 80 columns, JSON, Markdown, GitHub
annotations and JUnit XML (the last three through row_formats.py; JSON lines: render/checked_jsonl.py),
each naming the mode, the loss, the dtype and, for every path, which derivative the framework
computed. Each format is a Renderer (base.py) of MODE_RENDERERS; a run is written whole at its end
(``finish(run)``)."""

from __future__ import annotations

import json
import math
import textwrap

from svdgrad_cli.mode_model import DirectionResult, ModeReport, ModeRun, PathResult
from svdgrad_cli.model import unmatched_text
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.markdown import inline, table_lines
from svdgrad_cli.render.row_formats import Case, Unchecked, github, junit, markdown_unchecked
from svdgrad_cli.verdicts import BackendVerdict

WIDTH = 80
WHY_JVPS_DIFFER = (
    "Why the JVPs differ: the loss has no gradient here, only a set of them, and its one-sided "
    "derivative L'(A;E) (for the nuclear norm tr(U_r^T E V_r) + ||U_0^T E V_0||_*) is not linear in E. "
    "A forward-mode JVP is linear: it is <G, E> for the member G = U diag(w) V^T that its own SVD "
    "picks, whose null-space basis is arbitrary, so each framework lands elsewhere in [low, high] "
    "(valid), and none can equal L'(A;E) along every E."
)
MODE_NAMES = {
    "jvp": "jvp (forward mode: dL(A)[E] against L'(A;E))",
    "hvp": "hvp (second order: d/dt grad L(A + tE) against the exact H(A)[E])",
}


def _number(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}e}" if x and (abs(x) < 1e-3 or abs(x) >= 1e4) else f"{x:.{digits + 2}g}"


def _numbers(r: PathResult) -> list[str]:
    return [_number(r.relative_error), _number(r.budget)]


def _direction_head(report: ModeReport, d: DirectionResult) -> list[str]:
    lines = [f"  E{d.index + 1}: " + d.reference]
    if report.mode == "jvp" and d.value is not None:
        extra = f"  L'(A;E{d.index + 1}) = {d.value:.10g}"
        if d.interval is not None:
            extra += f", members give [{d.interval[0]:.6g}, {d.interval[1]:.6g}]"
        lines.append(extra)
    elif report.mode == "hvp" and d.norm is not None:
        lines.append(f"  ||H(A)[E{d.index + 1}]||_F = {d.norm:.6g}")
    return [wrapped for line in lines for wrapped in textwrap.wrap(line, WIDTH, subsequent_indent="    ")]


def _row(r: PathResult, width: int, told: set[str]) -> str:
    """A path's row; its message the first time the report meets it (an unsupported backend's
    reason is said once, not once per direction)."""
    numbers = f"{_number(r.relative_error):>10} {_number(r.budget):>10}"
    text = f"    {r.backend:<{width}} {r.path:<21} {r.verdict:<13}{numbers}"
    if r.message and r.message not in told:
        told.add(r.message)
        text += "\n" + textwrap.fill(r.message, WIDTH, initial_indent="      ", subsequent_indent="      ")
    return text


def table(reports: list[ModeReport]) -> str:
    """The human report: per matrix, per direction, one row per backend and path."""
    out = []
    for report in reports:
        m, n = report.shape
        width = max([10, *(len(r.backend) for _, r in report.rows())])
        told: set[str] = set()
        out.append(f"{report.label}  {m}x{n}  loss {report.loss}  {report.dtype}  -> {report.verdict}")
        out.append(f"  mode {MODE_NAMES[report.mode]}")
        for d in report.directions:
            out += _direction_head(report, d)
            head = f"{'backend':<{width}} {'path':<21} {'verdict':<13}{'rel. error':>10} {'budget':>10}"
            out.append("    " + head)
            out += [_row(r, width, told) for r in d.results]
        if report.mode == "jvp" and any(d.interval for d in report.directions):
            out.append(textwrap.fill(WHY_JVPS_DIFFER, WIDTH, initial_indent="  ", subsequent_indent="  "))
        out.append("")
    return "\n".join(out)


def _finite(x):
    return x if x is None or math.isfinite(x) else None


def as_dict(report: ModeReport) -> dict:
    """One matrix's report as JSON-ready data (no NaN: null)."""
    return {
        "label": report.label,
        "shape": list(report.shape),
        "mode": report.mode,
        "loss": report.loss,
        "dtype": report.dtype,
        "verdict": str(report.verdict),
        "directions": [
            {
                "index": d.index,
                "reference": d.reference,
                "defined": d.defined,
                "unique": d.unique,
                "value": _finite(d.value),
                "interval": list(d.interval) if d.interval else None,
                "norm": _finite(d.norm),
                "results": [
                    {
                        "backend": r.backend,
                        "path": r.path,
                        "verdict": str(r.verdict),
                        "error": _finite(r.error),
                        "relative_error": _finite(r.relative_error),
                        "relative_budget": _finite(r.budget),
                        "value": _finite(r.value),
                        "message": r.message,
                    }
                    for r in d.results
                ],
            }
            for d in report.directions
        ],
    }


def markdown(run: ModeRun) -> str:
    """A GitHub-flavoured table per matrix, with the mode in its heading, and what was not checked."""
    out = [f"## svdgrad --mode {run.mode}", *markdown_unchecked(unchecked(run)), ""]
    for report in run.reports:
        out += [f"### {inline(report.label)} ({report.loss}, {report.dtype}): {report.verdict}", ""]
        rows = [
            [f"{d.index + 1}", inline(r.backend), r.path, r.verdict, *_numbers(r)] for d, r in report.rows()
        ]
        out += table_lines(["E", "backend", "path", "verdict", "rel. error", "budget"], rows)
        out.append("")
    return "\n".join(out)


def unchecked(run: ModeRun) -> Unchecked:
    """What the run did not check: its input errors, its unmatched --select patterns, an interruption."""
    problems = tuple(unmatched_text("--select", p) for p in run.unmatched)
    return Unchecked(tuple(run.errors), run.interrupted, len(run.reports), problems=problems)


def _cases(run: ModeRun) -> list[Case]:
    """A Case per path along each direction (an unsupported path only where its backend answered on
    no other: row_formats.py)."""
    cases = []
    for report in run.reports:
        answered = report.answered
        for d, r in report.rows():
            if r.verdict == BackendVerdict.UNSUPPORTED and r.backend in answered:
                continue
            name = f"E{d.index + 1} {r.backend} {r.path}"
            numbers = f", relative error {_number(r.relative_error)}, budget {_number(r.budget)}"
            message = f"{name}: {r.verdict} (--mode {run.mode}, loss {report.loss}{numbers})"
            cases.append(Case(report.label, name, r.verdict, f"{message} {r.message}".strip()))
    return cases


SCHEMA = "svdgrad-modes/1"
INTERRUPTED = "interrupted: the report covers the matrices checked so far"


class ModeRenderer(Renderer[ModeReport, ModeRun]):
    """A format of a run in one mode: ``finish(run)`` writes every matrix's report."""

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        raise NotImplementedError


class ModeTableRenderer(ModeRenderer):
    name = "table"

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        return table(report.reports) + (INTERRUPTED + "\n" if report.interrupted else "")


class ModeJsonRenderer(ModeRenderer):
    name = "json"

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        results = [as_dict(r) for r in report.reports]
        data = {
            "schema": SCHEMA,
            "mode": report.mode,
            "interrupted": report.interrupted,
            "results": results,
            "errors": report.errors,
            "unmatched_select": list(report.unmatched),
        }
        return json.dumps(data, indent=2, allow_nan=False)


class ModeMarkdownRenderer(ModeRenderer):
    name = "markdown"

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        return markdown(report)


class ModeGithubRenderer(ModeRenderer):
    name = "github"

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        return github(f"svdgrad --mode {report.mode}", _cases(report), unchecked(report))


class ModeJunitRenderer(ModeRenderer):
    name = "junit"

    def finish(self, report: ModeRun, streamed: bool = False) -> str:
        return junit(f"svdgrad --mode {report.mode}", _cases(report), unchecked(report))
