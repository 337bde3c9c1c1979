"""The frameworks' forward-mode and second-order paths judged (issue 25's acceptance), through the
Python API and the command line. Facts the mathematics forces are asserted; which framework gives NaN
at an exact tie is not (it changes between versions), only that NaN is ``non-finite``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from svdgrad_cli import check
from svdgrad_cli.backends.registry import default_backends
from svdgrad_cli.cli import cli
from svdgrad_cli.verdicts import BackendVerdict as V

BACKENDS = default_backends()
# autograd's SVD has no JVP rule, so its forward mode (make_jvp) and its forward-over-reverse are
# unsupported; every other path answers.
NO_RULE = {("autograd", "make_jvp"), ("autograd", "forward-over-reverse")}


def results(run):
    return [(report, d, r) for report in run.reports for d in report.directions for r in d.results]


@pytest.mark.parametrize("mode", ["jvp", "hvp"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_matrix_every_path_is_correct(mode, dtype):
    a = np.random.default_rng(6).standard_normal((6, 6))
    run = check(a, mode=mode, dtype=dtype)
    assert run.reports and not run.errors
    for _, d, r in results(run):
        assert d.defined and d.unique
        expected = V.UNSUPPORTED if (r.backend, r.path) in NO_RULE else V.CORRECT
        assert r.verdict == expected, (r.backend, r.path, r.verdict, r.relative_error, r.budget)
    assert {r.backend for _, _, r in results(run)} == set(BACKENDS)


def test_hvp_of_sum_at_an_exact_tie_has_a_finite_reference_and_nan_is_non_finite():
    run = check(np.diag([3.0, 2.0, 2.0, 1.0]), mode="hvp", loss="sum")
    for _, d, r in results(run):
        assert d.defined and np.isfinite(d.norm) and d.norm > 0
        assert r.verdict in {V.CORRECT, V.INACCURATE, V.WRONG, V.NON_FINITE, V.UNSUPPORTED}
        if r.verdict == V.NON_FINITE:
            assert "NaN/Inf" in r.message


def test_hvp_at_a_zero_singular_value_is_undefined_never_wrong():
    run = check(np.diag([3.0, 2.0, 1.0, 0.0]), mode="hvp", loss="sum")
    for _, d, r in results(run):
        assert not d.defined and "zero singular value" in d.reference
        assert r.verdict in {V.UNDEFINED, V.NON_FINITE, V.UNSUPPORTED}


def test_jvp_on_the_seed_rank2_matrix_reports_the_one_sided_derivative():
    """The seed post's matrix: rank 2 of 5, so the nuclear norm's gradient is a set; each framework's
    JVP is <G, E> for its own member G and must lie in the members' interval (valid), or equal L'(A;E)."""
    a = np.load("sample_matrices/seed_rank2.npy")
    run = check(a, mode="jvp", loss="sum")
    assert run.exit_code == 0
    for _, d, r in results(run):
        assert not d.unique and d.value is not None
        low, high = d.interval
        assert low < high and d.value == pytest.approx(high)  # the nuclear norm is convex: L' is the top
        if (r.backend, r.path) not in NO_RULE:
            assert r.verdict in {V.VALID, V.CORRECT}
            assert low - 1e-5 <= r.value <= high + 1e-5


def test_cli_mode_in_every_format(runner, tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.random.default_rng(2).standard_normal((4, 4)))
    outputs = {}
    for fmt in ("table", "json", "jsonl", "markdown", "junit"):
        result = runner.invoke(cli, ["check", str(path), "--mode", "hvp", "--backend", "jax", "-f", fmt])
        assert result.exit_code == 0, result.output
        outputs[fmt] = result.output
    assert "mode hvp" in outputs["table"] and "forward-over-reverse" in outputs["table"]
    assert json.loads(outputs["json"])["mode"] == "hvp"
    assert json.loads(outputs["jsonl"].splitlines()[0])["mode"] == "hvp"
    assert "--mode hvp" in outputs["markdown"] and "--mode hvp" in outputs["junit"]


def test_cli_directions_file_and_its_errors(runner, tmp_path):
    a = tmp_path / "a.npy"
    np.save(a, np.diag([3.0, 2.0, 1.0]))
    directions = tmp_path / "e.npz"
    np.savez(directions, E=np.eye(3)[None].repeat(2, axis=0))
    result = runner.invoke(
        cli,
        [
            "check",
            str(a),
            "--mode",
            "jvp",
            "--backend",
            "torch",
            "--directions",
            str(directions),
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["results"][0]
    assert [d["value"] for d in report["directions"]] == [pytest.approx(3.0)] * 2  # <I, I> = tr I
    wrong_shape = tmp_path / "f.npz"
    np.savez(wrong_shape, E=np.eye(2))
    result = runner.invoke(cli, ["check", str(a), "--mode", "jvp", "--directions", str(wrong_shape)])
    assert result.exit_code == 2 and "no array of shape 3x3" in result.output
    result = runner.invoke(
        cli, ["check", str(a), "--mode", "jvp", "--directions", str(tmp_path / "none.npz")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")  # np.load raises EOFError here, which must not read as Ctrl-C (exit 130)
    result = runner.invoke(cli, ["check", str(a), "--mode", "jvp", "--directions", str(empty)])
    assert result.exit_code == 2 and "not an .npz file" in result.output


def test_matrix_verdict_ignores_an_unsupported_path_of_a_backend_that_answered():
    run = check(np.diag([3.0, 2.0, 1.0]), mode="jvp", backends=["autograd"])
    assert str(run.reports[0].verdict) == "agree"


def test_sweep_in_hvp_mode_ends_undefined_at_a_zero_value(runner):
    args = [
        "sweep",
        "--mode",
        "hvp",
        "--vary",
        "zero",
        "--shape",
        "4x4",
        "--points",
        "4",
        "-b",
        "jax",
        "-f",
        "json",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.output)
    assert data["mode"] == "hvp" and len(data["points"]) == 4
    assert [p["directions"][0]["defined"] for p in data["points"]] == [True, True, True, False]
    table = runner.invoke(cli, args[:-2])
    assert "mode hvp" in table.output and "jax forward-over-reverse" in table.output
    refused = runner.invoke(cli, ["sweep", "--directions", "e.npz"])
    assert refused.exit_code == 2 and "--directions" in refused.output


def test_assert_gradients_ok_in_hvp_mode_names_the_path_that_failed():
    from svdgrad_cli import assert_gradients_ok

    assert_gradients_ok(
        "autograd", np.diag([3.0, 2.0, 1.0]), mode="hvp"
    )  # make_hvp answers; make_jvp unsupported
    with pytest.raises(AssertionError, match="autograd reverse-over-reverse is correct"):
        assert_gradients_ok("autograd", np.diag([3.0, 2.0, 1.0]), mode="hvp", accept=("valid",))
