"""The built-in torch.svd_lowrank backend (backends/torch_lowrank.py): an approximate forward map whose
forward error is measured, and blamed where it accounts for the gradient's."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import with_singular_values

from svdgrad_cli import assert_gradients_ok, check
from svdgrad_cli.backends.registry import default_backends
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


def test_the_reported_forward_error_is_the_true_one():
    """torch.svd_lowrank run here with svdgrad's seed, against the exact singular vectors of the
    construction (the factors with_singular_values drew), its angles from scipy: the backward error
    they imply, max over j <= 2 of sin(theta_j) (s_j - s_{j+1}) / s_1 (Wedin), is what is reported."""
    import scipy.linalg
    import torch
    from helpers import random_orthogonal

    rng = np.random.default_rng(1)
    exact_u, exact_v = random_orthogonal(30, rng)[:, :20], random_orthogonal(20, rng)
    s = 0.9 ** np.arange(20)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        u, values, v = (t.numpy() for t in torch.svd_lowrank(torch.tensor(SLOW), q=6, niter=2))
    bounds = [
        np.sin(scipy.linalg.subspace_angles(computed[:, :j], truth[:, :j])[0]) * (s[j - 1] - s[j])
        for computed, truth in ((u, exact_u), (v, exact_v))
        for j in (1, 2)
    ]
    result, _ = judged("torch_lowrank")
    assert result.forward.subspace == pytest.approx(max(bounds), rel=1e-3)
    assert result.forward.value_error == pytest.approx(np.max(np.abs(values[:2] - s[:2])), rel=1e-3)


def test_assert_gradients_ok_accepts_torch_lowrank_and_names_the_forward_when_it_fails():
    assert_gradients_ok("torch_lowrank:q=8,niter=60", SLOW, loss="proj:2")
    with pytest.raises(AssertionError, match="torch_lowrank is wrong") as failed:
        assert_gradients_ok("torch_lowrank", SLOW, loss="proj:2")
    assert "Its forward SVD is itself inaccurate" in str(failed.value)


def test_backends_lists_torch_lowrank_with_its_spec_parameters(runner):
    result = runner.invoke(cli, ["backends"])
    row = next(line for line in result.stdout.splitlines() if line.split()[0] == "torch_lowrank")
    assert row.split()[1] == "available" and "-b torch_lowrank[:q=Q,niter=N] (q=6, niter=2)" in row
    assert "only where named" in row and "torch_lowrank" not in default_backends()
