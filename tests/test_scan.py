"""``svdgrad scan``: the screen lists exactly the matrices whose spectrum puts the loss at risk.

Matrices are A = H16 diag(s) V16^T with exactly orthogonal dyadic factors (H16 = kron of four H2,
over 4; V16 a signed permutation of it), stored in float32 without rounding, so the planted spectra
(ties, zeros, a near tie) are A's own. What is at risk is written out by hand from the mathematics
(Lewis 1995; Lewis and Sendov 2005: sum_i w_i s_i is differentiable iff w is constant on ties and 0
on zeros; proj:K iff s_K > s_K+1; polar iff full rank; uv never, its pairs' signs being free).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import numpy as np
import pytest
from click.testing import CliRunner

from svdgrad_cli.cli import cli
from svdgrad_cli.scan_session import select_pattern

safetensors_numpy = pytest.importorskip("safetensors.numpy")

H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H16 = np.kron(np.kron(H2, H2), np.kron(H2, H2)) / 4
SIGNED = np.eye(16)[np.random.default_rng(3).permutation(16)] * np.where(np.arange(16) % 3, 1.0, -1.0)
V16 = SIGNED @ H16
DISTINCT = np.arange(16.0, 0.0, -1.0)  # 16, 15, ..., 1: every gap 1/16 of s_1


def planted(s) -> np.ndarray:
    a = (H16 * np.asarray(s, dtype=np.float64)) @ V16.T
    assert np.array_equal(a.astype(np.float32).astype(np.float64), a)  # exact in float32
    return a.astype(np.float32)


def spectrum(**changes) -> np.ndarray:
    s = DISTINCT.copy()
    for index, value in changes.items():
        s[int(index.removeprefix("s")) - 1] = value
    return s


SPECTRA = {
    "clean": DISTINCT,
    "rank14": spectrum(s15=0.0, s16=0.0),
    "tie12": spectrum(s1=15.0),  # s_1 = s_2 = 15
    "tie34": spectrum(s3=13.0, s4=13.0),
    "near34": spectrum(s3=13.0 + 2.0**-10, s4=13.0),  # gap 2^-10 = 6e-5 s_1: above a float32 tie
    "zero": np.zeros(16),
}
# loss -> the matrices at risk, from the rules in the module docstring
AT_RISK = {
    "sum": {"rank14", "zero"},
    "sv:1": {"tie12", "zero"},
    "sv:3": {"tie34", "near34", "zero"},
    "sv:4": {"tie34", "near34", "zero"},
    "topk:2": {"zero"},  # s_1 = s_2 lies inside the top 2; the zeros weigh nothing
    "topk:3": {"tie34", "near34", "zero"},
    "proj:1": {"tie12", "zero"},
    "proj:3": {"tie34", "near34", "zero"},
    "polar": {"rank14", "zero"},
    "recon": {"zero"},
    "uv": set(SPECTRA),
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "model.safetensors"
    tensors = {name: planted(s) for name, s in SPECTRA.items()}
    tensors["bias"] = np.ones(16, dtype=np.float32)  # passed over, never screened
    safetensors_numpy.save_file(tensors, str(path))
    return path


def scan(*args):
    return CliRunner().invoke(cli, ["scan", *map(str, args)])


def screens(result) -> dict[str, str]:
    doc = json.loads(result.stdout)
    return {r["label"].rsplit(":", 1)[1]: r["screen"] for r in doc["results"]}


@pytest.mark.parametrize("loss", sorted(AT_RISK))
def test_the_report_lists_exactly_the_matrices_at_risk(checkpoint, loss):
    result = scan(checkpoint, "--loss", loss, "-f", "json")
    found = screens(result)
    assert set(found) == set(SPECTRA)
    assert {name for name, screen in found.items() if screen == "at-risk"} == AT_RISK[loss]
    assert {name for name, screen in found.items() if screen == "clear-spectrum"} == set(SPECTRA) - AT_RISK[
        loss
    ]
    assert result.exit_code == 1  # the zero matrix is at risk for every loss


def test_a_screen_is_never_reported_as_checked_or_correct(checkpoint, tmp_path):
    table = scan(checkpoint, "--loss", "sv:3", "-o", tmp_path / "scan.json")
    doc = json.loads((tmp_path / "scan.json").read_text())
    assert doc["checked"] is False and all(r["checked"] is False for r in doc["results"])
    assert {r["screen"] for r in doc["results"]} == {"at-risk", "clear-spectrum"}
    for text in (table.stdout, (tmp_path / "scan.json").read_text()):
        assert "correct" not in text and "agree" not in text
    assert "no gradient was checked" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines() if "model.safetensors" not in line)


def test_exit_codes_clear_at_risk_and_bad_input(tmp_path):
    clean = tmp_path / "clean.npy"
    np.save(clean, planted(DISTINCT))
    assert scan(clean).exit_code == 0
    np.save(tmp_path / "tied.npy", planted(SPECTRA["tie12"]))
    assert scan(tmp_path, "--loss", "sv:1").exit_code == 1
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    result = scan(tmp_path, "--loss", "sv:1", "-f", "json")
    assert result.exit_code == 2 and "bad.npy" in result.stderr
    assert sorted(screens_by_file(result).values()) == ["at-risk", "clear-spectrum", "error"]
    assert scan(clean, "-f", "junit").exit_code == 2  # scan's own report is table or json


def screens_by_file(result) -> dict[str, str]:
    return {r["label"]: r["screen"] for r in json.loads(result.stdout)["results"]}


def test_then_check_checks_the_matrices_at_risk_only(checkpoint):
    result = scan(checkpoint, "--loss", "sv:3", "--then-check", "-b", "autograd", "-f", "json")
    doc = json.loads(result.stdout)
    checked = {r["source"].rsplit(":", 1)[1] for r in doc["results"]}
    assert checked == AT_RISK["sv:3"]
    assert "checking the 3 at risk" in result.stderr


def test_the_names_written_select_the_matrices_at_risk(checkpoint, tmp_path):
    names = tmp_path / "at_risk.txt"
    assert scan(checkpoint, "--loss", "proj:1", "--write-select", names).exit_code == 1
    assert set(names.read_text().split()) == AT_RISK["proj:1"]
    select = [arg for name in names.read_text().split() for arg in ("--select", name)]
    result = CliRunner().invoke(
        cli, ["check", str(checkpoint), "--loss", "proj:1", "-b", "autograd", "-f", "json", *select]
    )
    assert {r["source"].rsplit(":", 1)[1] for r in json.loads(result.stdout)["results"]} == AT_RISK["proj:1"]


def test_a_tensor_name_with_fnmatch_characters_is_selected_literally(tmp_path):
    for name in ("layer[0].w", "a*b", "q?k", "plain.weight"):
        assert fnmatchcase(name, select_pattern(name))
    assert not fnmatchcase("layer0.w", select_pattern("layer[0].w"))


@pytest.mark.parametrize("loss", ["sum", "sv:3", "topk:3"])
def test_the_screens_warnings_are_the_full_checks_for_a_loss_of_s(checkpoint, loss):
    """One definition: for a loss of s the spectrum decides every warning of the check about it."""
    screened = json.loads(scan(checkpoint, "--loss", loss, "-f", "json").stdout)["results"]
    checked = CliRunner().invoke(
        cli, ["check", str(checkpoint), "--loss", loss, "-b", "autograd", "-f", "json"]
    )
    from_check = {
        (r["source"], w["code"], w["message"])
        for r in json.loads(checked.stdout)["results"]
        for w in r["warnings"]
        if w["code"] in ("near-zero", "near-duplicate", "ill-conditioned")
    }
    assert {(r["source"], f["code"], f["message"]) for r in screened for f in r["findings"]} == from_check


def test_hostile_tensor_names_are_escaped_in_the_table_and_kept_in_json(tmp_path):
    path = tmp_path / "hostile.safetensors"
    name = "evil\x1b[31m\u202eweight"
    safetensors_numpy.save_file({name: planted(SPECTRA["rank14"])}, str(path))
    table = scan(path)
    assert table.exit_code == 1 and "\x1b" not in table.stdout and "\u202e" not in table.stdout
    assert [r["label"] for r in json.loads(scan(path, "-f", "json").stdout)["results"]] == [f"{path}:{name}"]


def test_then_check_exits_2_where_the_screen_met_an_input_error(tmp_path):
    np.save(tmp_path / "tied.npy", planted(SPECTRA["tie12"]))
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    result = scan(tmp_path, "--loss", "sv:1", "--then-check", "-b", "autograd", "-f", "json")
    assert result.exit_code == 2 and "bad.npy" in result.stderr
    assert [r["source"] for r in json.loads(result.stdout)["results"]] == [str(tmp_path / "tied.npy")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--plan-shards", "2"], "--plan-shards N and --write-plan FILE go together"),
        (["--loss", "sv:0"], "K must be a whole number"),
        (["--zero-tol", "-1"], "--zero-tol must be a finite number >= 0"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path, args, message):
    np.save(tmp_path / "a.npy", planted(DISTINCT))
    result = scan(tmp_path / "a.npy", *args)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_then_check_with_nothing_at_risk_still_writes_the_checks_report(tmp_path):
    """The -o file a CI step reads exists, says 0 checked, and no stale report is left in its place."""
    np.save(tmp_path / "distinct.npy", planted(DISTINCT))
    report = tmp_path / "report.xml"
    result = scan(tmp_path / "distinct.npy", "--then-check", "-b", "autograd", "-f", "junit", "-o", report)
    assert result.exit_code == 0 and "checking the 0 at risk" in result.stderr
    assert '<testsuites tests="0"' in report.read_text()
