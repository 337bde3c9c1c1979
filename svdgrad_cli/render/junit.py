"""JUnit XML: one testcase per matrix and backend, and one ``load`` testcase per input error."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from svdgrad_cli.explain_parts import parts_brief
from svdgrad_cli.model import BOUND_NOTE, BackendResult, MatrixReport, RunReport, source_file, unmatched_text
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.terminal import terminal_text
from svdgrad_cli.verdicts import BackendVerdict, MatrixStatus

NOTED = (BackendVerdict.VALID, BackendVerdict.UNDEFINED)
# What XML 1.0 forbids even escaped: C0 controls other than tab, LF and CR; lone surrogates; U+FFFE/F.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """Text XML can hold, its controls and bidi characters escaped visibly (terminal.py) but its lines."""
    return NOT_XML.sub("\ufffd", terminal_text(text, keep="\n"))


def _verdict_message(result: BackendResult) -> str:
    parts = [f"{result.name}: {result.verdict}"]
    if result.budget_multiple is not None:
        at_most = "at most " if result.error_is_bound else ""
        parts.append(f"{at_most}{result.budget_multiple:.3g}x its error budget")
    if result.error_is_bound:
        parts.append(BOUND_NOTE)
    if result.error_parts is not None:  # where a wrong or inaccurate gradient errs
        parts.append(parts_brief(result.error_parts))
    if result.message:
        parts.append(result.message)
    return ", ".join(parts)


def _details(report: MatrixReport) -> str:
    lines = [report.explanation, *(f"{f.level} {f.code}: {f.message}" for f in report.warnings)]
    return "\n".join(lines)


def testcase(suite: ET.Element, group: str, name: str, path: str | None) -> ET.Element:
    """A testcase of ``suite`` named ``group`` (classname) and ``name``, on the file ``path``."""
    attributes = {"classname": clean(group), "name": clean(name)}
    if path is not None:
        attributes["file"] = clean(path)
    return ET.SubElement(suite, "testcase", attributes)


def _testcase(suite: ET.Element, report: MatrixReport, name: str) -> ET.Element:
    return testcase(suite, report.label, name, source_file(report.source))


def outcome(case: ET.Element, tag: str, message: str, kind: str, text: str) -> None:
    ET.SubElement(case, tag, {"message": clean(message), "type": kind}).text = clean(text)


def _backend_case(suite: ET.Element, report: MatrixReport, result: BackendResult) -> None:
    case = _testcase(suite, report, result.name)
    verdict = result.verdict
    if verdict is not None and verdict.is_finding:
        outcome(case, "failure", _verdict_message(result), verdict, _details(report))
    elif result.verdict == BackendVerdict.FAILED:
        outcome(case, "error", _verdict_message(result), "failed", _details(report))
    elif result.verdict == BackendVerdict.UNSUPPORTED:
        ET.SubElement(case, "skipped", {"message": clean(_verdict_message(result))})
    elif result.verdict in NOTED or report.warnings:
        ET.SubElement(case, "system-out").text = clean(_details(report))


def _matrix_cases(suite: ET.Element, report: MatrixReport) -> None:
    if report.status is MatrixStatus.ERROR:
        message = report.error or report.explanation
        outcome(_testcase(suite, report, "load"), "error", message, "input", message)
        return
    for result in report.backends:
        _backend_case(suite, report, result)


def _counts(suite: ET.Element) -> dict[str, str]:
    return {
        "tests": str(len(suite.findall("testcase"))),
        "failures": str(len(suite.findall("testcase/failure"))),
        "errors": str(len(suite.findall("testcase/error"))),
        "skipped": str(len(suite.findall("testcase/skipped"))),
    }


def render_junit(run: RunReport) -> str:
    """The whole run as one ``svdgrad`` test suite, as a well-formed XML document."""
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", {"name": "svdgrad"})
    properties = ET.SubElement(suite, "properties")
    for name, version in run.versions.items():
        ET.SubElement(properties, "property", {"name": f"version.{name}", "value": clean(version or "")})
    ET.SubElement(properties, "property", {"name": "config", "value": clean(run.config_shown)})
    for report in run.results:
        _matrix_cases(suite, report)
    if run.interrupted:
        case = ET.SubElement(suite, "testcase", {"classname": "svdgrad", "name": "run"})
        after = f"after {len(run.results)} results; the rest was not checked"
        message = f"interrupted ({run.interruption}) {after}"
        outcome(case, "error", message, "interrupted", message)
    for pattern in run.unmatched(run.settings.select):  # the check it meant did not run
        case = ET.SubElement(suite, "testcase", {"classname": "svdgrad", "name": f"select {pattern}"})
        message = clean(unmatched_text("--select", pattern))
        outcome(case, "error", message, "unmatched-select", message)
    return serialised(root, suite)


def serialised(root: ET.Element, suite: ET.Element) -> str:
    """The document of ``root`` holding ``suite``, with the counts of its testcases' outcomes."""
    tally = _counts(suite)
    root.attrib.update(tally)
    suite.attrib.update(tally)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


class JunitRenderer(Renderer):
    """One JUnit XML document: a testcase per matrix and backend."""

    name = "junit"

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        text = render_junit(run)
        return text if not text or text.endswith("\n") else text + "\n"
