"""svdgrad sweep: exact spectra (checked with an independent mpmath SVD), every point equal to check on
its matrix, the terminal picture at 80 columns, JSON and JSON Lines, exit codes, and the acceptance
sweeps of the seed post (zero) and of polar at a closing gap."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from svdgrad_cli import Settings, check_paths, register_backend, unregister_backend
from svdgrad_cli.cli import cli
from svdgrad_cli.numerics import families as fam
from svdgrad_cli.options import VARY_CHOICES
from svdgrad_cli.pipeline.run import resolve_settings
from svdgrad_cli.pipeline.sweep import SweepSpec, build_family, save_matrices, sweep
from svdgrad_cli.sweep_model import SWEEP_PARAMETERS

SEED = "sample_matrices/seed_rank2.npy"
PICTURE_ROW = re.compile(r"autograd +[cviW?N-][ 0-9∞]{2} ")  # a row of cells, not the verdicts by x


def mp_singular_values(matrix: np.ndarray) -> list[mpmath.mpf]:
    """An independent 60-digit SVD of the stored matrix (each float entry converted exactly)."""
    complex_ = np.iscomplexobj(matrix)
    a = np.asarray(matrix, dtype=np.complex128 if complex_ else np.float64)
    with mpmath.workdps(60):
        values = (mpmath.svd_c if complex_ else mpmath.svd_r)(mpmath.matrix(a.tolist()), compute_uv=False)
        return sorted((mpmath.re(values[i]) for i in range(len(values))), reverse=True)


def family(vary, shape=(6, 6), at=None, points=6, dtype="float64", source=None):
    settings = resolve_settings(Settings(dtype=dtype, backends=("autograd",)))
    return build_family(SweepSpec(vary, at, points, shape, source), settings)


@pytest.mark.parametrize(
    ("vary", "shape", "at", "dtype"),
    [
        ("gap", (6, 6), 2, "float64"),
        ("gap", (8, 5), 4, "float32"),
        ("zero", (6, 6), 3, "float64"),
        ("zero", (5, 7), None, "float32"),
        ("scale", (6, 4), None, "float64"),
        ("gap", (3, 3), 1, "float64"),  # seeded QR factors: rounded, realised by mpmath
        ("gap", (5, 6), 2, "complex128"),  # unitary: phases 1, i, -1, -i on the columns
        ("scale", (4, 4), None, "complex64"),
    ],
)
def test_realised_spectra_equal_the_requested_ones_to_rounding(vary, shape, at, dtype):
    made = family(vary, shape, at, points=6, dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    for member in made.members:
        stored = made.stored(member)
        assert stored.dtype == np.dtype(dtype) and stored.shape == shape
        truth = mp_singular_values(stored)
        top = float(truth[0])
        for got, want in zip(truth, sorted(member.values, reverse=True), strict=True):
            if member.exact:  # exactly U diag(s) V^T: equal to the float64 values themselves
                assert abs(got - mpmath.mpf(float(want))) <= mpmath.mpf(10) ** -40 * top
            else:
                assert abs(float(got) - want) <= 8 * max(shape) * eps * top
        realised, method = fam.realised_values(stored, member.values, member.exact)
        assert method in ("exact", "mpmath")
        np.testing.assert_allclose(realised, [float(x) for x in truth], rtol=1e-14, atol=1e-30 * top)


def test_the_requested_parameter_is_built_to_eight_bits_and_the_matrix_is_exact_where_bits_fit():
    made = family("gap", (8, 8), at=3, points=16)
    assert made.factors.kind == "dyadic"
    exact = [m for m in made.members if m.exact]
    assert len(exact) >= 10 and made.members[-1].exact  # exact 0 is exact: s_3 = s_4
    for member in made.members:
        built = (member.values[2] - member.values[3]) / member.values[0]
        assert abs(built - member.requested) <= 2.0**-8 * member.requested
    # the construction, checked in exact rational arithmetic for one member
    member = exact[4]
    stored = made.stored(member)
    u, v = made.factors.u, made.factors.v
    frac = [[Fraction(float(x)) for x in row] for row in (u, v)[0]]
    frac_v = [[Fraction(float(x)) for x in row] for row in v]
    s = [Fraction(float(x)) for x in member.values]
    for i in range(8):
        for j in range(8):
            assert Fraction(float(stored[i, j])) == sum(frac[i][t] * s[t] * frac_v[j][t] for t in range(8))


def test_factors_are_exactly_orthogonal_dyadic_where_both_sides_are_at_least_4():
    for shape in ((4, 4), (6, 9), (16, 5)):
        f = fam.synthetic_factors(shape, seed=3)
        assert f.kind == "dyadic"
        for q in (f.u, f.v):
            assert np.array_equal(q.T @ q, np.eye(q.shape[1]))  # exact: dyadic entries, no rounding
    assert fam.synthetic_factors((3, 8), 0).kind == "qr"


def test_nominal_points_reach_exact_zero_and_scale_spans_2_to_the_100():
    gap = fam.log_points(16, "float64")
    assert gap[0] == pytest.approx(0.1) and gap[-2] == pytest.approx(1e-15) and gap[-1] == 0.0
    assert fam.log_points(8, "float32")[-1] == 0.0
    scale = fam.doubling_points(5)
    assert scale == [2.0**-100, 2.0**-50, 1.0, 2.0**50, 2.0**100]


def test_every_vary_choice_is_a_sweep_parameter_of_that_name():
    assert tuple(SWEEP_PARAMETERS) == VARY_CHOICES
    assert all(parameter.name == name for name, parameter in SWEEP_PARAMETERS.items())


def test_from_a_file_moves_its_smallest_values_and_keeps_its_vectors():
    made = family("zero", at=3, source=SEED, dtype="auto")
    assert made.dtype == "float32" and made.shape == (5, 5) and made.factors.kind == "svd"
    assert made.original is not None and made.original <= made.zero_level  # the seed is rank 2
    first, last = made.members[0], made.members[-1]
    assert first.values[2] == pytest.approx(0.1 * first.values[0], rel=1e-2)
    assert np.all(last.values[2:] == 0)
    assert SWEEP_PARAMETERS["zero"].default_at(made.base, made.zero_level) == 3  # its first zero value


def test_every_point_is_what_check_says_of_its_matrix(tmp_path):
    report = sweep("gap", at=2, points=5, shape="6x6", loss="polar", backends=["autograd"])
    saved = tmp_path / "points"
    files = save_matrices(report.family, saved)
    together = check_paths([str(saved)], Settings(loss="polar", backends=("autograd",)))
    assert len(together.results) == len(report.points) == 5
    for point, checked, path in zip(report.points, together.results, files, strict=True):
        alone = check_paths([path], Settings(loss="polar", backends=("autograd",))).results[0]
        for other in (checked, alone):
            assert point.report.verdict == other.verdict
            (a,), (b,) = point.report.backends, other.backends
            assert (a.verdict, a.error, a.budget, a.digits) == (b.verdict, b.error, b.budget, b.digits)


def test_the_seed_post_as_a_curve_correct_far_from_zero_non_unique_at_zero(runner):
    result = runner.invoke(cli, ["sweep", "--from", SEED, "--vary", "zero", "--at", "3", "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    points = doc["points"]
    assert len(points) == 16 and doc["sweep"]["at"] == 3 and doc["sweep"]["construction"] == "svd"
    first, last = points[0]["result"], points[-1]["result"]
    assert first["verdict"] == "agree"
    assert {b["verdict"] for b in first["backends"].values()} == {"correct"}
    assert last["verdict"] == "non-unique"
    assert {b["verdict"] for b in last["backends"].values()} == {"valid"}
    assert max(p["relative"] for p in last["pairs"]) > 0.1  # valid, and different
    assert max(p["relative"] for p in first["pairs"]) < 1e-4  # correct, and the same


def test_polar_at_a_closing_gap_tensorflow_biased_the_others_fail_at_the_tie():
    report = sweep("gap", at=2, points=16, shape="6x6", loss="polar")
    at = {p.member.requested: {b.name: b.verdict for b in p.report.backends} for p in report.points}
    tie, far = at[0.0], at[report.points[0].member.requested]
    assert set(far.values()) == {"correct"}
    assert tie["tensorflow"] == "wrong"  # finite, biased by its safe reciprocal
    # at the exact tie the true gradient is finite; 1/(s_i - s_j) makes NaN, or garbage where the
    # computed singular values split by rounding (numpy 2.4 and jax 0.10 split them, older ones did not)
    assert {tie["autograd"], tie["torch"], tie["jax"]} <= {"non-finite", "wrong"}
    # the bias region: tensorflow wrong while the others are still at least inaccurate, not wrong
    region = [v for v in at.values() if v["tensorflow"] == "wrong" and v["autograd"] != "wrong"]
    assert region


def test_terminal_picture_fits_80_columns_with_a_row_per_backend(runner):
    args = ["sweep", "--shape", "5x5", "--points", "6", "-b", "autograd", "-b", "torch", "--loss", "polar"]
    result = runner.invoke(cli, args, env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert result.exit_code in (0, 1), result.output
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in result.stdout
    assert sum(bool(PICTURE_ROW.match(line)) for line in lines) == 1
    assert sum(bool(re.match(r"torch +[cviW?N-][ 0-9∞]{2} ", line)) for line in lines) == 1
    assert any(line.startswith("matrix ") for line in lines)
    assert " c " in result.stdout and "correct" in result.stdout  # the legend
    summary = result.stdout[result.stdout.rindex("svdgrad: ") :]  # folded at 80 columns where long
    assert summary.startswith("svdgrad: 6 matrices checked") and summary.rstrip().endswith(
        f"exit code {result.exit_code}"
    )


def test_many_points_wrap_into_blocks_with_each_heading_over_its_own_column(runner):
    args = ["sweep", "--points", "30", "-b", "autograd", "-b", "torch", "--shape", "4x4"]
    result = runner.invoke(cli, args, env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert sum(bool(PICTURE_ROW.match(line)) for line in lines) == 2  # 30 cells: two blocks
    assert all(len(line) <= 80 for line in lines)
    assert all(re.match(r"log10 diff +-?[\d∞]+ ", line) for line in lines if line.startswith("log10 diff "))
    # -log10 x = 1, 1.5, ..., 15 and then x = 0; the second block starts at 9.5. Rounded to fit three
    # characters, 10.5 would read 10 (and 11.5 read 12): each integer heads its own column only.
    header = [line for line in lines if line.startswith("-log10 x")][1]
    width = len("log10 diff") + 2  # the label column
    cells = [header[i : i + 4].strip() for i in range(width, len(header), 4)]
    assert cells == ["9.5", "10", "", "11", "", "12", "", "13", "", "14", "", "15", "∞"]


def test_jsonl_streams_a_line_per_point_then_a_summary(runner):
    args = ["sweep", "--vary", "scale", "--points", "3", "-b", "autograd", "-f", "jsonl", "--shape", "4x6"]
    result = runner.invoke(cli, args)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["point"] * 3 + ["summary"]
    assert [p["scale_exponent"] for p in lines[:3]] == [-100, 0, 100]
    assert all(p["realised_method"] == "exact" and p["realised"] == p["requested"] for p in lines[:3])
    assert lines[-1]["sweep"]["vary"] == "scale" and lines[-1]["exit_code"] == 0


def test_output_file_gets_json_while_the_terminal_gets_the_picture(runner, tmp_path):
    out = tmp_path / "sweep.json"
    args = ["sweep", "--points", "3", "-b", "autograd", "-o", str(out), "--shape", "4x4"]
    result = runner.invoke(cli, args)
    assert "matrix " in result.stdout
    doc = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(name))
    assert doc["schema"] == "svdgrad-sweep/1" and len(doc["points"]) == 3
    assert set(doc["points"][0]["result"]) >= {"verdict", "backends", "reference", "singular_values"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "8"], "--shape must be MxN"),
        (["--vary", "gap", "--at", "9"], "--at 9: K must be 1 to 7"),
        (["--vary", "scale", "--at", "2"], "--at has no meaning"),
        (["--from", "missing.npy"], "--from missing.npy"),
        (["--from", "sample_matrices/orthogonal_and_near_tie.npz"], "holds 2 matrices"),
        (["--plot", "picture.pdf"], "must end in .png or .svg"),
        (["--loss", "nope"], "unknown loss"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(runner, args, message):
    result = runner.invoke(cli, ["sweep", "-b", "autograd", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_exit_codes_follow_fail_on(runner):
    args = ["sweep", "--loss", "polar", "--shape", "6x6", "--at", "2", "--points", "3", "-b", "torch", "-q"]
    assert runner.invoke(cli, args).exit_code == 1  # non-finite at the tie
    assert runner.invoke(cli, [*args, "--fail-only-on", "never"]).exit_code == 0


def test_ctrl_c_ends_the_sweep_with_130_and_says_so(runner):
    def interrupted(stack, loss):
        raise KeyboardInterrupt

    register_backend("ctrl-c", interrupted)
    try:
        args = ["sweep", "-b", "ctrl-c", "--points", "3", "-f", "jsonl", "--shape", "4x4"]
        result = runner.invoke(cli, args)
    finally:
        unregister_backend("ctrl-c")
    assert result.exit_code == 130
    assert json.loads(result.stdout.splitlines()[-1])["interrupted"] is True


def test_jobs_give_the_same_points(runner):
    args = ["sweep", "--points", "10", "-b", "autograd", "--shape", "4x4", "-f", "json"]
    one = json.loads(runner.invoke(cli, args).stdout)
    two = json.loads(runner.invoke(cli, [*args, "--jobs", "2"]).stdout)
    strip = [(p["requested"], p["result"]["verdict"], p["result"]["backends"]) for p in one["points"]]
    assert strip == [(p["requested"], p["result"]["verdict"], p["result"]["backends"]) for p in two["points"]]


def test_saved_matrices_are_the_points(runner, tmp_path):
    folder = tmp_path / "m"
    args = ["sweep", "--points", "3", "-b", "autograd", "--shape", "4x4", "--save-matrices", str(folder)]
    result = runner.invoke(cli, [*args, "-f", "json"])
    doc = json.loads(result.stdout)
    for point in doc["points"]:
        assert np.load(point["file"]).shape == (4, 4)


# The command in a child process that records every file it opens for writing and every directory it
# makes (Python's audit hooks, PEP 578), so that a temporary file removed again is seen too; its
# temporary files must go into $TMPDIR (tempfile's fallbacks, /tmp among them, are cut off).
RECORDING = """
import atexit, json, os, sys, tempfile
written = set()
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT

