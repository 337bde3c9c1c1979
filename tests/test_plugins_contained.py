"""Plug-ins of ``--decomposition eigh`` and ``--mode jvp|hvp`` in worker processes (contained.py): a
plug-in that exits, crashes, interrupts, hangs or prints is `failed` with the reason, the built-in
beside it keeps its verdict, the JSON report stays whole, and the exit code is 2 (as test_plugin_isolation.py
asks of the SVD path)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eigh_oracle import symmetric

from svdgrad_cli.cli import cli

PLUGINS = """
import os
import signal
import sys
import time

import numpy as np


def exact(stack, loss):  # the gradient of eigsum: I
    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]), stack.shape)


def exits(stack, loss):
    sys.exit(0)


def os_exits(stack, loss):
    os._exit(0)


def killed(stack, loss):
    os.kill(os.getpid(), signal.SIGKILL)


def raises_exit(stack, loss):
    raise SystemExit(0)


def interrupts(stack, loss):
    raise KeyboardInterrupt


def hangs(stack, loss):
    time.sleep(600)


def prints(stack, loss):
    print('{"not": "the report"}')
    return exact(stack, loss)
"""

SVDS = """
import os
import signal
import sys
import time

import torch


def svd(x):
    return torch.linalg.svd(x, full_matrices=False)


def exits(x):
    sys.exit(0)


def os_exits(x):
    os._exit(0)


def killed(x):
    os.kill(os.getpid(), signal.SIGKILL)


def hangs(x):
    time.sleep(600)


def prints(x):
    print('{"not": "the report"}')
    return svd(x)
"""

REASONS = {
    "exits": "called sys.exit(0)",
    "os_exits": "exited with status 0 before answering",
    "killed": "killed by signal SIGKILL",
    "raises_exit": "called sys.exit(0)",
    "interrupts": "raised KeyboardInterrupt",
    "hangs": "timed out after 2 s: killed",
}


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """evil.py and evilsvd.py, a symmetric s.npy (eigenvalues 1/2, 1, 2, 4) and a 4x3 g.npy, in the
    current directory."""
    (tmp_path / "evil.py").write_text(PLUGINS)
    (tmp_path / "evilsvd.py").write_text(SVDS)
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "s.npy", symmetric([0.5, 1.0, 2.0, 4.0])[0])
    np.save(tmp_path / "g.npy", np.random.default_rng(3).standard_normal((4, 3)))
    return tmp_path


def _backends(result) -> dict[str, dict]:
    """Each backend's verdict and message in the JSON report (which must parse)."""
    rows = json.loads(result.stdout)["results"][0]["backends"]
    return {row["backend"]: row for row in rows}


@pytest.mark.parametrize("function", sorted(REASONS))
def test_an_eigh_plugin_that_exits_crashes_or_hangs_is_failed_and_the_others_stand(runner, plugins, function):
    args = ["check", "s.npy", "--decomposition", "eigh", "-f", "json", "--timeout", "2"]
    result = runner.invoke(cli, [*args, "-b", f"bad=python:evil:{function}", "-b", "good=python:evil:exact"])
    assert result.exit_code == 2, result.output
    rows = _backends(result)
    assert rows["bad"]["verdict"] == "failed" and rows["bad"]["message"] == REASONS[function]
    assert rows["good"]["verdict"] == "correct"


def test_an_eigh_plugin_that_prints_leaves_the_json_report_whole(runner, plugins):
    args = ["check", "s.npy", "--decomposition", "eigh", "-f", "json", "-b", "loud=python:evil:prints"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert _backends(result)["loud"]["verdict"] == "correct"  # the gradient of eigsum is I
    assert '"not"' not in result.stdout


def test_an_eigh_framework_plugin_that_exits_is_failed(runner, plugins):
    pytest.importorskip("torch")
    (plugins / "evileigh.py").write_text("import os\n\ndef eigh(x):\n    os._exit(0)\n")
    args = ["check", "s.npy", "--decomposition", "eigh", "-f", "json", "-b", "torch:evileigh:eigh"]
    result = runner.invoke(cli, [*args, "-b", "good=python:evil:exact"])
    assert result.exit_code == 2, result.output
    rows = _backends(result)
    assert rows["evileigh.eigh"]["verdict"] == "failed"
    assert rows["evileigh.eigh"]["message"] == REASONS["os_exits"]


def _mode_rows(result) -> list[dict]:
    """Every path's result of every direction in the JSON report (which must parse)."""
    data = json.loads(result.stdout)
    return [row for direction in data["results"][0]["directions"] for row in direction["results"]]


@pytest.mark.parametrize("function", ["exits", "os_exits", "killed", "hangs"])
def test_a_mode_plugin_that_exits_crashes_or_hangs_is_failed_and_the_builtin_stands(
    runner, plugins, function
):
    pytest.importorskip("torch")
    args = ["check", "g.npy", "--mode", "jvp", "-f", "json", "--timeout", "2", "-b", "torch"]
    result = runner.invoke(cli, [*args, "-b", f"torch:evilsvd:{function}"])
    assert result.exit_code == 2, result.output
    rows = _mode_rows(result)
    bad = [row for row in rows if row["backend"] == f"evilsvd.{function}"]
    assert bad and all(row["verdict"] == "failed" for row in bad)
    assert bad[0]["message"] == REASONS[function]
    assert all(row["verdict"] == "correct" for row in rows if row["backend"] == "torch")


def test_a_mode_plugin_that_prints_leaves_the_json_report_whole_and_is_judged(runner, plugins):
    pytest.importorskip("torch")
    args = ["check", "g.npy", "--mode", "hvp", "-f", "json", "-b", "torch:evilsvd:prints"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = _mode_rows(result)
    assert rows and all(row["verdict"] == "correct" for row in rows)


def test_a_sweep_with_a_plugin_that_exits_is_not_clean(runner, plugins):
    """A sweep's undecided points are what it measures, but a plug-in that did not answer is not."""
    args = ["sweep", "--decomposition", "eigh", "--points", "3", "-f", "json", "-b", "autograd"]
    result = runner.invoke(cli, [*args, "-b", "bad=python:evil:os_exits"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    rows = [row for point in data["results"] for row in point["backends"]]
    assert {row["verdict"] for row in rows if row["backend"] == "bad"} == {"failed"}
    assert {row["verdict"] for row in rows if row["backend"] == "autograd"} == {"correct"}


def test_a_mode_sweep_with_a_plugin_that_exits_is_not_clean(runner, plugins):
    pytest.importorskip("torch")
    args = ["sweep", "--mode", "jvp", "--shape", "3x3", "--points", "3", "-b", "torch"]
    result = runner.invoke(cli, [*args, "-b", "torch:evilsvd:os_exits"])
    assert result.exit_code == 2, result.output
    assert "failed" in result.stdout and "correct" in result.stdout
