"""The command line through CliRunner: verdicts, exit codes, the JSON contract, start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import with_singular_values

from svdgrad_cli import register_backend, unregister_backend
from svdgrad_cli.cli import cli


def strict_json(text: str) -> dict:
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def run_json(runner, args):
    result = runner.invoke(cli, ["check", "--format", "json", *args])
    return result, strict_json(result.stdout)


def test_every_command_has_help(runner):
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help


def test_help_documents_the_exit_codes(runner):
    result = runner.invoke(cli, ["check", "--help"])
    assert "Exit codes" in result.output
    for line in ("0  every matrix checked", "1  findings", "2  usage error"):
        assert line in result.output


@pytest.mark.parametrize("argv", [["--help"], ["backends", "--help"], ["check", "--help"], ["backends"]])
def test_start_up_imports_no_framework(argv):
    code = (
        "import sys; from svdgrad_cli.cli import cli\n"
        f"try:\n    cli.main({argv!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'torch', 'jax', 'autograd') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "HEAVY="


def test_seed_full_rank_agrees_exit_0(runner, seed_files):
    _, full = seed_files
    result, doc = run_json(runner, [str(full)])
    assert result.exit_code == 0
    (entry,) = doc["results"]
    assert entry["verdict"] == "agree"
    assert entry["index"] == []  # a stack of one is the matrix itself
    assert entry["shape"] == [5, 5]
    assert entry["dtype"] == "float32"
    assert {b["verdict"] for b in entry["backends"].values()} == {"correct"}
    assert doc["exit_code"] == 0


def test_seed_rank2_is_non_unique_exit_0_unless_failed_on(runner, seed_files):
    rank2, _ = seed_files
    result, doc = run_json(runner, [str(rank2)])
    assert result.exit_code == 0
    entry = doc["results"][0]
    assert entry["verdict"] == "non-unique"
    assert entry["reference"]["unique"] is False
    assert entry["reference"]["rank"] == 2
    assert entry["max_abs_diff"] > 0.1
    assert [w["indices"] for w in entry["warnings"] if w["code"] == "near-zero"] == [[3, 4, 5]]
    strict = runner.invoke(cli, ["check", str(rank2), "--fail-on", "non-unique"])
    assert strict.exit_code == 1


def test_json_schema_fields(runner, seed_files):
    _result, doc = run_json(runner, [*map(str, seed_files), "--include-arrays"])
    assert doc["schema"] == "svdgrad/1"
    assert set(doc) >= {"schema", "version", "settings", "results", "summary", "exit_code"}
    assert set(doc["settings"]) >= {"loss", "dtype", "backends", "rtol", "atol"}
    for entry in doc["results"]:
        assert set(entry) >= {
            "source", "index", "shape", "dtype", "status", "error", "verdict", "singular_values",
            "gradients", "max_abs_diff", "warnings", "backends", "reference", "reference_gradient",
        }  # fmt: skip
        for backend in entry["backends"].values():
            assert set(backend) >= {"status", "message", "verdict", "error", "budget"}
        assert np.array(entry["gradients"]["autograd"]).shape == (5, 5)
    assert doc["summary"] == {
        "matrices": 2, "errors": 0, "skipped": 0, "unmatched_select": [], "warnings": {"near-zero": 1},
        "verdicts": {
            "agree": 1,
            "non-unique": 1,
            "undefined": 0,
            "indeterminate": 0,
            "unsupported": 0,
            "inaccurate": 0,
            "error": 0,
            "non-finite": 0,
            "wrong": 0,
        },
    }  # fmt: skip


def test_repeated_singular_value_warns_but_agrees(runner, tmp_path):
    path = tmp_path / "diag.csv"
    path.write_text("1,0,0,0\n0,1,0,0\n0,0,2,0\n0,0,0,3\n")
    result, doc = run_json(runner, [str(path)])
    entry = doc["results"][0]
    assert entry["verdict"] == "agree"
    assert [w["indices"] for w in entry["warnings"] if w["code"] == "near-duplicate"] == [[3, 4]]
    assert result.exit_code == 0


def test_repeated_kth_value_is_never_correct_nor_wrong(runner, tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, with_singular_values([3, 2, 2, 1], (4, 4), seed=1))
    _result, doc = run_json(runner, [str(path), "--loss", "sv:2"])
    verdicts = {b["verdict"] for b in doc["results"][0]["backends"].values()}
    assert verdicts <= {"valid", "undefined"}
    assert doc["results"][0]["verdict"] in ("non-unique", "undefined")


@pytest.fixture
def broken_backends():
    def doubled(stack, loss):
        u, s, vt = np.linalg.svd(stack, full_matrices=False)
        return s, 2 * (u * loss.weights(s.shape[-1])[..., None, :]) @ vt

    def flipped(stack, loss):
        u, s, vt = np.linalg.svd(stack, full_matrices=False)
        u[..., :, -1] *= -1
        return s, (u * loss.weights(s.shape[-1])[..., None, :]) @ vt

    def nan(stack, loss):
        return np.linalg.svd(stack, compute_uv=False), np.full(stack.shape, np.nan)

    def raising(stack, loss):
        raise RuntimeError("no SVD today")

    for name, fn in [("doubled", doubled), ("flipped", flipped), ("nan", nan), ("raising", raising)]:
        register_backend(name, fn, version="0-test")
    yield
    for name in ("doubled", "flipped", "nan", "raising"):
        unregister_backend(name)


@pytest.mark.parametrize(
    ("backend", "verdict", "exit_code"),
    [("doubled", "wrong", 1), ("flipped", "wrong", 1), ("nan", "non-finite", 1), ("raising", "failed", 2)],
)
def test_injected_broken_backends_are_caught(
    runner, seed_files, broken_backends, backend, verdict, exit_code
):
    _, full = seed_files
    result, doc = run_json(runner, [str(full), "--backend", "autograd", "--backend", backend])
    judged = doc["results"][0]["backends"]
    assert judged["autograd"]["verdict"] == "correct"
    assert judged[backend]["verdict"] == verdict
    assert result.exit_code == exit_code
    if verdict == "wrong":
        assert judged[backend]["error"] > 10 * judged[backend]["budget"]
    if verdict == "failed":
        assert "no SVD today" in judged[backend]["message"]


def test_a_broken_backend_is_wrong_even_where_the_gradient_is_not_unique(runner, seed_files, broken_backends):
    rank2, _ = seed_files
    result, doc = run_json(runner, [str(rank2), "--backend", "doubled"])
    assert doc["results"][0]["backends"]["doubled"]["verdict"] == "wrong"
    assert result.exit_code == 1


def test_input_error_is_one_line_exit_2(runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,x\n")
    result = runner.invoke(cli, ["check", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}: row 2, column 2" in result.stderr


def test_directory_with_a_bad_file_still_checks_the_others(runner, tmp_path, seed_files):
    (tmp_path / "zz_bad.txt").write_text("1 2\n3\n")
    result, doc = run_json(runner, [str(tmp_path)])
    assert result.exit_code == 2
    statuses = [(r["source"].rsplit("/", 1)[-1], r["status"]) for r in doc["results"]]
    assert statuses == [
        ("seed_full_rank.npy", "checked"),
        ("seed_rank2.npy", "checked"),
        ("zz_bad.txt", "error"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss", "median"], "unknown loss"),
        (["--loss", "sv:0"], "K must be a whole number"),
        (["--backend", "nosuch"], "unknown backend"),
        (["--rtol", "-1"], "--rtol must be a finite number >= 0"),
        (["--budget-factor", "inf"], "--budget-factor must be a finite number > 0"),
    ],
)
def test_usage_errors_exit_2(runner, seed_files, args, message):
    result = runner.invoke(cli, ["check", str(seed_files[1]), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_loss_larger_than_the_matrix_is_an_error_row(runner, seed_files):
    result, doc = run_json(runner, [str(seed_files[1]), "--loss", "sv:6"])
    assert result.exit_code == 2
    assert "needs at least 6 singular values" in doc["results"][0]["error"]


def test_table_output_without_a_terminal_has_no_colour_codes(runner, seed_files):
    result = runner.invoke(cli, ["check", *map(str, seed_files), "--show-reference", "--show-gradients"])
    assert "\x1b[" not in result.stdout
    assert "NON-UNIQUE" in result.stdout and "AGREE" in result.stdout
    assert "minimum-norm subgradient (norm 1.414)" in result.stdout


def test_end_to_end_run_prints_no_tensorflow_log_lines(seed_files):
    out = subprocess.run(
        [sys.executable, "-m", "svdgrad_cli", "check", str(seed_files[1]), "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0
    assert out.stderr == ""
    assert strict_json(out.stdout)["results"][0]["backends"]["tensorflow"]["verdict"] == "correct"


def test_colour_on_a_forced_terminal_and_none_with_no_color(runner, seed_files):
    args = ["check", str(seed_files[0]), "-b", "autograd"]
    coloured = runner.invoke(cli, args, env={"FORCE_COLOR": "1", "NO_COLOR": None})
    plain = runner.invoke(cli, args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[33m" in coloured.stdout  # yellow: the non-unique verdict
    assert "\x1b[33m" not in plain.stdout
    assert "NON-UNIQUE" in plain.stdout


def test_a_zero_budget_gives_an_infinite_multiple_not_a_crash(runner, seed_files):
    result, doc = run_json(runner, [str(seed_files[1]), "-b", "tensorflow", "--rtol", "0", "--atol", "0"])
    backend = doc["results"][0]["backends"]["tensorflow"]
    assert backend["budget"] == 0.0
    # float32 rounding is over a zero budget, but within sqrt(eps): digits lost, not a wrong answer
    assert backend["verdict"] == "inaccurate"
    assert backend["budget_multiple"] is None  # inf, written as null
    assert result.exit_code == 0
    failing, _ = run_json(runner, [str(seed_files[1]), "-b", "tensorflow", "--rtol", "0", "--atol", "0",
                                   "--fail-on", "inaccurate"])  # fmt: skip
    assert failing.exit_code == 1


def test_a_backend_returning_the_wrong_shape_is_failed(runner, tmp_path):
    path = tmp_path / "r.npy"
    np.save(path, np.random.default_rng(0).standard_normal((4, 3)))
    register_backend("transposed", lambda stack, loss: (
        np.linalg.svd(stack, compute_uv=False), np.swapaxes(stack, -1, -2)))  # fmt: skip
    try:
        result, doc = run_json(runner, [str(path), "-b", "autograd", "-b", "transposed"])
    finally:
        unregister_backend("transposed")
    backend = doc["results"][0]["backends"]["transposed"]
    assert backend["verdict"] == "failed"
    assert "gradients of shape (1, 3, 4)" in backend["message"]
    assert result.exit_code == 2
