"""Shards beyond one machine: scan's plan (inputs/plan.py) and a SLURM job array, each merged.

A SLURM array sets SLURM_ARRAY_TASK_ID (0-based here, as ``--array=0-2`` numbers its tasks) and
SLURM_ARRAY_TASK_COUNT in each task's environment; the README's job script passes them on as
``--shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT``, which these tests run through bash.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import slurm_task

from svdgrad_cli.cli import cli

safetensors_numpy = pytest.importorskip("safetensors.numpy")

WORK_PER_ITEM = 2**15  # shards.py's fixed cost of one matrix, restated: the test's own arithmetic
TASK = 'cd "$DIR" && $SVDGRAD {command} --shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT {rest}'


def rank_deficient(rng, m: int, n: int, rank: int) -> np.ndarray:
    """An m x n float64 matrix of rank ``rank``: at risk for the nuclear norm (sum)."""
    return rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """Files of many sizes, all rank-deficient (at risk for sum) but clean.npy, and a stack."""
    rng = np.random.default_rng(26)
    root = tmp_path_factory.mktemp("tree")
    shapes = [(40, 40), (36, 20), (8, 30), (25, 25), (12, 12), (30, 6), (18, 18), (5, 5), (22, 33)]
    for number, (m, n) in enumerate(shapes):
        np.save(root / f"w{number}.npy", rank_deficient(rng, m, n, 3))
    np.save(root / "stack.npy", np.stack([rank_deficient(rng, 10, 10, 2) for _ in range(3)]))
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    np.save(root / "clean.npy", q * np.arange(16.0, 0.0, -1.0))  # distinct values, full rank
    tensors = {f"layer{i}.weight": rank_deficient(rng, 24, 16 + 4 * i, 2) for i in range(4)}
    safetensors_numpy.save_file(tensors, str(root / "model.safetensors"))
    return root


def work(shape) -> int:
    m, n = shape[-2:]
    return m * n * min(m, n) + WORK_PER_ITEM


def test_shards_planned_by_scan_differ_by_at_most_the_largest_matrix(tree, tmp_path):
    plan = tmp_path / "plan.json"
    result = CliRunner().invoke(cli, ["scan", str(tree), "--plan-shards", "3", "--write-plan", str(plan)])
    assert result.exit_code == 1, result.output  # matrices at risk
    items = json.loads(plan.read_text())["items"]
    assert not any(i["label"].endswith("clean.npy") for i in items)  # clear: not planned
    assert len(items) == 9 + 3 + 4  # every rank-deficient matrix, each of the stack's three
    loads = [0, 0, 0]
    for item in items:
        label = item["label"]
        if ":" in label:  # a checkpoint tensor: its shape from the file itself
            name = label.rsplit(":", 1)[1]
            shape = safetensors_numpy.load_file(str(tree / "model.safetensors"))[name].shape
        else:
            shape = np.load(label, mmap_mode="r").shape
        loads[item["shard"] - 1] += work(shape)
    largest = max(work(np.load(p, mmap_mode="r").shape) for p in tree.glob("w*.npy"))
    assert all(loads) and max(loads) - min(loads) <= largest


def run_array(command: str, rest: str, folder: Path, count: int = 3) -> list[str]:
    """Run ``count`` tasks of a SLURM-style array through bash, as the README's job script does."""
    parts = []
    for task in range(count):
        script = TASK.format(command=command, rest=rest + f" -f jsonl -o part{task}.jsonl -q")
        done = slurm_task(script, task, count, folder)
        assert done.returncode in (0, 1), done.stderr
        parts.append(str(folder / f"part{task}.jsonl"))
    return parts


def merged_equals_single(parts: list[str], single_args: list[str]) -> None:
    merged = CliRunner().invoke(cli, ["merge", *parts, "-f", "json"])
    single = CliRunner().invoke(cli, ["check", *single_args, "-f", "json"])
    assert merged.exit_code == single.exit_code, merged.output
    assert json.loads(merged.stdout) == json.loads(single.stdout)


def test_a_slurm_array_of_three_shards_merged_equals_a_single_run(tree, tmp_path):
    args = f"{tree} -b autograd --loss sum"
    parts = run_array("check", args, tmp_path)
    merged_equals_single(parts, [str(tree), "-b", "autograd", "--loss", "sum"])


def test_a_slurm_array_over_scans_plan_merged_equals_the_plans_single_run(tree, tmp_path):
    plan = tmp_path / "plan.json"
    CliRunner().invoke(cli, ["scan", str(tree), "--plan-shards", "3", "--write-plan", str(plan)])
    parts = run_array("check", f"{tree} -b autograd --plan {plan}", tmp_path)
    single = [str(tree), "-b", "autograd", "--plan", str(plan)]
    merged_equals_single(parts, single)
    checked = json.loads(CliRunner().invoke(cli, ["check", *single, "-f", "json"]).stdout)["results"]
    planned = json.loads(plan.read_text())["items"]
    assert [(r["source"], r["index"]) for r in checked] == [(i["label"], i["index"]) for i in planned]


def test_a_plan_of_another_shard_count_or_other_files_is_refused(tree, tmp_path):
    plan = tmp_path / "plan.json"
    CliRunner().invoke(cli, ["scan", str(tree), "--plan-shards", "2", "--write-plan", str(plan)])
    wrong = CliRunner().invoke(cli, ["check", str(tree), "--plan", str(plan), "--shard", "1/3"])
    assert wrong.exit_code == 2 and "of 2 shards" in wrong.stderr
    elsewhere = CliRunner().invoke(cli, ["check", str(tree / "clean.npy"), "--plan", str(plan)])
    assert elsewhere.exit_code == 2 and "which PATHS do not name" in elsewhere.stderr
    (tmp_path / "bad.json").write_text("[1, 2]")
    bad = CliRunner().invoke(cli, ["check", str(tree), "--plan", str(tmp_path / "bad.json")])
    assert bad.exit_code == 2 and "not a plan of 'svdgrad scan'" in bad.stderr
