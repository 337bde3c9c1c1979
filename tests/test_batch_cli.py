"""Batch runs from the command line: directories, every format, CI controls, interrupts, pipes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from multiprocessing import get_context

import numpy as np
import pytest
from helpers import SEED_RANK2
from test_cli import strict_json

from svdgrad_cli.cli import cli

FORMATS = ("table", "json", "jsonl", "junit", "github", "markdown")
BAD_FILES = {
    "bad_cell.csv": b"1,2\n3,oops\n",
    "ragged.txt": b"1 2 3\n4 5\n",
    "truncated.npy": None,  # filled in by the fixture
    "empty.tsv": b"",
}


@pytest.fixture
def mixed_dir(tmp_path):
    """30 good matrices in 20 files (10 stacks of 2), 4 bad files, a README and a nested folder."""
    rng = np.random.default_rng(0)
    root = tmp_path / "mixed"
    (root / "nested").mkdir(parents=True)
    for i in range(10):
        np.save(root / f"m{i:02d}.npy", rng.standard_normal((2, 3, 3)))
        np.savetxt(root / "nested" / f"t{i:02d}.csv", rng.standard_normal((4, 2)), delimiter=",")
    for name, content in BAD_FILES.items():
        data = content if content is not None else (root / "m00.npy").read_bytes()[:100]
        (root / name).write_bytes(data)
    (root / "README.md").write_text("not a matrix")
    return root


def invoke(runner, *args):
    # A wide terminal, so that rich does not wrap long temporary paths in the table.
    return runner.invoke(cli, ["check", *map(str, args), "--backend", "autograd"], env={"COLUMNS": "300"})


@pytest.mark.parametrize("output_format", FORMATS)
def test_every_good_matrix_and_every_bad_file_is_in_every_format(runner, mixed_dir, output_format):
    result = invoke(runner, mixed_dir, "--format", output_format)
    assert result.exit_code == 2  # the bad files
    assert "Traceback" not in result.stderr
    out = result.stdout.replace("\\", "")  # markdown escapes the underscores in file names
    for name in BAD_FILES:
        assert name in out, (output_format, name)
        assert f"{name}" in result.stderr
    if output_format == "json":
        results = strict_json(out)["results"]
        assert sum(r["status"] == "checked" for r in results) == 30
    elif output_format == "jsonl":
        lines = [strict_json(line) for line in out.splitlines()]
        assert sum(line.get("status") == "checked" for line in lines) == 30
        assert lines[-1]["type"] == "summary" and lines[-1]["summary"]["errors"] == 4
    elif output_format == "junit":
        suite = ET.fromstring(out.split("?>", 1)[1]).find("testsuite")
        assert len(suite.findall("testcase")) == 34  # 30 matrices x 1 backend + 4 load errors
        assert suite.get("errors") == "4"
    elif output_format == "table":
        assert "30 matrices checked" in out
        assert "1 skipped" in out


def test_directory_filters(runner, mixed_dir):
    flat = strict_json(invoke(runner, mixed_dir, "--no-recursive", "--glob", "m*.npy", "-f", "json").stdout)
    assert {r["source"].rsplit("/", 1)[-1] for r in flat["results"]} == {f"m{i:02d}.npy" for i in range(10)}
    assert flat["summary"]["skipped"] == 6  # 4 bad files, the README and the folder not entered
    assert len(flat["skipped"]) == 6 and all(s["reason"] for s in flat["skipped"])
    assert [s["reason"] for s in flat["skipped"] if s["source"].endswith("nested")] == [
        "a directory, not entered (--no-recursive)"
    ]
    excluded = strict_json(
        invoke(runner, mixed_dir, "--exclude", "nested", "--exclude", "m0*", "-f", "json").stdout
    )
    assert not any("nested" in r["source"] or "/m0" in r["source"] for r in excluded["results"])
    assert sum(r["status"] == "error" for r in excluded["results"]) == 4
    reasons = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in excluded["skipped"]}
    assert reasons["nested"] == "directory excluded by --exclude nested"  # named once, not its files
    assert not any(name.startswith("t") for name in reasons)


def test_output_file_gets_the_format_and_the_terminal_gets_the_table(runner, mixed_dir, tmp_path):
    target = tmp_path / "report.xml"
    result = invoke(runner, mixed_dir / "m00.npy", "-f", "junit", "-o", target)
    assert result.exit_code == 0
    assert "matrices checked" in result.stdout
    assert ET.parse(target).getroot().tag == "testsuites"


@pytest.fixture
def rank2_file(tmp_path):
    path = tmp_path / "rank2.npy"
    np.save(path, SEED_RANK2)
    return path


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        ((), 0),
        (("--fail-on", "non-unique"), 1),
        (("--fail-on", "warning"), 1),
        (("--fail-only-on", "never"), 0),
        (("--fail-on", "wrong"), 0),
    ],
)
def test_fail_on_controls_the_exit_code(runner, rank2_file, args, exit_code):
    assert invoke(runner, rank2_file, *args).exit_code == exit_code


def test_defaults_from_pyproject_are_overridden_by_the_command_line(
    runner, rank2_file, tmp_path, monkeypatch
):
    (tmp_path / "pyproject.toml").write_text('[tool.svdgrad]\nfail-on = ["non-unique"]\nloss = "sum"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # the nearest pyproject.toml is found upwards
    assert invoke(runner, rank2_file).exit_code == 1
    assert invoke(runner, rank2_file, "--fail-on", "wrong").exit_code == 1  # adds to the file's choice
    assert invoke(runner, rank2_file, "--fail-only-on", "wrong").exit_code == 0  # replaces it
    assert invoke(runner, rank2_file, "--fail-only-on", "never").exit_code == 0
    (tmp_path / "pyproject.toml").write_text('[tool.svdgrad]\nfail-only-on = ["never"]\n')
    assert invoke(runner, rank2_file).exit_code == 0
    assert invoke(runner, rank2_file, "--fail-on", "non-unique").exit_code == 1  # 'never', then this


def test_a_bad_pyproject_key_is_a_usage_error(runner, rank2_file, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.svdgrad]\nlos = 'sum'\n")
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, rank2_file)
    assert result.exit_code == 2
    assert "unknown key 'los'" in result.stderr


def test_ctrl_c_prints_the_partial_summary_and_exits_130(runner, mixed_dir, interrupting):
    paths = [str(mixed_dir / "m00.npy"), str(mixed_dir / "nested")]
    result = runner.invoke(cli, ["check", *paths, "-b", interrupting.name])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    assert "2 matrices checked" in result.stdout


def test_jobs_give_the_same_results_as_one_process(runner, mixed_dir, monkeypatch):
    from svdgrad_cli.pipeline import parallel

    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)  # workers even for this small run
    monkeypatch.setattr(parallel, "threads_per_process", lambda jobs: 2)  # as if two cores were idle
    started = []
    monkeypatch.setattr(parallel, "get_context", lambda kind: started.append(kind) or get_context(kind))
    one = strict_json(invoke(runner, mixed_dir, "-f", "json").stdout)
    two = strict_json(invoke(runner, mixed_dir, "-f", "json", "--jobs", "2").stdout)
    assert started == ["spawn"]  # the second run did use worker processes
    assert [(r["source"], r["index"], r["verdict"]) for r in one["results"]] == [
        (r["source"], r["index"], r["verdict"]) for r in two["results"]
    ]


def test_workers_only_where_they_pay(tmp_path, monkeypatch):
    from svdgrad_cli.errors import InputError
    from svdgrad_cli.pipeline import parallel

    files = []
    for i in range(6):
        np.save(tmp_path / f"{i}.npy", np.zeros((64, 64)))
        files.append(str(tmp_path / f"{i}.npy"))
    monkeypatch.setattr(parallel, "threads_per_process", lambda jobs: 2)
    assert parallel.workers_for(files, 4) == 1  # 200 KB: a worker's start-up costs more than it saves
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)
    assert parallel.workers_for(files, 4) == 2  # no more than the idle cores
    assert parallel.workers_for([*files, "-"], 4) == 1  # stdin is read here
    monkeypatch.setattr(parallel, "threads_per_process", lambda jobs: 1)
    assert parallel.workers_for(files, 4) == 1  # the cores are busy
    tasks = parallel._tasks([*files[:3], InputError("x", "bad"), *files[3:]], 2)
    assert [t if isinstance(t, InputError) else len(t) for t in tasks][3].source == "x"
    assert sum(len(t) for t in tasks if not isinstance(t, InputError)) == 6
    assert len(tasks) >= 4  # two tasks per worker at least


def test_closed_pipe_exits_quietly(mixed_dir):
    command = [sys.executable, "-m", "svdgrad_cli", "check", str(mixed_dir), "-f", "jsonl", "-b", "autograd"]
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = producer.stdout.readline()
    producer.stdout.close()
    _, stderr = producer.communicate(timeout=120)
    assert json.loads(first)["type"] == "result"
    assert b"Traceback" not in stderr
    assert producer.returncode == 141  # 128 + SIGPIPE, as a shell reports a writer whose reader left


def test_symlink_loops_end(runner, tmp_path):
    root = tmp_path / "looped"
    (root / "inner").mkdir(parents=True)
    np.save(root / "inner" / "a.npy", np.eye(2))
    (root / "inner" / "back").symlink_to(root, target_is_directory=True)
    doc = strict_json(invoke(runner, root, "-f", "json").stdout)
    assert [r["source"].rsplit("/", 1)[-1] for r in doc["results"]] == ["a.npy"]


def test_a_missing_backend_names_the_pip_command(runner, rank2_file, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "torch" else real_find_spec(name)
    )
    result = runner.invoke(cli, ["check", str(rank2_file), "-b", "torch"])
    assert result.exit_code == 2
    assert "backend 'torch' is not installed; install it with: pip install torch==2.13.0" in result.stderr


def test_a_fifo_in_a_directory_is_skipped_not_waited_on(runner, tmp_path):
    import os

    np.save(tmp_path / "a.npy", np.eye(2))
    os.mkfifo(tmp_path / "pipe.csv")
    doc = strict_json(invoke(runner, tmp_path, "-f", "json").stdout)
    assert [r["source"].rsplit("/", 1)[-1] for r in doc["results"]] == ["a.npy"]
    assert doc["summary"]["skipped"] == 1


def test_closed_pipe_in_the_table_format_also_exits_141(mixed_dir):
    command = [sys.executable, "-m", "svdgrad_cli", "check", str(mixed_dir), "-b", "autograd", "--details"]
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    producer.stdout.readline()
    producer.stdout.close()
    _, stderr = producer.communicate(timeout=120)
    assert b"Traceback" not in stderr
    assert producer.returncode == 141
