"""``svdgrad check --decomposition eigh`` as a command: reports, exit codes, refusals in one line."""

from __future__ import annotations

import json

import numpy as np
from eigh_oracle import symmetric

from svdgrad_cli.cli import cli

FAKE = "python:eigh_cli_plugin:exact"  # a plug-in returning the exact gradient of eigsum: I


def _files(tmp_path, monkeypatch):
    (tmp_path / "eigh_cli_plugin.py").write_text(
        "import numpy as np\n\ndef exact(stack, loss):\n"
        "    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]), stack.shape)\n"
    )
    monkeypatch.chdir(tmp_path)
    a, _ = symmetric([0.5, 2.0, 2.0, 4.0])
    np.save(tmp_path / "tied.npy", a)
    np.save(tmp_path / "asym.npy", np.array([[1.0, 2.0], [2.5, 3.0]]))
    return str(tmp_path / "tied.npy"), str(tmp_path / "asym.npy")


def test_an_asymmetric_file_is_refused_in_one_line_and_the_others_are_checked(runner, tmp_path, monkeypatch):
    tied, asym = _files(tmp_path, monkeypatch)
    result = runner.invoke(
        cli, ["check", asym, tied, "--decomposition", "eigh", "-b", FAKE, "--format", "json"]
    )
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if "asym.npy" in line]
    assert (
        len(errors) == 1 and "||A - A^T||_F / ||A||_F = 0.1" in errors[0] and "Traceback" not in result.output
    )
    data = json.loads(result.stdout)
    assert [r["verdict"] for r in data["results"]] == ["agree"]
    assert data["results"][0]["backends"][0]["verdict"] == "correct"


def test_symmetrize_checks_the_symmetric_part(runner, tmp_path, monkeypatch):
    _, asym = _files(tmp_path, monkeypatch)
    result = runner.invoke(cli, ["check", asym, "--decomposition", "eigh", "--symmetrize", "-b", FAKE])
    assert result.exit_code == 0, result.output
    assert "--symmetrize: (A + A^T)/2" in result.stdout and "correct" in result.stdout


def test_an_undefined_loss_is_reported_and_a_wrong_gradient_exits_1(runner, tmp_path, monkeypatch):
    tied, _ = _files(tmp_path, monkeypatch)
    result = runner.invoke(cli, ["check", tied, "--decomposition", "eigh", "--loss", "proj:2", "-b", FAKE])
    assert result.exit_code == 0 and "-> undefined" in result.stdout
    result = runner.invoke(cli, ["check", tied, "--decomposition", "eigh", "--loss", "logdet", "-b", FAKE])
    assert result.exit_code == 1 and "wrong" in result.stdout  # I is not (A)^-1


def test_unknown_eigh_losses_are_usage_errors(runner, tmp_path, monkeypatch):
    tied, _ = _files(tmp_path, monkeypatch)
    result = runner.invoke(cli, ["check", tied, "--decomposition", "eigh", "--loss", "polar", "-b", FAKE])
    assert result.exit_code == 2 and "unknown loss 'polar' for --decomposition eigh" in result.stderr


def test_check_eigh_from_python_judges_a_stack_and_names_what_it_could_not_check():
    from svdgrad_cli import check_eigh

    a, _ = symmetric([0.5, 2.0, 2.0, 4.0])
    exact = "python:eigh_oracle:identity_gradient"  # tests/ is on the path: I is eigsum's gradient
    run = check_eigh(np.stack([a, a + np.triu(np.ones((4, 4)), 1)]), backends=[exact])
    assert [r.results[0].verdict for r in run.reports] == ["correct"] and len(run.errors) == 1
    assert "not symmetric" in run.errors[0] and run.exit_code == 2
