"""--select, --skip, --shard K/N, --plan and ``svdgrad merge`` for the checks outside the SVD pipeline:
``--decomposition eigh`` and ``--mode jvp`` (checked_session.py, render/checked_jsonl.py,
merge_checked.py).

A SLURM array sets SLURM_ARRAY_TASK_ID (0-based, as ``--array=0-2`` numbers its tasks) and
SLURM_ARRAY_TASK_COUNT in each task's environment; each task here runs through bash as the README's
job script does, ``--shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT``. The matrices are
Q diag(w) Q^T with Q a signed permutation or a Hadamard matrix / 2 (exactly orthogonal in binary), so
the eigenvalue sum's gradient is exactly the identity (Lewis 1996) at every spectrum, tied or not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import slurm_task

from svdgrad_cli.cli import cli

ROOT = Path(__file__).parent.parent
TASK = 'cd "$DIR" && $SVDGRAD check {rest} --shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT'
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0


def exact(values, q: np.ndarray) -> np.ndarray:
    return q @ np.diag(np.asarray(values, dtype=np.float64)) @ q.T


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """Symmetric matrices with known spectra (tied and separated), a stack, an archive of three, and
    one matrix that is not symmetric (refused by eigh: an input error that one shard reports)."""
    root = tmp_path_factory.mktemp("eigh_tree")
    swap = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # a signed permutation
    np.save(root / "a_tied.npy", exact([1.0, 1.0, 3.0, 3.0], HADAMARD))
    np.save(root / "b_apart.npy", exact([-2.0, 0.5, 4.0, 8.0], HADAMARD))
    np.save(root / "c_stack.npy", np.stack([exact([k, 2.0, 2.0], swap) for k in (1.0, 2.0, 5.0)]))
    np.savez(
        root / "d_layers.npz",
        attn=exact([0.0, 0.0, 1.0, 1.0], HADAMARD),
        mlp=exact([1.0, 2.0, 3.0], swap),
        norm=exact([4.0, 4.0, 4.0, 4.0], HADAMARD),
    )
    np.save(root / "e_skew.npy", np.array([[0.0, 1.0], [-1.0, 0.0]]))
    return root


def run_array(rest: str, folder: Path, count: int = 3) -> list[str]:
    """Run ``count`` tasks of a SLURM-style array through bash; each task's jsonl report."""
    parts = []
    for task in range(count):
        script = TASK.format(rest=f"{rest} -f jsonl -o part{task}.jsonl -q")
        done = slurm_task(script, task, count, folder)
        assert done.returncode in (0, 1, 2), done.stderr  # 2: a shard with the refused matrix
        assert f"shard {task + 1}/{count}" in done.stderr
        parts.append(str(folder / f"part{task}.jsonl"))
    return parts


def invoke(*args: str):
    return CliRunner().invoke(cli, [*args])


def merged_and_single(parts: list[str], single: list[str]) -> tuple[dict, dict]:
    merged = invoke("merge", *parts, "-f", "json")
    alone = invoke("check", *single, "-f", "json")
    assert merged.exit_code == alone.exit_code, merged.output
    return json.loads(merged.stdout), json.loads(alone.stdout)


EIGH = ["--decomposition", "eigh", "-b", "autograd"]
MATRICES = [  # the order of one unsharded run: files in name order, members in the archive's order
    "a_tied.npy",
    "b_apart.npy",
    "c_stack.npy[0]",
    "c_stack.npy[1]",
    "c_stack.npy[2]",
    "d_layers.npz:attn",
    "d_layers.npz:mlp",
    "d_layers.npz:norm",
]


def test_eigh_slurm_array_of_three_shards_merged_equals_a_single_run(tree, tmp_path):
    parts = run_array(f"{tree} {' '.join(EIGH)}", tmp_path)
    merged, single = merged_and_single(parts, [str(tree), *EIGH])
    assert merged == single
    labels = [Path(r["label"]).name for r in merged["results"]]
    assert labels == MATRICES  # every matrix once, in the unsharded order
    assert all(r["backends"][0]["verdict"] == "correct" for r in merged["results"])  # the gradient is I
    assert [e.split(":")[0] for e in merged["errors"]] == [str(tree / "e_skew.npy")]
    shards = [[json.loads(line) for line in Path(p).read_text().splitlines()] for p in parts]
    assert all(lines[-1]["shard"]["count"] == 3 for lines in shards)
    assert sorted(len(lines) - 1 for lines in shards) != [0, 0, 8]  # the work is spread


def test_eigh_merge_of_its_shards_exits_2_for_the_refused_matrix(tree, tmp_path):
    parts = run_array(f"{tree} {' '.join(EIGH)}", tmp_path)
    merged = invoke("merge", *parts)
    assert merged.exit_code == 2  # e_skew.npy was not checked
    assert "e_skew.npy: not symmetric" in " ".join(merged.stdout.split())  # the table wraps at 80


