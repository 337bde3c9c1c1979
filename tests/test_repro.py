"""--save-repro: stand-alone scripts that reproduce a finding with the framework alone."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import with_singular_values

from svdgrad_cli.cli import cli


def run_script(script) -> str:
    out = subprocess.run([sys.executable, script.name], cwd=script.parent, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_non_finite_recon_at_a_tie_is_reproduced(runner, tmp_path):
    matrix = tmp_path / "tie.npy"
    np.save(matrix, np.diag([1.0, 1.0, 2.0, 3.0]))
    repro = tmp_path / "repro"
    result = runner.invoke(
        cli, ["check", str(matrix), "--loss", "recon", "-b", "autograd", "--save-repro", str(repro)]
    )
    assert result.exit_code == 1
    (script,) = repro.glob("*.py")
    assert "wrote reproducer" in result.stderr
    assert "import svdgrad" not in script.read_text()  # stand-alone: numpy and the framework only
    assert "non-finite entries: 16" in run_script(script)


def test_wrong_polar_gradient_is_reproduced_with_its_distance(runner, tmp_path):
    matrix = tmp_path / "near_tie.npy"
    np.save(matrix, with_singular_values([3.0, 2.0, 2.0, 1.0], (4, 4), seed=1))
    repro = tmp_path / "repro"
    result = runner.invoke(cli, ["check", str(matrix), "--loss", "polar", "-b", "autograd", "-f", "json",
                                 "--save-repro", str(repro)])  # fmt: skip
    backend = json.loads(result.stdout)["results"][0]["backends"]["autograd"]
    if backend["verdict"] != "wrong":
        pytest.skip(f"this autograd build lands on the right gradient here ({backend['verdict']})")
    (script,) = repro.glob("*.py")
    distance = float(run_script(script).strip().rsplit(":", 1)[1])
    assert distance > backend["budget"]
    assert np.isclose(distance, backend["error"], rtol=1e-6)


def test_nothing_is_written_when_every_backend_is_right(runner, tmp_path):
    matrix = tmp_path / "fine.npy"
    np.save(matrix, np.diag([3.0, 2.0, 1.0]))
    repro = tmp_path / "repro"
    result = runner.invoke(
        cli, ["check", str(matrix), "--loss", "polar", "-b", "autograd", "--save-repro", str(repro)]
    )
    assert result.exit_code == 0
    assert not repro.exists()


@pytest.mark.parametrize("backend", ["autograd", "tensorflow", "torch", "jax"])
def test_every_backends_script_reproduces_what_svdgrad_measured(runner, tmp_path, backend):
    """recon at a tie (NaN in autograd, torch and jax) and polar at a tie (TensorFlow's safe reciprocal
    drops the whole tie term): each script, run alone, prints svdgrad's own error or NaN count."""
    matrix = tmp_path / "tie.npy"
    np.save(matrix, np.diag([3.0, 2.0, 2.0, 1.0]))
    repro = tmp_path / "repro"
    loss = "polar" if backend == "tensorflow" else "recon"
    result = runner.invoke(cli, ["check", str(matrix), "--loss", loss, "-b", backend, "-f", "json",
                                 "--save-repro", str(repro)])  # fmt: skip
    judged = json.loads(result.stdout)["results"][0]["backends"][backend]
    assert judged["verdict"] in ("wrong", "non-finite")
    (script,) = repro.glob("*.py")
    output = run_script(script)
    if judged["verdict"] == "non-finite":
        assert "non-finite entries: 16" in output
    else:
        assert np.isclose(float(output.strip().rsplit(":", 1)[1]), judged["error"], rtol=1e-9)
