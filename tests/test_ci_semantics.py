"""What a CI gate needs (issue 10, items 1-6): --fail-on semantics, non-finite and unsupported backends,
named skipped inputs and versions, honest interrupts, and counts that add up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers import SEED_RANK2, with_singular_values

from svdgrad_cli import register_backend, unregister_backend
from svdgrad_cli.cli import cli


@pytest.fixture
def doubled():
    """A backend that is wrong everywhere: twice the closed-form gradient of a loss of s."""

    def compute(stack, loss):
        u, s, vt = np.linalg.svd(stack, full_matrices=False)
        return s, 2 * (u * loss.weights(s.shape[-1])) @ vt

    register_backend("doubled", compute)
    yield "doubled"
    unregister_backend("doubled")


@pytest.fixture
def rank2(tmp_path):
    path = tmp_path / "rank2.npy"
    np.save(path, SEED_RANK2)
    return path


def run(runner, *args):
    return runner.invoke(cli, ["check", *map(str, args)])


def test_fail_on_adds_to_the_defaults_and_fail_only_on_replaces_them(runner, rank2, doubled):
    # the seed's rank-2 matrix: `doubled` is wrong, autograd valid -> matrix verdict wrong
    assert run(runner, rank2, "-b", doubled, "-b", "autograd").exit_code == 1
    assert run(runner, rank2, "-b", doubled, "--fail-on", "non-unique").exit_code == 1  # wrong still fails
    assert run(runner, rank2, "-b", doubled, "--fail-only-on", "inaccurate").exit_code == 0  # replaced
    # reported as wrong, and also a point where the gradient is a set: every verdict of a matrix counts
    assert run(runner, rank2, "-b", doubled, "--fail-only-on", "non-unique").exit_code == 1
    assert run(runner, rank2, "-b", "autograd", "--fail-only-on", "non-unique").exit_code == 1
    assert run(runner, rank2, "-b", doubled, "--fail-only-on", "never").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--fail-only-on", "never", "--fail-on", "wrong"),
        ("--fail-only-on", "never", "--fail-only-on", "wrong"),
    ],
)
def test_contradictory_fail_on_is_a_usage_error(runner, rank2, args):
    result = run(runner, rank2, "-b", "autograd", *args)
    assert result.exit_code == 2
    assert "never" in result.stderr


def test_fail_on_in_pyproject_follows_the_same_rules(runner, rank2, doubled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.svdgrad]\nfail-on = ["non-unique"]\n')
    assert run(runner, rank2, "-b", doubled).exit_code == 1  # extends: wrong still fails
    (tmp_path / "pyproject.toml").write_text(
        '[tool.svdgrad]\nfail-only-on = ["never"]\nfail-on = ["wrong"]\n'
    )
    contradiction = run(runner, rank2, "-b", "autograd")
    assert contradiction.exit_code == 2 and "contradicts" in contradiction.stderr
    assert "pyproject.toml" in contradiction.stderr  # where the contradiction is


def test_a_non_finite_backend_shows_and_fails_where_the_loss_is_undefined(runner, tmp_path):
    """polar at a rank-deficient matrix has no gradient, but a NaN answer is still a finding."""
    a = with_singular_values([3.0, 2.0, 0.0], (3, 3), seed=1)
    np.save(tmp_path / "deficient.npy", a)

    def nan(stack, loss):
        return np.linalg.svd(stack, compute_uv=False), np.full(stack.shape, np.nan)

    register_backend("nan", nan)
    try:
        doc = json.loads(
            run(runner, tmp_path / "deficient.npy", "--loss", "polar", "-b", "nan", "-f", "json").stdout
        )
        junit = run(runner, tmp_path / "deficient.npy", "--loss", "polar", "-b", "nan", "-f", "junit")
    finally:
        unregister_backend("nan")
    result = doc["results"][0]
    assert result["reference"]["defined"] is False
    assert result["backends"]["nan"]["verdict"] == "non-finite"
    assert result["verdict"] == "non-finite"
    assert doc["exit_code"] == 1
    assert ET.fromstring(junit.stdout.split("?>", 1)[1]).find("testsuite").get("failures") == "1"


@pytest.mark.parametrize(
    ("failure", "fail_only_on", "exit_code", "also"),
    [
        (RuntimeError("boom"), "never", 2, "1 also error"),  # a crash is a tool error whatever fails
        (RuntimeError("boom"), "wrong", 2, "1 also error"),
        ("nan", "non-finite", 1, "1 also non-finite"),
        ("nan", "inaccurate", 0, None),
        (NotImplementedError("no"), "unsupported", 1, "1 also unsupported"),
        (NotImplementedError("no"), "non-finite", 0, None),
    ],
)
def test_every_verdict_of_a_matrix_counts_not_only_the_worst(runner, rank2, doubled, failure, fail_only_on,
                                                              exit_code, also):  # fmt: skip
    """`doubled` makes the matrix `wrong`; a second backend's failure, NaN or missing gradient is not
    hidden behind it (issue 10, items 2 and 3)."""

    def second(stack, loss):
        if failure == "nan":
            return np.linalg.svd(stack, compute_uv=False), np.full(stack.shape, np.nan)
        raise failure

    register_backend("second", second)
    try:
        result = run(runner, rank2, "-b", doubled, "-b", "second", "--fail-only-on", fail_only_on, "-q")
    finally:
        unregister_backend("second")
    assert result.exit_code == exit_code
    assert "(1 wrong" in result.stdout
    assert (also in result.stdout) if also else " also " not in result.stdout


@pytest.mark.parametrize(
    ("target", "problem"),
    [("/proc/report.json", "No such file or directory"), ("/dev/full", "No space left on device")],
)
def test_a_report_file_that_cannot_be_written_is_one_line(tmp_path, target, problem):
    np.save(tmp_path / "a.npy", np.diag([3.0, 2.0, 1.0]))
    command = [sys.executable, "-m", "svdgrad_cli", "check", str(tmp_path / "a.npy"), "-b", "autograd"]
    done = subprocess.run([*command, "-f", "jsonl", "-o", target], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"svdgrad: error: -o {target}: cannot write it ({problem})"


def test_unsupported_is_a_backend_verdict_that_does_not_force_exit_2(runner, tmp_path):
    np.save(tmp_path / "tall.npy", with_singular_values([3.0, 2.0, 1.0], (5, 3), seed=2))
    args = (tmp_path / "tall.npy", "--loss", "polar", "--full-matrices", "-b", "autograd", "-b", "torch")
    result = run(runner, *args, "-f", "json")
    doc = json.loads(result.stdout)
    assert doc["results"][0]["backends"]["autograd"]["verdict"] == "unsupported"
    assert doc["results"][0]["backends"]["torch"]["verdict"] == "correct"
    assert result.exit_code == 0
    junit = ET.fromstring(run(runner, *args, "-f", "junit").stdout.split("?>", 1)[1]).find("testsuite")
    assert junit.get("skipped") == "1" and junit.get("errors") == "0"
    assert run(runner, *args, "--fail-on", "unsupported").exit_code == 1


def test_skipped_files_are_named_with_their_reason_in_every_format(runner, tmp_path):
    folder = tmp_path / "fixtures"
    folder.mkdir()
    np.save(folder / "a.npy", np.diag([3.0, 2.0, 1.0]))
    (folder / "model.onnx").write_bytes(b"\x08\x07")
    (folder / "notes.md").write_text("hello")
    (folder / "scratch.npy").write_bytes(b"")
    args = (folder, "-b", "autograd", "--exclude", "scratch*")
    verbose = run(runner, *args, "-v")
    # no --glob was given: the reason names the suffixes svdgrad reads, not an option never used
    assert (
        f"svdgrad: skipped {folder / 'model.onnx'}: not a matrix or checkpoint file by its suffix ("
        in verbose.stderr
    )
    assert "--glob" not in verbose.stderr
    globbed = run(runner, *args, "-v", "--glob", "*.npy")
    assert f"svdgrad: skipped {folder / 'model.onnx'}: matches no --glob (*.npy)" in globbed.stderr
    assert f"svdgrad: skipped {folder / 'scratch.npy'}: excluded by --exclude scratch*" in verbose.stderr
    assert "3 skipped" in verbose.stdout
    doc = json.loads(run(runner, *args, "-f", "json").stdout)
    assert {s["source"].rsplit("/", 1)[1] for s in doc["skipped"]} == {
        "model.onnx",
        "notes.md",
        "scratch.npy",
    }
    markdown = run(runner, *args, "-f", "markdown").stdout
    assert "### Skipped" in markdown and "model.onnx" in markdown
    assert "skipped" not in run(runner, *args).stderr  # named on stderr only with -v


def test_an_npz_bias_is_skipped_with_a_note_not_an_error(runner, tmp_path):
    np.savez(tmp_path / "layer.npz", weight=np.diag([3.0, 2.0, 1.0]), bias=np.ones(3))
    doc = json.loads(run(runner, tmp_path / "layer.npz", "-b", "autograd", "-f", "json").stdout)
    assert doc["exit_code"] == 0
    assert [r["source"].rsplit(":", 1)[1] for r in doc["results"]] == ["weight"]
    (skipped,) = doc["skipped"]
    assert skipped["source"].endswith("layer.npz:bias") and "1-D array of length 3" in skipped["reason"]


def test_versions_are_fields_in_json_junit_and_markdown(runner, rank2):
    doc = json.loads(run(runner, rank2, "-b", "autograd", "-f", "json").stdout)
    assert {"svdgrad", "python", "numpy", "mpmath", "autograd"} <= set(doc["versions"])
    junit = ET.fromstring(run(runner, rank2, "-b", "autograd", "-f", "junit").stdout.split("?>", 1)[1])
    names = {p.get("name") for p in junit.iter("property")}
    assert {"version.svdgrad", "version.autograd"} <= names
    assert "Versions: svdgrad" in run(runner, rank2, "-b", "autograd", "-f", "markdown").stdout


def test_counts_add_up_matrices_and_unreadable_inputs_apart(runner, tmp_path):
    np.save(tmp_path / "three.npy", np.stack([np.diag([3.0, 2.0, 1.0])] * 3))
    (tmp_path / "bad1.npy").write_bytes(b"junk")
    (tmp_path / "bad2.csv").write_text("1,a\n")
    result = run(runner, tmp_path, "-b", "autograd", "-q")
    assert "3 matrices checked (3 agree); 2 inputs could not be read; exit code 2" in result.stdout
    summary = json.loads(run(runner, tmp_path, "-b", "autograd", "-f", "json").stdout)["summary"]
    assert summary["matrices"] == 3 and summary["errors"] == 2
    assert sum(summary["verdicts"].values()) == summary["matrices"]


def test_an_interrupted_run_is_marked_in_every_format(runner, tmp_path, interrupting):
    for i in range(3):
        np.save(tmp_path / f"m{i}.npy", np.diag([3.0 + i, 2.0, 1.0]) if i != 1 else np.eye(4))
    outputs = {}
    for fmt in ("json", "jsonl", "junit", "markdown", "github"):
        interrupting.reset()
        result = run(runner, tmp_path, "-b", interrupting.name, "-f", fmt, "-o", tmp_path / f"out.{fmt}")
        assert result.exit_code == 130
        assert "interrupted" in result.stdout  # the table's summary line
        outputs[fmt] = (tmp_path / f"out.{fmt}").read_text()
    assert json.loads(outputs["json"])["interrupted"] is True
    assert json.loads(outputs["json"])["exit_code"] == 130
    assert json.loads(outputs["jsonl"].splitlines()[-1])["interrupted"] is True
    assert 'type="interrupted"' in outputs["junit"]
    assert "**Interrupted**" in outputs["markdown"]
    assert "::error title=svdgrad interrupted::" in outputs["github"]


SLOW_RUN = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from svdgrad_cli import register_backend
    from svdgrad_cli.cli import main

    def slow(stack, loss):
        time.sleep(0.3)
        return np.linalg.svd(stack, compute_uv=False), np.zeros_like(stack)

    register_backend("slow", slow)
    sys.argv = ["svdgrad", "check", sys.argv[1], "-b", "slow", "-f", "jsonl"]
    main()
    """
)


