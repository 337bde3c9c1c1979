"""Issue 25's acceptance bullets, each end to end through check(..., mode=) or the command line,
against oracles independent of svdgrad (mode_oracle.py: 60-digit mpmath differences). The rest of
the bullets' tests: test_modes_backends.py (a random 6x6 correct on every path in both modes and
dtypes; the zero singular value undefined; the seed's rank-2 matrix), test_modes_numerics.py."""

from __future__ import annotations

import numpy as np
import pytest
from mode_oracle import polar_jvp

from svdgrad_cli import check
from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.hvp import reference_hvp
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.pipeline.modes import draw_directions
from svdgrad_cli.verdicts import BackendVerdict as V

TIE = np.diag([3.0, 2.0, 2.0, 1.0])


def test_sum_hvp_at_diag_3221_is_finite_and_the_high_precision_difference_of_the_gradient():
    for e in draw_directions((4, 4), seed=0):  # the directions check() draws
        oracle = polar_jvp(TIE, e)
        value = reference_hvp(TIE, parse_loss("sum"), e, 1e-12).value
        assert np.all(np.isfinite(value))
        assert np.linalg.norm(value - oracle) <= 1e-13 * np.linalg.norm(oracle)
    run = check(TIE, mode="hvp", loss="sum", backends=["jax"])
    norms = [d.norm for d in run.reports[0].directions]
    expected = [np.linalg.norm(polar_jvp(TIE, e)) for e in draw_directions((4, 4), seed=0)]
    assert norms == pytest.approx(expected, rel=1e-13)


def test_a_framework_that_returns_nan_is_non_finite_whatever_the_reference(monkeypatch):
    from svdgrad_cli.pipeline import modes

    monkeypatch.setattr(modes, "run_path", lambda path, a, e: np.full_like(a, np.nan))
    for matrix in (TIE, np.diag([3.0, 2.0, 1.0, 0.0])):  # HVP defined, and not
        run = check(matrix, mode="hvp", loss="sum", backends=["jax"])
        verdicts = {r.verdict for _, r in run.reports[0].rows()}
        assert verdicts == {V.NON_FINITE} and run.exit_code == 1


@pytest.mark.parametrize("mode", ["jvp", "hvp"])
@pytest.mark.parametrize("k", [-64, 64])
def test_exact_power_of_two_scaling_leaves_every_relative_budget_unchanged(mode, k):
    a = np.random.default_rng(5).standard_normal((4, 4))
    budgets = [
        [r.budget for _, r in check(x, mode=mode, backends=["jax"]).reports[0].rows()]
        for x in (a, np.ldexp(a, k))
    ]
    assert all(b is not None for b in budgets[0])
    assert budgets[0] == pytest.approx(budgets[1], rel=1e-12)


def test_jvp_on_the_seed_rank2_matrix_says_why_the_frameworks_differ(runner):
    result = runner.invoke(cli, ["check", "sample_matrices/seed_rank2.npy", "--mode", "jvp", "--loss", "sum"])
    assert result.exit_code == 0, result.output
    assert "one-sided directional derivative L'(A;E)" in result.output
    assert "members give [" in result.output and "Why the JVPs differ" in result.output
    assert "valid" in result.output
