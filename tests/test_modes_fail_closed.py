"""``--mode jvp|hvp`` fails closed: a loss whose K exceeds a matrix's singular values is an input error
naming the file (exit 2, the other files still checked), a sweep refuses such a loss up front, and the
library's ``check_modes`` reports it as an error rather than raising; options a mode run does not
honour are refused; a result the reference cannot tell is ``correct`` only where the budget is
determined."""

from __future__ import annotations

import numpy as np
import pytest

from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.budget import Budget
from svdgrad_cli.pipeline.modes import _judged
from svdgrad_cli.pipeline.modes_run import check_modes
from svdgrad_cli.verdicts import BackendVerdict


@pytest.fixture
def files(tmp_path):
    """small.npy: 2x2 (too few singular values for sv:3); big.npy: 4x4."""
    rng = np.random.default_rng(3)
    np.save(tmp_path / "small.npy", rng.standard_normal((2, 2)))
    np.save(tmp_path / "big.npy", rng.standard_normal((4, 4)))
    return tmp_path


@pytest.mark.parametrize("mode", ["jvp", "hvp"])
def test_a_loss_too_large_for_one_file_names_it_and_checks_the_others(runner, files, mode):
    args = ["check", "--mode", mode, "-b", "autograd", "--loss", "sv:3", str(files / "small.npy")]
    result = runner.invoke(cli, [*args, str(files / "big.npy")])
    assert result.exit_code == 2, result.output
    assert "small.npy: loss sv:3 needs at least 3 singular values; the matrix has 2" in result.stderr
    assert "big.npy" in result.stdout and "internal error" not in result.stderr


def test_check_modes_reports_a_loss_too_large_as_an_error():
    run = check_modes(np.eye(2), "jvp", loss="sv:3", backends=["autograd"])
    assert run.reports == [] and len(run.errors) == 1 and "needs at least 3" in run.errors[0]


@pytest.mark.parametrize("mode", ["jvp", "vjp"])
def test_a_sweep_refuses_a_loss_too_large_for_its_shape_in_one_line(runner, mode):
    args = ["sweep", "--mode", mode, "-b", "autograd", "--loss", "sv:5", "--shape", "4x4"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "svdgrad: error: sweep: loss sv:5 needs at least 5 singular values; the matrix has 4"
    ]


@pytest.mark.parametrize(
    "option",
    [
        ["--reference", "high"],
        ["--full-matrices"],
        ["--dup-tol", "1e-3"],
        ["--budget-factor", "40"],
        ["--rtol", "1e-3"],
        ["--show-gradients"],
        ["--include-arrays"],
        ["--save-repro", "repro"],
    ],
)
def test_a_check_option_a_mode_run_does_not_honour_is_refused_in_one_line(runner, files, option):
    result = runner.invoke(cli, ["check", "--mode", "jvp", "-b", "autograd", str(files), *option])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"svdgrad: error: --mode jvp does not honour {option[0]} (it is for --mode vjp); drop it"
    ]


def test_a_sweep_in_a_mode_refuses_an_option_it_does_not_honour(runner):
    result = runner.invoke(cli, ["sweep", "--mode", "hvp", "-b", "autograd", "--budget-factor", "40"])
    assert result.exit_code == 2
    assert "sweep --mode hvp does not honour --budget-factor" in result.stderr


def test_the_zero_tolerance_is_honoured_and_not_refused(runner, files):
    args = ["check", "--mode", "jvp", "-b", "autograd", str(files), "--zero-tol", "1e-9"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_a_mode_result_the_reference_cannot_tell_is_correct_only_where_the_budget_is_determined():
    """Near the budget, within the reference's own error: in the backend's favour, but a budget of half
    the gradient (float32 data that do not determine it) never makes the result ``correct``."""
    eps32 = float(np.finfo(np.float32).eps)
    undetermined = Budget(allowed=0.5, scale=1.0, uncertainty=0.1, eps=eps32)
    determined = Budget(allowed=1e-6, scale=1.0, uncertainty=1e-7, eps=eps32)
    assert _judged("b", "p", 0.45, undetermined).verdict == BackendVerdict.INDETERMINATE
    assert _judged("b", "p", 0.95e-6, determined).verdict == BackendVerdict.CORRECT
    assert _judged("b", "p", 0.95e-6, determined, unique=False).verdict == BackendVerdict.VALID
