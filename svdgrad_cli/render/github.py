"""GitHub Actions workflow commands: one ``::error``, ``::warning`` or ``::notice`` annotation per line."""

from __future__ import annotations

from svdgrad_cli.explain_parts import parts_sentence
from svdgrad_cli.model import WARNING, MatrixReport, RunReport, source_file, unmatched_text
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.terminal import terminal_text
from svdgrad_cli.verdicts import ALARMING, NOTEWORTHY


def escape_data(text: str) -> str:
    """Escape a command's message as the runner unescapes it (CR and LF as %0D and %0A, other controls
    and bidi characters visibly: terminal.py)."""
    return terminal_text(text, keep="\r\n").replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: as a message, plus the ``:`` and ``,`` that delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(kind: str, title: str, message: str, path: str | None = None) -> str:
    """One workflow command: ``kind`` error, warning or notice, on the file ``path`` where there is one."""
    properties = [] if path is None else [f"file={escape_property(path)}"]
    properties.append(f"title={escape_property(title)}")
    return f"::{kind} {','.join(properties)}::{escape_data(message)}"


def _command(kind: str, report: MatrixReport, title: str, message: str) -> str:
    return annotation(kind, title, message, source_file(report.source))


def _verdict_command(report: MatrixReport) -> list[str]:
    title = f"svdgrad {report.verdict}: {report.label}"
    if report.verdict in ALARMING:
        where = [f"{b.name}: {parts_sentence(b.error_parts)}" for b in report.backends if b.error_parts]
        return [_command("error", report, title, " ".join([report.error or report.explanation, *where]))]
    if report.verdict in NOTEWORTHY:
        return [_command("warning", report, title, report.explanation)]
    return []


def _matrix_commands(report: MatrixReport) -> list[str]:
    findings = [
        _command("warning", report, f"svdgrad {f.code}: {report.label}", f.message)
        for f in report.warnings
        if f.level == WARNING  # notes cannot change a verdict: not worth an annotation
    ]
    return _verdict_command(report) + findings


def render_github(run: RunReport) -> str:
    """Annotations for every matrix worth one, in input order, and a notice naming the pyproject.toml
    whose [tool.svdgrad] applied (what can make one command exit differently in two directories);
    empty when there is nothing to say."""
    lines = [line for report in run.results for line in _matrix_commands(report)]
    if run.config is not None:
        applied = f"settings from [tool.svdgrad] in {run.config}"
        lines.append(f"::notice title=svdgrad config::{escape_data(applied)}")
    if run.interrupted:
        reported = f"{len(run.results)} results reported, the rest not checked"
        message = f"the run was interrupted ({run.interruption}): {reported}"
        lines.append(f"::error title=svdgrad interrupted::{escape_data(message)}")
    for pattern in run.unmatched(run.settings.select):
        lines.append(f"::error title=svdgrad --select::{escape_data(unmatched_text('--select', pattern))}")
    return "\n".join(lines)


class GithubRenderer(Renderer):
    """GitHub workflow annotations, one per line."""

    name = "github"

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        text = render_github(run)
        return text if not text or text.endswith("\n") else text + "\n"
