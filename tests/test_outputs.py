"""One output plan for every command (outputs.py): ``-o - -f FORMAT`` writes FORMAT to stdout for
check, sweep, merge and scan alike, each decided by the same function; ``-o FILE`` gets the format
(json for the table) while stdout gets the table."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from svdgrad_cli import outputs, register_backend, unregister_backend
from svdgrad_cli.cli import cli
from svdgrad_cli.outputs import OutputPlan, plan_outputs
from svdgrad_cli.render import (
    FORMATS,
    MODE_RENDERERS,
    MODE_SWEEP_RENDERERS,
    SCAN_FORMATS,
    SCAN_RENDERERS,
    SWEEP_FORMATS,
    SWEEP_RENDERERS,
    renderer_class,
)
from svdgrad_cli.render.base import Renderer

MACHINE = [f for f in FORMATS if f != "table"]
SWEEP_MACHINE = [f for f in SWEEP_FORMATS if f != "table"]
SCAN_MACHINE = [f for f in SCAN_FORMATS if f != "table"]
JSON_SCHEMAS = ("svdgrad/1", "svdgrad-sweep/1", "svdgrad-scan/1")


def _json(text: str) -> str:
    return json.loads(text)["schema"]


def _jsonl(text: str) -> str:
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and lines[-1]["type"] == "summary"
    return lines[-1]["type"]


def _junit(text: str) -> str:
    return ET.fromstring(text.encode()).tag


def _github(text: str) -> str:
    assert text.strip() and all(line.startswith("::") for line in text.splitlines())
    return "::"


def _markdown(text: str) -> str:
    return text.splitlines()[0]


def _html(text: str) -> str:
    return text.splitlines()[0]


# what stdout holds in each format, read by a parser of that format (and nothing else passes it)
READ = {
    "json": (_json, JSON_SCHEMAS),
    "jsonl": (_jsonl, ("summary",)),
    "junit": (_junit, ("testsuites",)),
    "github": (_github, ("::",)),
    "markdown": (_markdown, ("## svdgrad report",)),
    "html": (_html, ("<!DOCTYPE html>",)),
}


@pytest.fixture
def matrix(tmp_path):
    """A matrix, and a backend whose gradient of it is zero: wrong, a finding every format shows."""

    def zero_gradient(stack, loss):
        return np.linalg.svd(stack, compute_uv=False), np.zeros_like(stack)

    path = tmp_path / "a.npy"
    np.save(path, np.diag([3.0, 2.0, 1.0]))
    register_backend("zero-gradient", zero_gradient)
    yield str(path)
    unregister_backend("zero-gradient")


@pytest.fixture
def plans(monkeypatch):
    """Every plan the commands ask for, recorded."""
    asked = []

    def recorded(output_format, output):
        asked.append((output_format, output))
        return plan_outputs(output_format, output)

    monkeypatch.setattr(outputs, "plan_outputs", recorded)
    return asked


def _command(name: str, path: str, tmp_path, runner) -> list[str]:
    if name == "check":
        return ["check", path, "-b", "zero-gradient"]
    if name == "sweep":
        return ["sweep", "--shape", "4x4", "--points", "2", "-b", "autograd"]
    if name == "scan":
        return ["scan", path]
    if name == "scan --then-check":  # uv is at risk on every matrix: the check follows
        return ["scan", path, "--loss", "uv", "--then-check", "-b", "zero-gradient"]
    report = tmp_path / "run.jsonl"
    made = runner.invoke(cli, ["check", path, "-b", "zero-gradient", "-f", "jsonl", "-o", str(report), "-q"])
    assert made.exit_code == 1, made.output  # the wrong gradient
    return ["merge", str(report)]


CASES = [("check", f) for f in MACHINE] + [("sweep", f) for f in SWEEP_MACHINE]
CASES += [("merge", f) for f in MACHINE] + [("scan", f) for f in SCAN_MACHINE]
CASES += [("scan --then-check", f) for f in MACHINE]


def _plans_asked(command: str, output_format: str, output: str) -> list[tuple[str, str]]:
    """The plans a command asks for: scan --then-check's screen first (its report written only if it
    is interrupted; in check's formats but its own, the table's), then the check's."""
    if command != "scan --then-check":
        return [(output_format, output)]
    return [(output_format if output_format in SCAN_FORMATS else "table", output), (output_format, output)]


@pytest.mark.parametrize(("command", "output_format"), CASES)
def test_o_dash_writes_the_format_to_stdout_for_every_command(
    command, output_format, matrix, tmp_path, runner, plans
):
    args = _command(command, matrix, tmp_path, runner)
    plans.clear()
    result = runner.invoke(cli, [*args, "-o", "-", "-f", output_format])
    assert result.exit_code in (0, 1), result.output
    read, expected = READ[output_format]
    assert read(result.stdout) in expected
    assert plans == _plans_asked(command, output_format, "-")  # decided by the one plan
    inputs = {"a.npy", "run.jsonl"} if command == "merge" else {"a.npy"}
    assert {path.name for path in tmp_path.iterdir()} == inputs  # nothing written into a file "-"


# a line of each command's table
TABLE_SAYS = {"check": "svdgrad: ", "sweep": "svdgrad: ", "merge": "svdgrad: ", "scan": "screened 1 matrix"}