def test_ctrl_c_stops_promptly_and_the_stream_ends_with_an_interrupted_summary(tmp_path):
    for i in range(40):
        np.save(tmp_path / f"m{i:02d}.npy", np.diag([3.0, 2.0, 1.0 + i]))
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    first = process.stdout.readline()  # one matrix is through
    assert json.loads(first)["type"] == "result"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert process.returncode == 130
    summary = json.loads(rest.strip().splitlines()[-1])
    assert summary["type"] == "summary" and summary["interrupted"] is True and summary["exit_code"] == 130
    assert "Traceback" not in stderr


def test_backends_reports_a_framework_that_fails_to_import(tmp_path):
    broken = tmp_path / "jax"
    broken.mkdir()
    (broken / "__init__.py").write_text('raise ImportError("jaxlib is missing (broken on purpose)")\n')
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-m", "svdgrad_cli", "backends"], capture_output=True, text=True, env=env, check=True
    ).stdout
    (jax_line,) = [line for line in out.splitlines() if line.startswith("jax ")]
    assert "broken" in jax_line and "ImportError: jaxlib is missing (broken on purpose)" in jax_line
    assert any(line.startswith("autograd") and "available" in line for line in out.splitlines())


def test_verbose_names_every_matrix_checked_with_its_shape_and_verdict_even_when_all_agree(runner, tmp_path):
    """Issue 22 item 6: -v names what was checked (the README says so), not only what was skipped."""
    np.save(tmp_path / "stack.npy", np.stack([np.diag([3.0, 2.0, 1.0]), np.diag([5.0, 4.0, 1.0])]))
    np.save(tmp_path / "wide.npy", np.arange(8.0).reshape(2, 4) + np.eye(2, 4))
    result = run(runner, tmp_path, "-b", "autograd", "-v")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("svdgrad: checked ")]
    assert lines == [
        f"svdgrad: checked {tmp_path / 'stack.npy'}[0]: 3x3 float64, agree",
        f"svdgrad: checked {tmp_path / 'stack.npy'}[1]: 3x3 float64, agree",
        f"svdgrad: checked {tmp_path / 'wide.npy'}: 2x4 float64, agree",
    ]
    assert "checked" not in run(runner, tmp_path, "-b", "autograd").stderr
