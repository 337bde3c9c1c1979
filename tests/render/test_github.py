"""GitHub workflow commands: one annotation per line, escaped exactly as the runner unescapes."""

from __future__ import annotations

import re

import pytest

from svdgrad_cli.model import RunReport, Settings
from svdgrad_cli.render.github import escape_data, escape_property, render_github

from .conftest import NASTY_ERROR, NASTY_SOURCE, input_error

COMMAND = re.compile(r"::(error|warning) ((?:[a-z]+=[^,:]*,?)+)::(.*)")


def unescape(text: str) -> str:
    """What the runner does: each escape back to its character, ``%25`` last."""
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def parse(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.fullmatch(line)
    assert match, line
    kind, properties, message = match.groups()
    pairs = (p.split("=", 1) for p in properties.split(","))
    return kind, {key: unescape(value) for key, value in pairs}, unescape(message)


def test_escape_data_exactly():
    assert escape_data("100%\r\nx: a,b") == "100%25%0D%0Ax: a,b"


def test_escape_property_exactly():
    assert escape_property("100%\r\nx: a,b") == "100%25%0D%0Ax%3A a%2Cb"


@pytest.mark.parametrize("text", ["%0A", "a%%3A", NASTY_ERROR, NASTY_SOURCE])
def test_escaping_round_trips(text):
    assert unescape(escape_property(text)) == text
    assert unescape(escape_data(text)) == text


def test_one_command_per_finding_in_input_order(run):
    commands = [parse(line) for line in render_github(run).splitlines()]
    assert [(kind, props["title"]) for kind, props, _ in commands] == [
        ("warning", "svdgrad non-unique: in/stack.npz:w[1]"),
        ("warning", "svdgrad near-zero: in/stack.npz:w[1]"),
        ("error", "svdgrad wrong: in/b|pipe.csv"),
        ("error", "svdgrad non-finite: in/c.npy"),
        ("error", "svdgrad error: in/d.npy"),
        ("error", f"svdgrad error: {NASTY_SOURCE}"),
    ]
    assert commands[0][1]["file"] == "in/stack.npz"
    assert commands[1][2] == run.results[1].warnings[0].message


def test_input_error_line_is_escaped_exactly(run):
    last = render_github(run).splitlines()[-1]
    assert last == (
        '::error file=in/odd%25name%2Cv1%3Ax<&">|.csv,'
        'title=svdgrad error%3A in/odd%25name%2Cv1%3Ax<&">|.csv'
        '::bad value "1,2" at line 3: 100%25 <broken> & more%0Asecond line'
    )
    kind, properties, message = parse(last)
    assert (kind, properties["file"], message) == ("error", NASTY_SOURCE, NASTY_ERROR)


def test_standard_input_has_no_file_and_a_clean_run_says_nothing(run):
    stdin = RunReport(Settings(), [input_error("-", "empty input")])
    assert render_github(stdin) == "::error title=svdgrad error%3A -::empty input"
    assert render_github(RunReport(Settings(), run.results[:1])) == ""