@pytest.mark.parametrize("command", list(TABLE_SAYS))
def test_o_dash_with_the_table_writes_json_to_stdout_and_o_file_gets_json_beside_the_table(
    command, matrix, tmp_path, runner, plans
):
    args = _command(command, matrix, tmp_path, runner)
    result = runner.invoke(cli, [*args, "-o", "-"])
    assert _json(result.stdout) in JSON_SCHEMAS
    target = tmp_path / "report.json"
    result = runner.invoke(cli, [*args, "-o", str(target)])
    assert _json(target.read_text()) in JSON_SCHEMAS
    assert TABLE_SAYS[command] in result.stdout and not result.stdout.lstrip().startswith("{")  # the table
    assert plans[-2:] == [("table", "-"), ("table", str(target))]


def test_scan_then_check_writes_the_checks_report_into_the_file_not_the_screens(matrix, tmp_path, runner):
    target = tmp_path / "report.json"
    args = _command("scan --then-check", matrix, tmp_path, runner)
    result = runner.invoke(cli, [*args, "-o", str(target)])
    assert result.exit_code in (0, 1), result.output
    assert _json(target.read_text()) == "svdgrad/1"
    assert "svdgrad: " in result.stdout and "no gradient was checked" not in result.stdout  # check's table


def test_the_plan_is_one_rule():
    assert plan_outputs("json", None) == OutputPlan("json")
    assert plan_outputs("table", None) == OutputPlan("table")
    assert plan_outputs("junit", "-") == OutputPlan("junit")
    assert plan_outputs("table", "-") == OutputPlan("json")
    assert plan_outputs("jsonl", "r.jsonl") == OutputPlan("table", ("r.jsonl", "jsonl"))
    assert plan_outputs("table", "r.json") == OutputPlan("table", ("r.json", "json"))


REGISTRIES = [SWEEP_RENDERERS, SCAN_RENDERERS, MODE_RENDERERS, MODE_SWEEP_RENDERERS]


@pytest.mark.parametrize(("registry", "name"), [(r, name) for r in REGISTRIES for name in r])
def test_every_sweep_scan_and_mode_format_is_a_renderer_with_that_name(registry, name):
    cls = renderer_class(name, registry)
    assert issubclass(cls, Renderer)
    assert cls.name == name


def _mode_jsonl(text: str) -> str:
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and lines[-1]["type"] == "summary"  # after a line per matrix (render/checked_jsonl.py)
    assert len({line["mode"] for line in lines[:-1]} | {lines[-1]["kind"]}) == 1
    return lines[-1]["kind"]


def _mode_github(text: str) -> str:
    # an annotation per wrong, inaccurate or non-finite path: none where every path is right
    assert all(line.startswith("::") for line in text.splitlines())
    return "::"


# --mode jvp|hvp: what stdout holds in each format, as READ (the mode's report names the mode)
READ_MODE = {
    "json": lambda text: json.loads(text)["schema"] + " " + json.loads(text)["mode"],
    "jsonl": _mode_jsonl,
    "junit": _junit,
    "github": _mode_github,
    "markdown": _markdown,
    "html": lambda text: re.search(r"<title>svdgrad (check|sweep) --mode (\w+)</title>", text).group(2),
}


def _expected(output_format: str, mode: str) -> str:
    return {
        "json": f"svdgrad-modes/1 {mode}",
        "jsonl": mode,
        "junit": "testsuites",
        "github": "::",
        "markdown": f"## svdgrad --mode {mode}",
        "html": mode,
    }[output_format]


def _mode_command(command: str, mode: str, path: str) -> list[str]:
    if command == "check":
        return ["check", path, "--mode", mode, "-b", "jax"]
    return ["sweep", "--mode", mode, "--shape", "3x3", "--points", "2", "-b", "jax"]


MODE_CASES = [("check", mode, f) for mode in ("jvp", "hvp") for f in MODE_RENDERERS if f != "table"]
MODE_CASES += [("sweep", mode, f) for mode in ("jvp", "hvp") for f in MODE_SWEEP_RENDERERS if f != "table"]


@pytest.mark.parametrize(("command", "mode", "output_format"), MODE_CASES)
def test_o_dash_writes_the_format_to_stdout_in_every_mode(
    command, mode, output_format, matrix, tmp_path, runner, plans
):
    result = runner.invoke(cli, [*_mode_command(command, mode, matrix), "-o", "-", "-f", output_format])
    assert result.exit_code in (0, 1), result.output
    assert READ_MODE[output_format](result.stdout) == _expected(output_format, mode)
    assert plans == [(output_format, "-")]  # decided by the same plan as --mode vjp
    assert {path.name for path in tmp_path.iterdir()} == {"a.npy"}


@pytest.mark.parametrize("command", ["check", "sweep"])
def test_in_a_mode_o_dash_with_the_table_writes_json_and_o_file_gets_json_beside_the_table(
    command, matrix, tmp_path, runner, plans
):
    args = _mode_command(command, "hvp", matrix)
    result = runner.invoke(cli, [*args, "-o", "-"])
    assert json.loads(result.stdout)["mode"] == "hvp"
    target = tmp_path / "report.json"
    result = runner.invoke(cli, [*args, "-o", str(target)])
    assert json.loads(target.read_text())["schema"] == "svdgrad-modes/1"
    assert "mode hvp" in result.stdout and not result.stdout.lstrip().startswith("{")  # the table
    assert plans[-2:] == [("table", "-"), ("table", str(target))]


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (["-f", "html"], "not html"),  # the vjp sweep writes no html
        (["--mode", "hvp", "-f", "jsonl"], "--format"),
        (["--mode", "hvp", "--plot", "s.pdf"], "--plot"),
        (["--mode", "hvp", "--save-matrices", "d"], "--save-matrices"),
    ],
)
def test_a_mode_refuses_what_it_does_not_write_in_one_line(args, refused, matrix, runner):
    command = ["sweep", *args]
    result = runner.invoke(cli, command)
    assert result.exit_code == 2 and refused in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