def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode, flags = args
        if (mode and set(mode) & set("wax+")) or (mode is None and flags & WRITE):
            written.add(os.path.abspath(os.fsdecode(path)))
    elif event == "os.mkdir" and not os.path.exists(args[0]):  # made, not found (makedirs' exist_ok)
        written.add(os.path.abspath(os.fsdecode(args[0])))

atexit.register(lambda: sys.stderr.write("\\nWRITTEN " + json.dumps(sorted(written)) + "\\n"))
tempfile.tempdir = os.environ["TMPDIR"]
sys.addaudithook(hook)
from svdgrad_cli.cli import main
sys.argv = ["svdgrad", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("tmpdir_kind", ["empty", "read-only", "missing"])
def test_a_sweep_writes_no_file_but_its_plot_and_report(tmp_path, tmpdir_kind):
    pytest.importorskip("matplotlib")
    scratch, work = tmp_path / "tmp", tmp_path / "work"
    work.mkdir()
    if tmpdir_kind != "missing":
        scratch.mkdir()
    if tmpdir_kind == "read-only":
        scratch.chmod(0o555)
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(Path(__file__).parent.parent)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    args = ["sweep", "--shape", "4x4", "--points", "3", "-b", "autograd", "-o", "out.json", "--plot", "s.png"]
    done = subprocess.run(
        [sys.executable, "-c", RECORDING, *args], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stderr.rsplit("WRITTEN ", 1)[1])
    targets = {str(work / "out.json"), str(work / "s.png")}
    beside = re.compile(re.escape(str(work / ".out.json.")) + r"[0-9a-f]+\.tmp")  # -o's, renamed onto it
    assert [path for path in written if path not in targets and not beside.fullmatch(path)] == []
    assert sorted(p.name for p in work.iterdir()) == ["out.json", "s.png"]
    assert json.loads((work / "out.json").read_text())["schema"] == "svdgrad-sweep/1"
    assert not scratch.exists() if tmpdir_kind == "missing" else list(scratch.iterdir()) == []


def test_worker_processes_build_and_check_the_same_points_as_this_process():
    from svdgrad_cli.pipeline.parallel import parallel_array_reports
    from svdgrad_cli.pipeline.plan import RunPlan
    from svdgrad_cli.pipeline.stream import check_arrays
    from svdgrad_cli.pipeline.sweep import FamilyArrays

    made = family("gap", (5, 5), at=2, points=5)
    plan = RunPlan(resolve_settings(Settings(backends=("autograd",))), keep_arrays=False)
    arrays = FamilyArrays(made)
    here = list(check_arrays(arrays, range(len(arrays)), plan))
    there = list(parallel_array_reports(arrays, plan, 2))
    assert [r.source for r in there] == [made.label(m) for m in made.members]
    for a, b in zip(here, there, strict=True):
        assert (a.verdict, a.backends[0].error, a.backends[0].digits) == (
            b.verdict,
            b.backends[0].error,
            b.backends[0].digits,
        )
