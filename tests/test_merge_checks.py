"""``svdgrad merge`` refuses shard files that were edited (issue 21, item 17): each shard's result lines
must add up to its summary line and be the lines it wrote, the merged places in the run must be
unique, and statuses and verdicts must be svdgrad's. Each refusal is exit 2 and one line naming the
file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from svdgrad_cli import register_backend, unregister_backend
from svdgrad_cli.cli import cli
from svdgrad_cli.inputs.parts import ShardInfo
from svdgrad_cli.render.jsonl import LineDigest

MATRICES = 9


def half_wrong(stack, loss):
    """The gradient of the sum of singular values, right for even s_1 and zero (wrong) for odd."""
    u, s, vh = np.linalg.svd(stack, full_matrices=False)
    gradient = u @ vh
    gradient[s[..., 0] % 2 == 1] = 0.0
    return s, gradient


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> list[Path]:
    """The three shards' jsonl reports of a run over nine matrices, some of them wrong."""
    folder = tmp_path_factory.mktemp("merge")
    for i in range(MATRICES):
        np.save(folder / f"m{i}.npy", np.diag([float(i + 3), 2.0, 1.0]))
    register_backend("half-wrong", half_wrong)
    try:
        out = []
        for k in (1, 2, 3):
            path = folder / f"part{k}.jsonl"
            args = [
                "check",
                str(folder),
                "-b",
                "half-wrong",
                "--shard",
                f"{k}/3",
                "-f",
                "jsonl",
                "-o",
                str(path),
            ]
            assert CliRunner().invoke(cli, args).exit_code == 1
            out.append(path)
    finally:
        unregister_backend("half-wrong")
    return out


def merge(*paths):
    return CliRunner().invoke(cli, ["merge", *map(str, paths), "-f", "json"])


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, allow_nan=False) + "\n" for r in records))
    return path


def first_backend(record: dict) -> dict:
    return next(iter(record["backends"].values()))


def refused(result, path: Path, message: str) -> None:
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"svdgrad: error: {path}: ") and result.stderr.count("\n") == 1
    assert message in result.stderr, result.stderr


def test_the_shards_merge_into_the_nine_matrices_of_the_plan(parts):
    result = merge(*parts)
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and doc["summary"]["matrices"] == MATRICES
    assert doc["summary"]["verdicts"]["wrong"] == 5  # s_1 = 3, 5, 7, 9, 11
    assert all(lines(p)[-1]["exit_code"] == 1 for p in parts)


def test_a_deleted_failing_line_is_refused(parts, tmp_path):
    *results, summary = lines(parts[1])
    failing = next(i for i, r in enumerate(results) if r["verdict"] == "wrong")
    edited = write(tmp_path / "part2.jsonl", [*results[:failing], *results[failing + 1 :], summary])
    refused(merge(parts[0], edited, parts[2]), edited, "do not add up to its summary line (matrices: ")


def test_a_duplicated_line_is_refused(parts, tmp_path):
    *results, summary = lines(parts[1])
    edited = write(tmp_path / "part2.jsonl", [*results, results[0], summary])
    refused(merge(parts[0], edited, parts[2]), edited, "do not add up to its summary line")


def test_a_line_from_another_shard_is_refused(parts, tmp_path):
    *results, summary = lines(parts[1])
    stranger = lines(parts[0])[0]
    edited = write(tmp_path / "part2.jsonl", [*results, stranger, summary])
    refused(merge(parts[0], edited, parts[2]), edited, "do not add up to its summary line")


def test_a_line_swapped_for_another_shards_with_the_counts_kept_is_refused(parts, tmp_path):
    """The counts still add up: the digest of the lines the shard wrote does not."""
    *results, summary = lines(parts[1])
    stranger = next(r for r in lines(parts[0])[:-1] if r["verdict"] == results[0]["verdict"])
    edited = write(tmp_path / "part2.jsonl", [stranger, *results[1:], summary])
    refused(merge(parts[0], edited, parts[2]), edited, "are not the ones shard 2/3 wrote")


def test_an_edit_that_fixes_the_summary_too_is_refused(parts, tmp_path):
    *results, summary = lines(parts[1])
    kept = [r for r in results if r["verdict"] != "wrong"]
    assert len(kept) < len(results)
    summary["summary"]["matrices"] = len(kept)
    summary["summary"]["verdicts"]["wrong"] = 0
    summary["exit_code"] = 0
    edited = write(tmp_path / "part2.jsonl", [*kept, summary])
    refused(merge(parts[0], edited, parts[2]), edited, "are not the ones shard 2/3 wrote")


def test_a_shard_copied_and_relabelled_is_refused(parts, tmp_path):
    *results, summary = lines(parts[0])
    summary["shard"]["index"], summary["settings"]["shard"] = 3, "3/3"
    copy = write(tmp_path / "part3.jsonl", [*results, summary])
    refused(merge(parts[0], parts[1], copy), copy, "are not the ones shard 3/3 wrote")


def test_a_relabelled_copy_with_its_digest_forged_is_refused_by_its_places(parts, tmp_path):
    *results, summary = lines(parts[0])
    digest = LineDigest()
    for line in parts[0].read_text().splitlines()[:-1]:
        digest.update(line)
    summary["shard"]["index"], summary["settings"]["shard"] = 3, "3/3"
    summary["shard"]["lines"] = digest.hexdigest(ShardInfo(3, 3, summary["shard"]["plan"]))
    copy = write(tmp_path / "part3.jsonl", [*results, summary])
    refused(merge(parts[0], parts[1], copy), copy, f"holds already (position {results[0]['position']})")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(status="weird"), "status 'weird' is none of checked, error"),
        (lambda r: r.update(verdict="fine"), "'fine' is not a valid MatrixVerdict"),
        (lambda r: next(iter(r["backends"].values())).update(status="great"), "status 'great' is none of ok"),
        (
            lambda r: next(iter(r["backends"].values())).update(verdict="ok"),
            "'ok' is not a valid BackendVerdict",
        ),
    ],
)
def test_an_unknown_status_or_verdict_is_refused(parts, tmp_path, edit, message):
    records = lines(parts[1])
    edit(records[0])
    edited = write(tmp_path / "part2.jsonl", records)
    refused(merge(parts[0], edited, parts[2]), edited, f"line 1 is not a valid result (ValueError: {message}")


def test_an_unsharded_report_must_add_up_too(parts, tmp_path):
    *results, summary = lines(parts[0])
    summary.pop("shard")
    summary["settings"]["shard"] = None
    whole = write(tmp_path / "run.jsonl", [*results, summary])
    assert merge(whole).exit_code == 1
    edited = write(tmp_path / "edited.jsonl", [*results[1:], summary])
    refused(merge(edited), edited, "do not add up to its summary line")
