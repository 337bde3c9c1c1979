"""The built-in torch.svd_lowrank backend (backends/torch_lowrank.py): an approximate forward map whose
forward error is measured, and blamed where it accounts for the gradient's."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import with_singular_values

from svdgrad_cli import check
from svdgrad_cli.cli import cli

SLOW = with_singular_values(list(0.9 ** np.arange(20)), (30, 20), seed=1)  # s_{i+1} / s_i = 0.9


def judged(backend: str):
    report = check(SLOW, loss="proj:2", backends=[backend]).results[0]
    return report.backends[0], [w.message for w in report.warnings if w.code == "forward-svd"]


def test_default_niter_on_a_slowly_decaying_spectrum_blames_the_forward_map():
    result, forward = judged("torch_lowrank")
    assert result.verdict == "wrong"
    assert result.forward.subspace > 1e-3 and not result.forward.accurate
    assert len(forward) == 1 and "the SVD, not the gradient rule, is at fault" in forward[0]


def test_enough_subspace_iterations_are_judged_on_the_adjoint():
    result, forward = judged("torch_lowrank:q=8,niter=60")
    assert result.verdict == "correct" and result.forward.accurate and not forward


def test_a_loss_beyond_q_is_unsupported():
    result = check(SLOW, loss="proj:7", backends=["torch_lowrank"]).results[0].backends[0]
    assert result.verdict == "unsupported" and "returns 6 of 20 singular triplets" in result.message


@pytest.mark.parametrize("name", ["torch_lowrank:q=0", "torch_lowrank:depth=3", "torch_lowrank:niter=x"])
def test_bad_options_are_one_line_and_exit_2(runner, tmp_path, name):
    path = tmp_path / "a.npy"
    np.save(path, SLOW)
    result = runner.invoke(cli, ["check", str(path), "-b", name])
    assert result.exit_code == 2
    assert "expected torch_lowrank:q=Q,niter=N" in result.stderr and "Traceback" not in result.output