def test_jvp_slurm_array_of_three_shards_merged_equals_a_single_run(tree, tmp_path):
    args = ["--mode", "jvp", "-b", "autograd"]
    parts = run_array(f"{tree} {' '.join(args)}", tmp_path)
    merged, single = merged_and_single(parts, [str(tree), *args])
    assert merged == single
    labels = [Path(r["label"]).name for r in merged["results"]]
    assert labels == [*MATRICES[:5], *MATRICES[5:], "e_skew.npy"]  # the SVD's jvp takes any matrix
    assert merged["mode"] == "jvp" and not merged["errors"]


def test_shards_of_eigh_and_of_jvp_or_of_another_split_are_not_merged(tree, tmp_path):
    (tmp_path / "e").mkdir(), (tmp_path / "j").mkdir()
    eigh = run_array(f"{tree} {' '.join(EIGH)}", tmp_path / "e")
    jvp = run_array(f"{tree} --mode jvp -b autograd", tmp_path / "j")
    mixed = invoke("merge", eigh[0], jvp[1], eigh[2])
    assert mixed.exit_code == 2 and "of eigh" in mixed.stderr and "of jvp" in mixed.stderr
    missing = invoke("merge", eigh[0], eigh[2])
    assert missing.exit_code == 2 and "shard 2/3 is missing" in missing.stderr
    svd = tmp_path / "svd.jsonl"
    invoke("check", str(tree / "b_apart.npy"), "-b", "autograd", "-f", "jsonl", "-o", str(svd))
    with_svd = invoke("merge", str(svd), *jvp)
    assert with_svd.exit_code == 2 and "SVD check" in with_svd.stderr


def test_an_edited_shard_is_refused(tree, tmp_path):
    parts = run_array(f"{tree} {' '.join(EIGH)}", tmp_path)
    path = next(p for p in parts if '"correct"' in Path(p).read_text())
    text = Path(path).read_text()
    Path(path).write_text(text.replace('"correct"', '"wrong"', 1))
    edited = invoke("merge", *parts)
    assert edited.exit_code == 2 and path in edited.stderr


def test_an_interrupted_shard_makes_the_merged_run_interrupted(tree, tmp_path):
    parts = run_array(f"{tree} --mode jvp -b autograd", tmp_path)
    lines = Path(parts[1]).read_text().splitlines()
    summary = json.loads(lines[-1])
    summary.update(interrupted=True, exit_code=130)  # what a shard stopped by Ctrl-C writes
    Path(parts[1]).write_text("\n".join([*lines[:-1], json.dumps(summary)]) + "\n")
    merged = invoke("merge", *parts, "-f", "json")
    assert merged.exit_code == 130 and json.loads(merged.stdout)["interrupted"] is True


def test_a_shard_with_nothing_to_check_does_not_exit_0(tree, tmp_path):
    lone = invoke("check", str(tree / "b_apart.npy"), *EIGH, "--shard", "2/2")
    assert lone.exit_code == 2  # nothing was judged here
    assert "0 of 1 matrices" in lone.stderr and "nothing was checked" in lone.stderr


@pytest.mark.parametrize("mode", [EIGH, ["--mode", "jvp", "-b", "autograd"]])
def test_select_and_skip_pick_the_archives_tensors(tree, mode):
    def labels(*args):
        done = invoke("check", str(tree / "d_layers.npz"), *mode, *args, "-f", "json")
        return done.exit_code, [r["label"].rsplit(":", 1)[1] for r in json.loads(done.stdout)["results"]]

    assert labels("--select", "m*") == (0, ["mlp"])
    assert labels("--skip", "attn", "--skip", "norm") == (0, ["mlp"])
    assert labels("--select", "*", "--skip", "mlp") == (0, ["attn", "norm"])


@pytest.mark.parametrize("mode", [EIGH, ["--mode", "jvp", "-b", "autograd"]])
def test_a_select_that_matched_nothing_is_named_and_fails(tree, mode):
    done = invoke("check", str(tree / "d_layers.npz"), *mode, "--select", "mlp", "--select", "ffn*")
    assert done.exit_code == 2
    assert "--select 'ffn*' matched no tensor" in done.stderr and "'mlp'" not in done.stderr


def test_a_select_that_matched_nothing_in_any_shard_fails_the_merge(tree, tmp_path):
    parts = run_array(f"{tree} --mode jvp -b autograd --select 'ffn*' --select '*'", tmp_path)
    merged = invoke("merge", *parts, "-f", "json")
    assert merged.exit_code == 2 and "--select 'ffn*' matched no tensor" in merged.stderr
    assert json.loads(merged.stdout)["unmatched_select"] == ["ffn*"]
    everything = invoke("merge", *run_array(f"{tree} --mode jvp -b autograd --select '*'", tmp_path))
    assert everything.exit_code == 0  # the same run without the unmatched pattern passes


