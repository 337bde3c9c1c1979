"""The formats of ``--decomposition eigh`` beyond table and JSON (issue 27): JSON lines, JUnit XML,
GitHub annotations, Markdown and HTML for checks, JSON lines and HTML for sweeps. Each must fail
closed: an input that could not be read, a backend that failed, an interruption and an undecided or
undefined verdict appear in every format, and a gradient the oracle calls wrong is a JUnit failure."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import mpmath
import numpy as np
import pytest
from eigh_oracle import matrix_function_gradient, symmetric

from svdgrad_cli.cli import cli
from svdgrad_cli.eigh_model import EighReport, EighResult, EighRun
from svdgrad_cli.model import RunReport
from svdgrad_cli.options import Settings
from svdgrad_cli.render import EIGH_RENDERERS, renderer_class
from svdgrad_cli.verdicts import BackendVerdict as V

TIED = [0.5, 2.0, 2.0, 4.0]
BROADENED = "torch:examples.backends.eigh_broadened:eigh"
EXACT = "python:eigh_formats_plugin:exact"  # eigsum's gradient I (exact)
SKEWED = "python:eigh_formats_plugin:skewed"  # I + K, K antisymmetric: Hermitian part I
BROKEN = "python:eigh_formats_plugin:broken"
CHECK_FORMATS = ("table", "json", "jsonl", "junit", "github", "markdown", "html")
PLUGIN = """
import numpy as np

def exact(stack, loss):
    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]), stack.shape).copy()

def skewed(stack, loss):
    k = np.zeros(stack.shape[-2:])
    k[0, 1], k[1, 0] = 1.0, -1.0
    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]) + k, stack.shape).copy()

