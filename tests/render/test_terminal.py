"""Hostile names never reach the terminal raw (terminal.py): escape sequences, BEL, CR and bidi
overrides in file and tensor names are shown as ``\\x1b``, ``\\u202e``, ... in the table, the summary,
the error: lines, -v, progress and the sweep; JSON keeps them exactly; the text formats escape them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from svdgrad_cli.cli import cli
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.render.terminal import terminal_text

TITLE = "\x1b]0;pwned\x07"  # sets a terminal's window title
CLEAR = "\x1b[2J"  # clears the screen
REVERSED = "\u202egpj.exe"  # shows as 'exe.jpg'
ROOT = Path(__file__).parent.parent.parent
RAW = ("\x1b", "\x07", "\r", "\u202e", "\u2066", "\x9b", "\x7f")
WIDE = {"COLUMNS": "400"}  # long temporary paths on one line, to be found whole


def raw_in(text: str) -> list[str]:
    return [repr(c) for c in RAW if c in text]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (TITLE, "\\x1b]0;pwned\\x07"),
        ("a\rb\nc\td", "a\\x0db\\x0ac\\x09d"),
        (REVERSED, "\\u202egpj.exe"),
        ("\u2066\u2069\u200e\u200f\u061c\u2028", "\\u2066\\u2069\\u200e\\u200f\\u061c\\u2028"),
        ("\x7f\x9b\x85", "\\x7f\\x9b\\x85"),
        ("naïve 名前 😀 a\\b", "naïve 名前 😀 a\\b"),  # other scripts, emoji and backslashes pass
    ],
)
def test_controls_and_bidi_characters_are_written_as_their_codes(text, shown):
    assert terminal_text(text) == shown


def test_kept_characters_pass():
    assert terminal_text("a\nb\rc\x1b", keep="\n") == "a\nb\\x0dc\\x1b"


@pytest.fixture
def hostile(tmp_path):
    """A folder of matrices and inputs named with every kind of hostile character."""
    folder = tmp_path / "in"
    folder.mkdir()
    np.save(folder / f"title{TITLE}.npy", np.diag([3.0, 2.0, 1.0]))
    np.save(folder / f"back{REVERSED}.npy", np.diag([2.0, 1.0]))
    np.save(folder / "carriage\rreturn.npy", np.diag([1.0, 0.0]))  # non-unique: in the worst list
    np.savez(folder / "arch.npz", **{f"w{CLEAR}": np.diag([4.0, 1.0]), f"b\x9b{TITLE}": np.ones(3)})
    (folder / f"bad{CLEAR}.npy").write_bytes(b"\x93NUMPY garbage")
    (folder / f"notes{TITLE}.txt").write_text("not a matrix\n")
    (folder / f"skipped{REVERSED}.md").write_text("not an input")
    return folder


@pytest.mark.parametrize("options", [[], ["--details", "-v"], ["-q"]])
def test_no_raw_control_reaches_the_table_or_stderr(hostile, options):
    result = CliRunner().invoke(cli, ["check", str(hostile), "-b", "autograd", *options], env=WIDE)
    assert result.exit_code == 2  # the bad file
    assert not raw_in(result.stdout) and not raw_in(result.stderr)
    assert "svdgrad: error: " in result.stderr and "bad\\x1b[2J.npy" in result.stderr
    if "-q" not in options:
        assert "title\\x1b]0;pwned\\x07.npy" in result.stdout and "back\\u202egpj.exe.npy" in result.stdout
        assert "arch.npz:w\\x1b[2J" in result.stdout


def test_a_long_run_summary_escapes_names_too(hostile):
    for i in range(11):  # beyond DETAIL_LIMIT: the summary names the worst matrices and the errors
        np.save(hostile / f"n{i}{REVERSED}.npy", np.eye(2))
    result = CliRunner().invoke(cli, ["check", str(hostile), "-b", "autograd"], env=WIDE)
    assert "worst matrices" in result.stdout and "carriage\\x0dreturn.npy" in result.stdout
    assert not raw_in(result.stdout) and not raw_in(result.stderr)


def test_json_keeps_the_exact_names(hostile):
    result = CliRunner().invoke(cli, ["check", str(hostile), "-b", "autograd", "-f", "json"])
    doc = json.loads(result.stdout)
    sources = {r["source"].rsplit("/", 1)[-1] for r in doc["results"]}
    assert f"title{TITLE}.npy" in sources and f"back{REVERSED}.npy" in sources
    assert f"arch.npz:w{CLEAR}" in sources and not raw_in(result.stdout)  # JSON escapes them (\u001b)


@pytest.mark.parametrize("fmt", ["github", "markdown", "junit", "html"])
def test_the_text_formats_pass_no_raw_control(hostile, fmt):
    result = CliRunner().invoke(cli, ["check", str(hostile), "-b", "autograd", "-f", fmt])
    assert result.stdout and not raw_in(result.stdout)
    assert "\\x1b" in result.stdout and (
        "\\u202e" in result.stdout or fmt == "github"
    )  # agree: no annotation


def test_the_progress_line_escapes_file_names():
    console = Console(file=io.StringIO(), force_terminal=True, width=200, color_system=None)
    progress = RunProgress(2, console=console)
    (task,) = progress.progress.tasks
    progress.file(f"in/back{REVERSED}.npy")
    assert not raw_in(task.description) and "back\\u202egpj.exe" in task.description
    progress.stage(f"autograd on in/title{TITLE}.npy")
    assert not raw_in(task.description) and "\\x1b]0;pwned\\x07" in task.description


def test_the_sweep_picture_escapes_its_source_and_backend_names(tmp_path):
    source = tmp_path / f"from{TITLE}{REVERSED}.npy"
    np.save(source, np.diag([3.0, 2.0, 1.0]))
    result = CliRunner().invoke(
        cli,
        ["sweep", "--from", str(source), "--vary", "gap", "--at", "2", "--points", "3", "-b", "autograd"],
        env=WIDE,
    )
    assert result.exit_code in (0, 1), result.output
    assert "\\x1b]0;pwned\\x07\\u202e" in result.stdout
    assert not raw_in(result.stdout) and not raw_in(result.stderr)


def test_clicks_own_errors_escape_the_text_they_quote():
    """click quotes with repr itself; main() escapes its messages as well, whatever click does."""
    command = [sys.executable, "-m", "svdgrad_cli", "check", f"--x{TITLE}", "a.npy"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "No such option" in done.stderr
    assert not raw_in(done.stderr) and "--x\\x1b]0;pwned\\x07" in done.stderr


@pytest.mark.parametrize("options", [[], ["-v", "-q"], ["-f", "github"], ["-f", "markdown"], ["-f", "html"]])
def test_the_pyproject_named_in_the_report_is_escaped_too(tmp_path, monkeypatch, options):
    """The config line names a path the user did not choose: a cloned project's folder."""
    project = tmp_path / f"repo{TITLE}{REVERSED}"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.svdgrad]\nloss = "sv:1"\n')
    np.save(project / "a.npy", np.diag([3.0, 2.0, 1.0]))
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["check", "a.npy", "-b", "autograd", *options], env=WIDE)
    assert result.exit_code == 0, result.output
    assert not raw_in(result.stdout) and not raw_in(result.stderr)
    shown = result.stdout + result.stderr
    assert "repo" in shown and "x1b" in shown  # named, escaped (Markdown escapes the backslash too)