@pytest.mark.parametrize("kind", [EIGH, ["--mode", "jvp", "-b", "autograd"]])
def test_a_slurm_array_over_scans_plan_merged_equals_the_plans_single_run(tree, tmp_path, kind):
    plan = tmp_path / "plan.json"
    invoke("scan", str(tree), "--plan-shards", "3", "--write-plan", str(plan))
    planned = [(i["label"], i["index"]) for i in json.loads(plan.read_text())["items"]]
    assert planned  # the zero eigenvalues of d_layers.npz:attn put the nuclear norm at risk
    parts = run_array(f"{tree} {' '.join(kind)} --plan {plan}", tmp_path)
    merged, single = merged_and_single(parts, [str(tree), *kind, "--plan", str(plan)])
    assert merged == single
    labels = [r["label"] for r in merged["results"]]
    assert labels == [label + (f"[{index[0]}]" if index else "") for label, index in planned]


SLOW_PLUGIN = """import os, time
import numpy as np

def exact(stack, loss):
    with open(os.environ["CALLS"], "a") as calls:
        calls.write("call\\n")
    if os.environ.get("SLOW") and sum(1 for _ in open(os.environ["CALLS"])) >= 2:
        time.sleep(60)  # the second matrix: stopped by the signal, not by this
    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]), stack.shape)
"""


def test_an_eigh_shard_stopped_by_ctrl_c_exits_130_and_so_does_the_merge(tree, tmp_path):
    import signal
    import time

    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    calls = tmp_path / "calls"
    env = os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", "CALLS": str(calls), "SLOW": "1"}
    args = [sys.executable, "-m", "svdgrad_cli", "check", str(tree), "--decomposition", "eigh"]
    args += ["-b", "python:slow_plugin:exact", "-f", "jsonl", "-q"]
    parts = [str(tmp_path / f"part{k}.jsonl") for k in (1, 2)]
    process = subprocess.Popen([*args, "--shard", "1/2", "-o", parts[0]], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not (calls.exists() and len(calls.read_text().splitlines()) >= 2):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    lines = [json.loads(line) for line in Path(parts[0]).read_text().splitlines()]
    assert lines[-1]["interrupted"] is True and len(lines) - 1 < 4  # not every matrix of shard 1
    env.pop("SLOW")  # shard 2 runs whole
    subprocess.run([*args, "--shard", "2/2", "-o", parts[1]], env=env, cwd=tmp_path, timeout=600)
    merged = invoke("merge", *parts, "-f", "json")
    assert merged.exit_code == 130 and json.loads(merged.stdout)["interrupted"] is True


def test_merge_of_one_unsharded_eigh_report_is_a_format_conversion(tree, tmp_path):
    whole = tmp_path / "run.jsonl"
    done = invoke("check", str(tree), *EIGH, "-f", "jsonl", "-o", str(whole))
    converted, single = merged_and_single([str(whole)], [str(tree), *EIGH])
    assert done.exit_code == 2 and converted == single  # 2: e_skew.npy is not symmetric
    text = whole.read_text()
    whole.write_text(text.replace('"unique": true', '"unique": true, "extra": 1', 1))
    edited = invoke("merge", str(whole))
    assert edited.exit_code == 2 and "is not a valid result" in edited.stderr


def test_shards_judged_against_the_mpmath_reference_merge(tmp_path):
    """A near tie (gap 2^-30) sends proj:1's reference to mpmath; its shard still reads back and the
    merged run equals the single one, the reference's precision included."""
    np.save(tmp_path / "near.npy", exact([1.0, 1.0 + 2.0**-30, 2.0, 3.0], HADAMARD))
    np.save(tmp_path / "apart.npy", exact([-2.0, 0.5, 4.0, 8.0], HADAMARD))
    args = [str(tmp_path / "near.npy"), str(tmp_path / "apart.npy"), "--decomposition", "eigh"]
    args += ["--loss", "proj:1", "-b", "autograd", "--reference", "high"]
    parts = []
    for k in (1, 2):
        part = tmp_path / f"p{k}.jsonl"
        assert invoke("check", *args, "--shard", f"{k}/2", "-f", "jsonl", "-o", str(part)).exit_code == 0
        parts.append(str(part))
    merged, single = merged_and_single(parts, args)
    assert merged == single
    assert all(r["reference_precision"].startswith("mpmath") for r in merged["results"])


def test_a_shard_cut_short_is_named_as_unfinished_not_as_another_kind(tree, tmp_path):
    parts = run_array(f"{tree} {' '.join(EIGH)}", tmp_path)
    cut = tmp_path / "cut.jsonl"
    cut.write_text(Path(parts[0]).read_text().splitlines()[0] + "\n")  # its first line, no summary
    result = invoke("merge", str(cut), *parts[1:])
    assert result.exit_code == 2 and "cut.jsonl: no summary line" in result.stderr
