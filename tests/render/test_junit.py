"""JUnit XML: well-formed, one testcase per matrix and backend, counts that match the testcases."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from svdgrad_cli.model import RunReport, Settings
from svdgrad_cli.model import source_file as source_path
from svdgrad_cli.render.junit import render_junit

from .conftest import NASTY_ERROR, NASTY_SOURCE, backend, input_error, matrix


def suite_of(run: RunReport) -> ET.Element:
    root = ET.fromstring(render_junit(run))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "svdgrad"
    return suite


def test_one_testcase_per_matrix_and_backend_plus_one_per_input_error(run):
    suite = suite_of(run)
    cases = suite.findall("testcase")
    checked = [r for r in run.results if r.status == "checked"]
    assert len(cases) == sum(len(r.backends) for r in checked) + 1
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        *((r.label, b.name) for r in checked for b in r.backends),
        (NASTY_SOURCE, "load"),
    ]
    assert suite.get("tests") == str(len(cases))


def test_failure_and_error_counts_match(run):
    suite = suite_of(run)
    failures = {
        c.get("classname"): c.find("failure") for c in suite.iter("testcase") if c.find("failure") is not None
    }
    errors = [
        (c.get("classname"), c.get("name")) for c in suite.iter("testcase") if c.find("error") is not None
    ]
    assert sorted(failures) == ["in/b|pipe.csv", "in/c.npy"]
    assert errors == [("in/d.npy", "tensorflow"), (NASTY_SOURCE, "load")]
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "2", "0")
    assert failures["in/b|pipe.csv"].get("type") == "wrong"
    assert "52x its error budget" in failures["in/b|pipe.csv"].get("message")
    assert failures["in/c.npy"].text == "non-finite explanation"


def test_input_error_round_trips_through_escaping(run):
    (case,) = [c for c in suite_of(run).iter("testcase") if c.get("name") == "load"]
    error = case.find("error")
    assert error.get("message") == NASTY_ERROR
    assert error.text == NASTY_ERROR
    assert case.get("file") == NASTY_SOURCE


def test_passing_backends_carry_notes_only_when_there_is_something_to_say(run):
    cases = {(c.get("classname"), c.get("name")): c for c in suite_of(run).iter("testcase")}
    assert list(cases["in/a.npy", "autograd"]) == []
    note = cases["in/stack.npz:w[1]", "autograd"].find("system-out").text
    assert note.splitlines() == [
        "non-unique explanation",
        f"warning near-zero: {run.results[1].warnings[0].message}",
    ]
    assert cases["in/stack.npz:w[1]", "autograd"].get("file") == "in/stack.npz"


def test_control_characters_do_not_break_the_document():
    report = matrix(
        "in/e\x1b.npy", "error", [backend("autograd", "failed", None, message="bad\x00byte\udcff")]
    )
    run = RunReport(Settings(), [report, input_error("-", "stdin\x07 is empty")])
    suite = suite_of(run)
    assert suite.get("errors") == "2"
    stdin_case = suite.findall("testcase")[-1]
    assert stdin_case.get("file") is None
    assert stdin_case.find("error").get("message") == "stdin\\x07 is empty"  # escaped visibly (terminal.py)


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("in/a.npy", "in/a.npy"),
        ("in/a.npz:w", "in/a.npz"),
        ("in/A.NPZ:w:x", "in/A.NPZ"),
        ("in/we:ird.csv", "in/we:ird.csv"),
        ("-", None),
        ("-:w", None),
    ],
)
def test_source_path_drops_only_an_npz_member(source, path):
    assert source_path(source) == path
