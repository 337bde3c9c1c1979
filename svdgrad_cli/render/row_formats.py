"""What the formats of the runs read row by row share (``--mode jvp|hvp``: render/modes.py,
mode_html.py; ``--decomposition eigh``: render/eigh_formats.py, eigh_html.py): JUnit XML and GitHub
annotations built from one Case per judged row, and in every format, the run's Unchecked. Fail
closed: every input that could not be checked, a --select that matched nothing and an interruption
are errors in each format, a failed backend an error, an undecided (indeterminate) row skipped, so
no report looks clean when something was not checked.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from svdgrad_cli.errors import error_source
from svdgrad_cli.model import source_file
from svdgrad_cli.render.github import annotation
from svdgrad_cli.render.html import escaped
from svdgrad_cli.render.junit import clean, outcome, serialised, testcase
from svdgrad_cli.render.markdown import inline
from svdgrad_cli.verdicts import BackendVerdict

WIDTH = 80
STACK_INDEX = re.compile(r"\[[0-9,]+\]$")  # a matrix of a stack: ``file.npy[2]``, ``file.npz:w[0,1]``
# A backend verdict's GitHub annotation (none for correct and valid).
LEVELS = {
    BackendVerdict.WRONG: "error",
    BackendVerdict.NON_FINITE: "error",
    BackendVerdict.FAILED: "error",
    BackendVerdict.INACCURATE: "warning",
    BackendVerdict.INDETERMINATE: "warning",
    BackendVerdict.UNDEFINED: "warning",
    BackendVerdict.UNSUPPORTED: "warning",
}
NOTED = (BackendVerdict.UNDEFINED, BackendVerdict.INACCURATE, BackendVerdict.VALID)  # JUnit system-out
SKIPPED = (BackendVerdict.INDETERMINATE, BackendVerdict.UNSUPPORTED)  # JUnit: not decided, not a pass


def file_of(source: str) -> str | None:
    """The file a matrix (its label) or an input error's source was read from (None: standard input)."""
    return source_file(STACK_INDEX.sub("", source))


@dataclass(frozen=True)
class Case:
    """One judged row: a backend's verdict on one matrix (and path, direction)."""

    group: str  # the matrix's label (file_of names its file): the JUnit classname
    name: str  # what was judged: the backend (and its path, the direction)
    verdict: BackendVerdict
    message: str  # one line: the verdict, the numbers and the notes


@dataclass(frozen=True)
class Unchecked:
    """What a run did not check: its input errors (one line each, ``str(InputError)``) and whether it
    was interrupted after ``reported`` matrices (or points)."""

    errors: tuple[str, ...]
    interrupted: bool
    reported: int
    items: str = "matrices"
    problems: tuple[str, ...] = ()  # what else was not checked, of no file (an unmatched --select)

    @property
    def lines(self) -> list[str]:
        """One line per thing not checked, the interruption last."""
        return [*self.errors, *self.problems, *([self.interruption] if self.interrupted else [])]

    @property
    def interruption(self) -> str:
        return f"interrupted ({self.items} reported: {self.reported}); the rest was not checked"


def junit(suite_name: str, cases: list[Case], unchecked: Unchecked) -> str:
    """One test suite: a testcase per Case (wrong and non-finite fail, failed is an error), a ``load``
    error per unchecked input, a ``run`` error for an interruption."""
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", {"name": clean(suite_name)})
    for case in cases:
        _testcase(suite, case)
    for line in unchecked.errors:
        element = testcase(suite, error_source(line), "load", file_of(error_source(line)))
        outcome(element, "error", line, "input", line)
    for line in unchecked.problems:
        outcome(testcase(suite, "svdgrad", "not checked", None), "error", line, "not-checked", line)
    if unchecked.interrupted:
        element = testcase(suite, "svdgrad", "run", None)
        outcome(element, "error", unchecked.interruption, "interrupted", unchecked.interruption)
    return serialised(root, suite) + "\n"


def _testcase(suite: ET.Element, case: Case) -> None:
    element = testcase(suite, case.group, case.name, file_of(case.group))
    if case.verdict.is_finding:
        outcome(element, "failure", case.message, case.verdict, case.message)
    elif case.verdict == BackendVerdict.FAILED:
        outcome(element, "error", case.message, "failed", case.message)
    elif case.verdict in SKIPPED:
        ET.SubElement(element, "skipped", {"message": clean(case.message)})
    elif case.verdict in NOTED:
        ET.SubElement(element, "system-out").text = clean(case.message)


def github(title: str, cases: list[Case], unchecked: Unchecked) -> str:
    """An annotation per row worth one (LEVELS), naming its file, and an error per unchecked input and
    for an interruption."""
    lines = [
        annotation(LEVELS[c.verdict], f"{title} {c.verdict}: {c.group}", c.message, file_of(c.group))
        for c in cases
        if c.verdict in LEVELS
    ]
    lines += [
        annotation("error", f"{title}: not checked", line, file_of(error_source(line)))
        for line in unchecked.errors
    ]
    lines += [annotation("error", f"{title}: not checked", line) for line in unchecked.problems]
    if unchecked.interrupted:
        lines.append(annotation("error", f"{title}: interrupted", unchecked.interruption))
    return "".join(line + "\n" for line in lines)


def markdown_unchecked(unchecked: Unchecked) -> list[str]:
    """Markdown lines naming the interruption and every input not checked (none if there are none)."""
    out = [] if not unchecked.interrupted else ["", f"**Interrupted**: {inline(unchecked.interruption)}."]
    lines = [*unchecked.errors, *unchecked.problems]
    if lines:
        out += ["", f"### Not checked ({len(lines)})", ""]
        out += [wrapped_item(inline(line)) for line in lines]
    return out


def html_unchecked(unchecked: Unchecked) -> str:
    """HTML paragraphs naming every thing not checked and the interruption."""
    return "".join(f'<p class="error">{escaped(line)}</p>' for line in unchecked.lines)


def wrapped_item(text: str) -> str:
    """A Markdown list item wrapped at WIDTH columns."""
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent="- ",
        subsequent_indent="  ",
        break_on_hyphens=False,
        break_long_words=False,
    )
