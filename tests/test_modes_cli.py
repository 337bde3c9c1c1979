"""``check --mode jvp|hvp`` honours check's run options: --select/--skip on archives, --fail-on and
--fail-only-on, the progress bar; refuses --jobs and complex input in one line (exit 2, no
traceback), the other inputs still checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from svdgrad_cli import check
from svdgrad_cli.cli import cli


@pytest.fixture
def archive(tmp_path):
    """enc: a random 4x4 (every HVP defined); dec: rank 3 (the nuclear norm's HVP undefined)."""
    path = tmp_path / "w.npz"
    np.savez(path, enc=np.random.default_rng(1).standard_normal((4, 4)), dec=np.diag([3.0, 2.0, 1.0, 0.0]))
    return path


def run(runner, *args):
    result = runner.invoke(cli, ["check", *map(str, args), "--mode", "hvp", "-b", "jax", "-f", "json"])
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def test_select_and_skip_pick_the_tensors_and_an_unmatched_select_is_an_error(runner, archive):
    result, data = run(runner, archive, "--select", "enc")
    assert result.exit_code == 0 and [r["label"] for r in data["results"]] == [f"{archive}:enc"]
    result, data = run(runner, archive, "--skip", "enc")
    assert [r["label"] for r in data["results"]] == [f"{archive}:dec"]
    result, data = run(runner, archive, "--select", "enc", "--select", "nope")
    assert result.exit_code == 2 and data["unmatched_select"] == ["nope"]
    assert "--select 'nope' matched no tensor" in result.stderr
    result, data = run(runner, archive, "--select", "nope")
    assert result.exit_code == 2 and data["results"] == []


def test_fail_on_reads_every_matrix_verdict(runner, archive):
    assert run(runner, archive)[0].exit_code == 0  # undefined is not a finding by default
    assert run(runner, archive, "--fail-on", "undefined")[0].exit_code == 1
    assert run(runner, archive, "--fail-only-on", "undefined")[0].exit_code == 1
    assert run(runner, archive, "--select", "enc", "--fail-only-on", "undefined")[0].exit_code == 0


def test_a_wrong_path_exits_1_unless_fail_only_on_never(runner, tmp_path, monkeypatch):
    from svdgrad_cli.pipeline import modes

    monkeypatch.setattr(modes, "run_path", lambda path, a, e: np.ones_like(a))  # not any HVP here
    path = tmp_path / "a.npy"
    np.save(path, np.random.default_rng(2).standard_normal((4, 4)))
    assert run(runner, path)[0].exit_code == 1
    assert run(runner, path, "--fail-only-on", "never")[0].exit_code == 0


def test_jobs_is_refused_in_one_line(runner, archive):
    for command in (["check", str(archive)], ["sweep", "--shape", "3x3"]):
        result = runner.invoke(cli, [*command, "--mode", "jvp", "--jobs", "2"])
        assert result.exit_code == 2 and "drop --jobs" in result.output
        assert "Traceback" not in result.output


def test_complex_input_is_refused_in_one_line_and_the_others_are_checked(runner, tmp_path):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "c.npy", rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)))
    np.save(tmp_path / "r.npy", rng.standard_normal((3, 3)))
    result, data = run(runner, tmp_path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert [r["label"] for r in data["results"]] == [str(tmp_path / "r.npy")]
    (line,) = data["errors"]
    assert line.endswith("c.npy: complex input is not supported in --mode hvp (real matrices only)")
    api = check(rng.standard_normal((3, 3)) * 1j, mode="jvp")
    assert api.reports == [] and len(api.errors) == 1 and api.exit_code == 2


def test_the_progress_bar_hears_each_file_and_matrix(runner, archive, monkeypatch):
    from svdgrad_cli import checked_session

    heard = []

    class Progress:
        def __init__(self, files):
            heard.append(("files", files))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def file(self, path):
            heard.append(("file", path))

        def matrix(self, source):
            heard.append(("matrix", source))

    monkeypatch.setattr(checked_session, "RunProgress", Progress)
    assert run(runner, archive)[0].exit_code == 0
    assert heard[0] == ("files", 1)
    assert [s for kind, s in heard if kind == "matrix"] == [f"{archive}:enc", f"{archive}:dec"]
