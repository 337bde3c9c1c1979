"""Reports of ``--mode jvp|hvp`` (pipeline/modes.py): a table at 80 columns, JSON and Markdown, each
naming the mode, the loss, the dtype and, for every path, which derivative the framework computed."""

from __future__ import annotations

import json
import math
import textwrap

from svdgrad_cli.pipeline.modes import DirectionResult, ModeReport, PathResult

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


def _row(r: PathResult) -> str:
    numbers = f"{_number(r.relative_error):>10} {_number(r.budget):>10}"
    text = f"    {r.backend:<11}{r.path:<22}{r.verdict:<14}{numbers}"
    if r.message:
        text += "\n" + textwrap.fill(r.message, WIDTH, initial_indent="      ", subsequent_indent="      ")
    return text


def table(reports: list[ModeReport]) -> str:
    """The human report: per matrix, per direction, one row per backend and path."""
    out = []
    for report in reports:
        m, n = report.shape
        out.append(f"{report.label}  {m}x{n}  loss {report.loss}  {report.dtype}  -> {report.verdict}")
        out.append(f"  mode {MODE_NAMES[report.mode]}")
        for d in report.directions:
            out += _direction_head(report, d)
            out.append(f"    {'backend':<11}{'path':<22}{'verdict':<14}{'rel. error':>10} {'budget':>10}")
            out += [_row(r) for r in d.results]
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


def to_json(reports: list[ModeReport], mode: str) -> str:
    return json.dumps({"mode": mode, "results": [as_dict(r) for r in reports]}, indent=2, allow_nan=False)


def markdown(reports: list[ModeReport], mode: str) -> str:
    """A GitHub-flavoured table per matrix, with the mode in its heading."""
    out = [f"## svdgrad --mode {mode}", ""]
    for report in reports:
        out += [f"### {report.label} ({report.loss}, {report.dtype}): {report.verdict}", ""]
        out += ["| E | backend | path | verdict | rel. error | budget |", "|---|---|---|---|---|---|"]
        for d in report.directions:
            out += [
                f"| {d.index + 1} | {r.backend} | {r.path} | {r.verdict} | {_number(r.relative_error)} "
                f"| {_number(r.budget)} |"
                for r in d.results
            ]
        out.append("")
    return "\n".join(out)


def _rows(reports: list[ModeReport]):
    for report in reports:
        for d in report.directions:
            for r in d.results:
                yield report, d, r


def jsonl(reports: list[ModeReport], mode: str) -> str:
    """One JSON object per matrix, each naming the mode."""
    return "".join(json.dumps(as_dict(r), allow_nan=False) + "\n" for r in reports)


def github(reports: list[ModeReport], mode: str) -> str:
    """Workflow annotations: an error per wrong or non-finite path, a warning per inaccurate one."""
    level = {"wrong": "error", "non-finite": "error", "inaccurate": "warning", "failed": "error"}
    lines = []
    for report, d, r in _rows(reports):
        if str(r.verdict) in level:
            message = f"{report.label} E{d.index + 1}: {r.backend} {r.path} is {r.verdict} ({report.loss})"
            escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            lines.append(f"::{level[str(r.verdict)]} title=svdgrad --mode {mode}::{escaped}")
    return "".join(line + "\n" for line in lines)


def junit(reports: list[ModeReport], mode: str) -> str:
    """JUnit XML: a test case per matrix, direction, backend and path; wrong and non-finite fail."""
    from xml.sax.saxutils import quoteattr

    cases, failures = [], 0
    for report, d, r in _rows(reports):
        name = quoteattr(f"{report.label} E{d.index + 1} {r.backend} {r.path}")
        body = ""
        if r.verdict.is_finding:
            failures += 1
            body = f"<failure message={quoteattr(f'{r.verdict} ({mode}, {report.loss})')}/>"
        cases.append(f"  <testcase classname={quoteattr(f'svdgrad.{mode}')} name={name}>{body}</testcase>")
    head = f'<testsuite name="svdgrad --mode {mode}" tests="{len(cases)}" failures="{failures}" errors="0">'
    return "\n".join(["<testsuites>", head, *cases, "</testsuite>", "</testsuites>", ""])


FORMATS = {"json": to_json, "jsonl": jsonl, "markdown": markdown, "github": github, "junit": junit}


def render(reports: list[ModeReport], mode: str, output_format: str) -> str:
    """The report in ``output_format`` (table for people; html is not written for these modes)."""
    if output_format == "table":
        return table(reports)
    return FORMATS[output_format](reports, mode)


MARKS = {
    "correct": ".",
    "valid": "v",
    "undefined": "u",
    "indeterminate": "?",
    "inaccurate": "i",
    "wrong": "W",
    "non-finite": "N",
    "unsupported": "-",
    "failed": "F",
}


def sweep_table(sweep) -> str:
    """One row per backend and path, one mark per point (MARKS), the parameter of each point below."""
    family, points = sweep.family, sweep.points
    rows: dict[str, list[str]] = {}
    for _, _, report in points:
        for r in report.directions[0].results:
            rows.setdefault(f"{r.backend} {r.path}", []).append(MARKS[str(r.verdict)])
    m, n = family.shape
    loss = points[0][2].loss
    out = [
        f"sweep {family.parameter} over {len(points)} points, loss {loss}, {m}x{n} {family.dtype}",
        f"mode {MODE_NAMES[sweep.mode]}",
        "",
    ]
    out += [f"{name[:34]:<35}{' '.join(marks)}" for name, marks in rows.items()]
    legend = ", ".join(f"{mark} {verdict}" for verdict, mark in MARKS.items())
    out += ["", textwrap.fill("points: " + ", ".join(f"{x:.3g}" for _, x, _ in points), WIDTH)]
    out += [textwrap.fill(legend, WIDTH, break_on_hyphens=False), ""]
    return "\n".join(out)


def sweep_json(sweep) -> str:
    """The sweep's points, each check's report in the mode (as_dict), with its parameter."""
    points = [{"parameter": x, **as_dict(report)} for _, x, report in sweep.points]
    data = {
        "mode": sweep.mode,
        "vary": sweep.family.vary,
        "parameter": sweep.family.parameter,
        "points": points,
    }
    return json.dumps(data, indent=2, allow_nan=False)
