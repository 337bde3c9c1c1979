"""User-supplied text made safe to print: control and bidi characters escaped visibly, as git and ls do.

A file or tensor name (or a plug-in's message) can hold an escape sequence that sets a terminal's
title or clears its screen, a carriage return that overwrites what came before on the line, or a
bidi override (U+202E) that shows text reversed. ``terminal_text`` replaces each such character by
its code, ``\\x1b`` or ``\\u202e``: C0 controls (tab and line feed too: a name stays on its line),
DEL, C1 controls (U+0080-U+009F, which some terminals read as ESC [), and the invisible characters
that change the direction or the lines of what follows: U+061C, U+200E, U+200F, U+2028, U+2029,
U+202A-U+202E and U+2066-U+2069 (Unicode TR #9, the "Trojan Source" characters, CVE-2021-42574).
Everything else, other scripts and emoji included, passes unchanged; a backslash is not doubled.

Every print to the terminal of such text goes through it: the table (``terminal_report`` gives a
MatrixReport whose names and messages are escaped), the progress line, the sweep's picture, and
the command line's ``svdgrad: ...`` lines. The text formats use it below their own escaping (GitHub
commands, Markdown, JUnit, HTML); JSON and JSON Lines keep every name exactly (JSON escapes them).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line's error lines import this module without the model (numpy)
    from svdgrad_cli.model import MatrixReport, RunReport

UNSAFE_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _code(character: str) -> str:
    point = ord(character)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def terminal_text(text: str, keep: str = "") -> str:
    """``text`` with every control and bidi character written as its code, but those in ``keep``
    (``"\\n"`` for text of several lines; a format's own escaping may take care of others)."""
    return UNSAFE_CHARACTER.sub(lambda m: m.group() if m.group() in keep else _code(m.group()), text)


def _optional(text: str | None) -> str | None:
    return None if text is None else terminal_text(text)


def terminal_report(report: MatrixReport) -> MatrixReport:
    """The report with its names and messages escaped for the terminal (the same object if none
    needs it, which is nearly always)."""
    texts = [report.source, report.error, report.explanation]
    texts += [text for b in report.backends for text in (b.name, b.message)]
    texts += [f.message for f in report.warnings]
    if not any(text is not None and UNSAFE_CHARACTER.search(text) for text in texts):
        return report
    return replace(
        report,
        source=terminal_text(report.source),
        error=_optional(report.error),
        explanation=terminal_text(report.explanation),
        backends=tuple(
            replace(b, name=terminal_text(b.name), message=_optional(b.message)) for b in report.backends
        ),
        warnings=tuple(replace(f, message=terminal_text(f.message)) for f in report.warnings),
        pairs=tuple(
            replace(p, first=terminal_text(p.first), second=terminal_text(p.second)) for p in report.pairs
        ),
    )


def terminal_run(run: RunReport) -> RunReport:
    """The run with every result, skipped input and the pyproject.toml it names escaped for the
    terminal (terminal_report)."""
    skipped = [
        replace(s, source=terminal_text(s.source), reason=terminal_text(s.reason)) for s in run.skipped
    ]
    results = [terminal_report(r) for r in run.results]
    return replace(run, results=results, skipped=skipped, config=_optional(run.config))