def broken(stack, loss):
    raise RuntimeError("this plug-in always fails")
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    """tied.npy (eigenvalues 0.5, 2, 2, 4 exactly), bad.npy (not an array), in the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "eigh_formats_plugin.py").write_text(PLUGIN)
    np.save(tmp_path / "tied.npy", symmetric(TIED)[0])
    (tmp_path / "bad.npy").write_bytes(b"not an npy file")
    return "tied.npy", "bad.npy"


def _check(runner, paths, fmt, *options):
    return runner.invoke(cli, ["check", *paths, "--decomposition", "eigh", "-f", fmt, *options])


def _testcases(xml_text: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(xml_text)
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_junit_fails_the_broadened_plugin_at_a_tie_where_the_oracle_says_it_is_wrong(runner, files):
    """The oracle (mpmath divided differences) first: the broadened backward's <C, exp A> gradient at
    the exact tie is off by far more than sqrt(eps); then JUnit must hold that as a <failure>."""
    pytest.importorskip("torch")
    from svdgrad_cli.backends.eigh_backends import eigh_backend
    from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss

    a, q = symmetric(TIED)
    loss = parse_eigh_loss("expm").bind(4, 0)  # the loss --seed 0 gives the CLI
    oracle = matrix_function_gradient(q, TIED, loss.arrays["C"], mpmath.exp, mpmath.exp)
    gradient = eigh_backend(BROADENED).compute(a[None], loss)[1][0]
    assert np.linalg.norm((gradient + gradient.T) / 2 - oracle) > 1e-4 * np.linalg.norm(oracle)

    tied, _ = files
    result = _check(runner, [tied], "junit", "--loss", "expm", "-b", BROADENED, "-b", EXACT)
    assert result.exit_code == 1, result.output
    cases = _testcases(result.stdout)
    failure = cases[("tied.npy", "eigh_broadened.eigh")].find("failure")
    assert failure is not None and failure.get("type") == "wrong"
    assert "eigh" in failure.get("message") and "asym" in failure.get("message")
    assert cases[("tied.npy", "eigh_broadened.eigh")].get("file") == "tied.npy"
    assert ET.fromstring(result.stdout).find("testsuite").get("failures") == "2"  # I is not exp's


@pytest.mark.parametrize("fmt", CHECK_FORMATS)
def test_an_unreadable_input_is_named_in_every_format_and_exits_2(runner, files, fmt):
    tied, bad = files
    result = _check(runner, [bad, tied], fmt, "-b", EXACT)
    assert result.exit_code == 2
    assert "bad.npy" in result.stdout and "not a .npy array" in result.stdout
    assert "Traceback" not in result.output
    if fmt == "junit":
        load = _testcases(result.stdout)[("bad.npy", "load")]
        assert load.find("error") is not None and load.get("file") == "bad.npy"
        assert load.find("failure") is None
    if fmt == "github":
        assert any(line.startswith("::error file=bad.npy,") for line in result.stdout.splitlines())
    if fmt == "jsonl":
        summary = json.loads(result.stdout.splitlines()[-1])
        assert summary["type"] == "summary" and summary["exit_code"] == 2
        assert summary["kind"] == "eigh" and summary["errors"][0].startswith("bad.npy: ")


def test_a_refused_member_of_a_stack_is_annotated_on_its_file(runner, files):
    a = symmetric(TIED)[0]
    np.save("stack.npy", np.stack([a, a + np.triu(np.ones((4, 4)), 1)]))  # the second is not symmetric
    result = _check(runner, ["stack.npy"], "github", "-b", EXACT)
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if line.startswith("::error file=stack.npy,")
    ]
    assert "stack.npy[1]: not symmetric" in result.stdout


@pytest.mark.parametrize("fmt", ("junit", "github", "markdown", "html", "jsonl"))
def test_a_failed_backend_is_an_error_in_every_format(runner, files, fmt):
    tied, _ = files
    result = _check(runner, [tied], fmt, "-b", BROKEN, "-b", EXACT)
    assert result.exit_code == 2 and "this plug-in always fails" in result.stdout
    if fmt == "junit":
        broken = _testcases(result.stdout)[("tied.npy", "eigh_formats_plugin.broken")]
        assert broken.find("error").get("type") == "failed"
    if fmt == "github":
        assert "::error file=tied.npy,title=svdgrad eigh failed" in result.stdout


def test_undefined_is_said_not_passed_and_asym_is_the_antisymmetric_part(runner, files):
    """proj:2 at w_2 = w_3 has no gradient: every CI format shows it. The skewed plug-in returns
    I + K with K = e_1 e_2^T - e_2 e_1^T: Hermitian part I (correct for eigsum) and asym
    ||(I + K) - (I + K)^T||_F / 2 / ||I||_F = ||K||_F / 2 = sqrt(2) / 2."""
    tied, _ = files
    junit = _check(runner, [tied], "junit", "--loss", "proj:2", "-b", EXACT)
    assert junit.exit_code == 0
    out = _testcases(junit.stdout)[("tied.npy", "eigh_formats_plugin.exact")].find("system-out")
    assert out is not None and "undefined" in out.text
    github = _check(runner, [tied], "github", "--loss", "proj:2", "-b", EXACT)
    assert github.stdout.startswith("::warning file=tied.npy,title=svdgrad eigh undefined")

    jsonl = _check(runner, [tied], "jsonl", "-b", SKEWED)
    assert jsonl.exit_code == 0
    result = json.loads(jsonl.stdout.splitlines()[0])["backends"][0]
    assert result["verdict"] == "correct" and result["asymmetry"] == pytest.approx(math.sqrt(2) / 2)
    markdown = _check(runner, [tied], "markdown", "-b", SKEWED).stdout
    assert "| asym |" in markdown and "| 0.7071 |" in markdown and "eigh" in markdown


@pytest.mark.parametrize("fmt", ("markdown", "table"))
def test_markdown_and_table_fit_80_columns(runner, files, fmt):
    tied, bad = files
    result = _check(runner, [bad, tied], fmt, "--loss", "proj:2", "-b", EXACT, "-b", BROKEN)
    assert result.exit_code == 2
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def _run(verdict: V, interrupted: bool) -> EighRun:
    run = RunReport(Settings())
    run.interrupted = interrupted
    result = EighResult("torch", verdict, message="cannot be decided in float32")
    report = EighReport("a.npy", (2, 2), "float32", "eigsum", (1.0, 2.0), "tr f(A)", True, True, [result])
    return EighRun(run=run, reports=[report])


@pytest.mark.parametrize("fmt", ("jsonl", "junit", "github", "markdown", "html"))
def test_an_interruption_and_an_indeterminate_verdict_are_said(fmt):
    text = renderer_class(fmt, EIGH_RENDERERS)().finish(_run(V.INDETERMINATE, True))
    assert "indeterminate" in text and "cannot be decided in float32" in text
    if fmt != "jsonl":
        assert "interrupted (matrices reported: 1); the rest was not checked" in text
    if fmt == "junit":
        cases = _testcases(text)
        assert cases[("a.npy", "torch")].find("skipped") is not None
        assert cases[("svdgrad", "run")].find("error").get("type") == "interrupted"
    if fmt == "github":
        assert text.splitlines()[0].startswith("::warning file=a.npy,title=svdgrad eigh indeterminate")
        assert text.splitlines()[-1].startswith("::error title=svdgrad eigh%3A interrupted")
    if fmt == "jsonl":
        summary = json.loads(text.splitlines()[-1])
        assert summary["interrupted"] is True and summary["exit_code"] == 130


def _points(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_sweep_jsonl_has_a_line_per_point_with_its_parameter_and_a_summary(runner, files):
    args = ["sweep", "--decomposition", "eigh", "--vary", "gap", "--shape", "4x4", "--points", "4"]
    result = runner.invoke(cli, [*args, "-b", EXACT, "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    *points, summary = _points(result.stdout)
    assert [p["type"] for p in points] == ["result"] * 4 and summary["type"] == "summary"
    gaps = [p["parameter"] for p in points]
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] == 0.0  # pulled down onto an exact tie
    assert all(p["backends"][0]["verdict"] == "correct" for p in points)  # I is eigsum's gradient
    assert summary["swept"] == "gap" and summary["exit_code"] == 0 and summary["errors"] == []


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.rows = 0

    def handle_starttag(self, tag, attrs):
        self.sources += [value for name, value in attrs if tag == "img" and name == "src"]
        self.rows += tag == "tr"


def test_sweep_html_embeds_its_picture_and_a_row_per_point(runner, files):
    pytest.importorskip("matplotlib")
    args = ["sweep", "--decomposition", "eigh", "--vary", "scale", "--shape", "4x4", "--points", "3"]
    result = runner.invoke(cli, [*args, "-b", EXACT, "-f", "html", "-o", "sweep.html"])
    assert result.exit_code == 0, result.output
    parsed = _Images()
    with open("sweep.html", encoding="utf-8") as handle:
        parsed.feed(handle.read())
    assert len(parsed.sources) == 1 and parsed.sources[0].startswith("data:image/png;base64,")
    assert parsed.rows == 1 + 3  # the head and a row per point


def test_sweep_html_says_why_a_backend_failed(runner, tmp_path, monkeypatch):
    (tmp_path / "exits_plugin.py").write_text("import os\n\ndef eigh(stack, loss):\n    os._exit(0)\n")
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--decomposition", "eigh", "--points", "2", "-b", "python:exits_plugin:eigh"]
    result = runner.invoke(cli, [*args, "-f", "html"])
    assert result.exit_code == 2 and "exited with status 0 before answering" in result.stdout
