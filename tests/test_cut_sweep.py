"""svdgrad sweep --vary cut: s_{K+1} / s_K driven from exact 0 to the multiplet at 1 on exact dyadic
matrices, each truncated backend's verdict held against an independent oracle (50-digit finite
differences of the truncated loss, truncated_oracle.py) and the backend's own gradient computed here
with torch, not through svdgrad: the naive adjoint is inaccurate or wrong exactly where its true
error exceeds the budget, the corrected one never is, and at 1 a loss of the K-th vector has no
gradient while a loss above the cut is still judged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.pipeline.sweep import sweep
from svdgrad_cli.render import plots
from tests.truncated_oracle import example_gradient, truncated_gradient

ROOT = Path(__file__).parent.parent
NAIVE = "torch:examples.backends.truncated:naive"
CORRECTED = "torch:examples.backends.truncated:corrected"
NAMES = {"truncated.naive": "naive", "truncated.corrected": "corrected"}
JUDGED = ("correct", "inaccurate", "wrong")


@pytest.fixture(autouse=True)
def from_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # examples.backends resolves from the current directory, as python -m


def held_against_the_oracle(report, loss_name: str) -> list[tuple[float, str, str, float, float]]:
    """(x, backend, verdict, true relative error, relative budget) of every judged point inside (0, 1)."""
    rows = []
    for point in report.points:
        x = point.member.requested
        if not 0 < x < 1:
            continue
        a = report.family.stored(point.member)
        loss = parse_loss(loss_name).bind(a.shape, 0)
        truth = truncated_gradient("proj", loss.order, a.astype(np.float64), loss.arrays["C"])
        eps = float(np.finfo(a.dtype).eps)
        size = float(np.linalg.norm(truth))
        for b in point.report.backends:
            g = example_gradient(NAMES[b.name], "proj", loss.order, a, loss.arrays["C"])
            true_error = float(np.linalg.norm(g - truth)) / size
            reported = b.error / point.report.reference.gradient_norm
            if b.verdict in JUDGED and b.error_is_bound:  # within the reference's own error: a bound
                assert true_error <= 1.01 * reported
            elif b.verdict in JUDGED:  # what svdgrad reports is the true error (to this run's rounding)
                assert reported == pytest.approx(true_error, rel=0.01, abs=8 * eps)
            rows.append((x, NAMES[b.name], b.verdict, true_error, b.budget / size if b.budget else math.nan))
    return rows


@pytest.fixture(scope="module", params=[("float64", 7), ("float32", 5)], ids=["float64", "float32"])
def proj3(request):
    """A cut sweep at K = 3 of 8 (the loss's K): x = 0, 1e-13 (1e-5 in float32), ..., 1/2, ..., 1."""
    dtype, points = request.param
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return sweep(
            "cut", points=points, shape="8x8", loss="proj:3", backends=[NAIVE, CORRECTED], dtype=dtype
        )


@pytest.fixture(scope="module")
def rows(proj3):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return held_against_the_oracle(proj3, "proj:3")


def test_naive_is_inaccurate_or_wrong_exactly_where_its_true_error_exceeds_the_budget(proj3, rows):
    eps = float(np.finfo(proj3.family.dtype).eps)
    assert rows
    for x, backend, verdict, error, budget in rows:
        if verdict == "correct":
            assert error <= 1.01 * budget + 2 * eps, (x, backend, error, budget)
        elif verdict in ("inaccurate", "wrong"):
            assert error > 0.99 * budget, (x, backend, error, budget)
        if verdict == "wrong":
            assert error > 0.99 * math.sqrt(eps), (x, backend, error)
    naive = {x: (verdict, error) for x, backend, verdict, error, _ in rows if backend == "naive"}
    assert naive[0.5][0] == "wrong" and 0.1 < naive[0.5][1] < 0.5  # a bias of the formula, not rounding
    errors = [naive[x][1] for x in sorted(naive) if x <= 0.5]
    assert errors == sorted(errors)  # it grows with the discarded weight


def test_corrected_is_never_off_and_correct_up_to_the_multiplet(rows):
    corrected = [(x, verdict) for x, backend, verdict, _, _ in rows if backend == "corrected"]
    assert all(verdict not in ("inaccurate", "wrong") for _, verdict in corrected)
    assert all(verdict == "correct" for x, verdict in corrected if x < 1 - 1e-4)


def test_the_ends_nothing_discarded_and_the_multiplet(proj3):
    first, last = proj3.points[0], proj3.points[-1]
    assert first.member.requested == 0 and last.member.requested == 1
    assert {b.verdict for b in first.report.backends} == {"correct"}  # s_4 = ... = s_8 = 0
    assert not last.report.reference.defined  # s_3 = s_4: proj:3 has no gradient
    assert {b.verdict for b in last.report.backends} == {"undefined"}


def test_a_loss_above_the_cut_stays_judged_at_the_multiplet():
    report = sweep("cut", at=3, points=2, shape="8x8", loss="proj:2", backends=[NAIVE, CORRECTED])
    tied = report.points[-1]
    assert tied.member.requested == 1 and tied.realised[2] == tied.realised[3]
    assert tied.report.reference.defined
    verdicts = {b.name: b.verdict for b in tied.report.backends}
    assert verdicts == {"truncated.naive": "wrong", "truncated.corrected": "correct"}
    loss = parse_loss("proj:2").bind((8, 8), 0)
    a = report.family.stored(tied.member)
    truth = truncated_gradient("proj", 2, a, loss.arrays["C"])
    relative = np.linalg.norm(example_gradient("corrected", "proj", 2, a, loss.arrays["C"]) - truth)
    relative /= np.linalg.norm(truth)
    assert relative < 1e-13


def test_cli_picture_at_80_columns_json_and_a_plot(runner, tmp_path):
    base = ["sweep", "--vary", "cut", "--loss", "proj:3", "--points", "5", "-b", NAIVE, "-b", CORRECTED]
    result = runner.invoke(cli, [*base, "--plot", str(tmp_path / "cut.png")], env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output  # the naive adjoint is wrong
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sweep x = s_4 / s_3 over 5 points, loss proj:3")
    assert all(len(line) <= 80 for line in lines) and "…" not in result.stdout
    header = next(line for line in lines if line.startswith("log10 x/(1-x)"))
    assert header.split()[2:] == ["-∞", "-13", "0", "13", "∞"]
    assert (tmp_path / "cut.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(runner.invoke(cli, [*base, "-f", "json"]).stdout)
    assert doc["sweep"]["vary"] == "cut" and doc["sweep"]["at"] == 3
    assert [p["requested"] for p in doc["points"]][::2] == [0, 0.5, 1]


def test_the_plot_reads_x_on_a_logit_axis_with_exact_ends():
    report = sweep("cut", at=2, points=5, shape="6x6", loss="proj:2", backends=["torch"])
    fig = plots.sweep_figure(report)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] != "0" and {"0", "1/2", "1"} <= set(labels)
    positions = [t for t, label in zip(ax.get_xticks(), labels, strict=True) if label in ("0", "1")]
    assert positions[0] < min(ax.get_xticks()[:-2]) and positions[1] > max(ax.get_xticks()[:-2])
    assert "logit" in ax.get_xlabel() and any("undefined" in p.get_label() for p in ax.patches)
    plots.pyplot().close(fig)
