"""``svdgrad sweep --decomposition eigh --vary gap|scale`` (pipeline/eigh_sweep.py)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from helpers import EIGH_EXACT as EXACT

from svdgrad_cli.cli import cli
from svdgrad_cli.errors import UsageError
from svdgrad_cli.pipeline.eigh_sweep import built_in_base, eigh_family


def test_the_gap_family_closes_the_pair_at_k_down_to_an_exact_tie():
    family = [item for _, item in eigh_family("gap", 3, 6, built_in_base(8, seed=0, dtype="float64"))]
    gaps = [np.diff(np.linalg.eigvalsh(item.array))[2] for item in family]  # w_4 - w_3
    assert family[0].source == "gap 0.5" and family[-1].source == "gap 0"
    assert gaps[0] == pytest.approx(0.5 / 8, rel=1e-12)  # d = 1/8 for n = 8
    assert all(a > b for a, b in itertools.pairwise(gaps[:-1]))
    assert abs(gaps[-1]) < 1e-14 and all(np.array_equal(i.array, i.array.T) for i in family)


def test_a_scale_sweep_keeps_the_relative_budget_and_a_projector_goes_undefined_at_the_tie(
    runner, eigh_exact_plugin
):
    args = ["sweep", "--decomposition", "eigh", "--shape", "8x8", "--points", "5", "--format", "json"]
    result = runner.invoke(cli, [*args, "--vary", "scale", "--loss", "vec", "-b", EXACT])
    budgets = [r["backends"][0]["budget"] for r in json.loads(result.stdout)["results"]]
    assert len(budgets) == 5 and max(budgets) == pytest.approx(min(budgets), rel=1e-9)
    result = runner.invoke(cli, [*args, "--vary", "gap", "--loss", "proj:4", "-b", EXACT])
    verdicts = [r["verdict"] for r in json.loads(result.stdout)["results"]]
    assert verdicts[-1] == "undefined" and result.exit_code == 1  # I is no projector's gradient: wrong


def test_sweep_usage_errors_are_one_line(runner, eigh_exact_plugin):
    result = runner.invoke(cli, ["sweep", "--decomposition", "eigh", "--vary", "zero", "-b", EXACT])
    assert result.exit_code == 2 and "varies gap or scale" in result.stderr
    result = runner.invoke(cli, ["sweep", "--decomposition", "eigh", "--shape", "4x6", "-b", EXACT])
    assert result.exit_code == 2 and "square --shape" in result.stderr
    with pytest.raises(UsageError, match="1 <= K < n"):
        list(eigh_family("gap", 8, 4, built_in_base(8, seed=0, dtype="float64")))


def test_a_sweep_draws_its_picture(runner, eigh_exact_plugin, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "gap.png"
    args = ["sweep", "--decomposition", "eigh", "--shape", "4x4", "--points", "4", "--plot", str(png)]
    result = runner.invoke(cli, [*args, "-b", EXACT])
    assert result.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(cli, [*args[:-1], str(tmp_path / "gap.pdf"), "-b", EXACT])
    assert result.exit_code == 2 and "must end in .png or .svg" in result.stderr
