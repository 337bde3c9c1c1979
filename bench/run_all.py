"""svdgrad's benchmarks, each a ratio against a baseline measured in the same run (make bench).

Targets (issue 16), each printed with its ratio:

- start-up: ``svdgrad --help`` <= 0.05x ``import tensorflow``;
- all four backends on 1,000 small matrices (100 files, sides 4-32) <= 0.75x a naive loop calling the
  four frameworks per matrix (imports once, JAX eagerly) on an idle machine, <= 1.0x under a load of
  two busy processes (started and stopped here);
- ``-b torch`` under that load <= 1.0x the naive torch loop;
- ``--jobs 2`` <= 1.1x ``--jobs 1``, on the small run and on a larger one, idle and under load;
- JAX: the share of a run spent compiling (a cold cache against a warm one), and a second run's
  time with the persistent cache against ``--no-cache``;
- one 1024x1024 matrix, two backends, <= 1.15x the minimal script making the same two calls;
- one 5x5 matrix, default backends, cold (a new process, no compilation cache) <= 0.6x the naive
  loop over the four frameworks on that matrix (issue 26), idle and loaded (bench_terminal.py:
  medians of paired runs);
- one 2048x2048 float32 matrix, default backends, <= 1.1x the naive loop, peak memory <= 1.2x, idle
  and loaded (bench_terminal.py);
- peak memory of the four-backend run <= 1.2x the naive loop's.

Memory is the peak of the summed proportional set size (PSS) of a command's process and the
processes below it (svdgrad's backend workers; common.tree_pss): a page they share counts once.
- a ``python:`` plug-in in its worker process against the same function in this one
  (bench_isolation.py): 200 small matrices, the overhead per matrix, a worker's start.
- ``svdgrad scan`` over a 12-layer transformer's safetensors checkpoint <= 0.2x the full check
  (issue 26, bench_scan.py), and its peak memory: one tensor at a time.
- budget tightness (issue 20, bench/budget_tightness.py --quick): budget / largest framework error,
  median <= 10 and 95th percentile <= 30.

    python bench/run_all.py           # about twenty minutes on two cores
    python bench/run_all.py --quick   # one repetition each
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from common import PYTHON, QUIET_TF, SVDGRAD, busy, report, run, write_small_matrices

HERE = Path(__file__).parent
NAIVE = [PYTHON, str(HERE / "naive_loop.py")]
TWO = ["-b", "autograd", "-b", "tensorflow"]


def write_medium_matrices(folder: Path, files: int = 8, per_file: int = 4, side: int = 192) -> None:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        np.save(folder / f"m{i}.npy", rng.standard_normal((per_file, side, side)))


def start_up(repeat: int) -> None:
    help_time, _ = run([*SVDGRAD, "--help"], repeat=repeat + 2)
    tf_time, _ = run([PYTHON, "-c", "import tensorflow"], repeat=repeat)
    report("start-up: --help / import tensorflow", help_time, tf_time, 0.05)


def four_backends(small: Path, repeat: int) -> None:
    ours, ours_peak = run([*SVDGRAD, "check", str(small), "-q"], repeat=repeat)
    base, base_peak = run([*NAIVE, str(small)], repeat=repeat)
    report("four backends, 1,000 small, idle", ours, base, 0.75)
    report("peak memory of that run (PSS)", ours_peak, base_peak, 1.2, unit="MiB")
    with busy():
        ours, _ = run([*SVDGRAD, "check", str(small), "-q"], repeat=repeat)
        base, _ = run([*NAIVE, str(small)], repeat=repeat)
        report("four backends, 1,000 small, loaded", ours, base, 1.0)
        ours, _ = run([*SVDGRAD, "check", str(small), "-q", "-b", "torch"], repeat=repeat)
        base, _ = run([*NAIVE, str(small), "--frameworks", "torch"], repeat=repeat)
        report("-b torch, 1,000 small, loaded", ours, base, 1.0)


def jobs(small: Path, medium: Path, repeat: int) -> None:
    for name, folder in (("1,000 small", small), ("32 of 192x192", medium)):
        for state, load in (("idle", contextlib.nullcontext()), ("loaded", busy())):
            with load:
                one, _ = run([*SVDGRAD, "check", str(folder), "-q", "-j", "1"], repeat=repeat)
                two, _ = run([*SVDGRAD, "check", str(folder), "-q", "-j", "2"], repeat=repeat)
            report(f"--jobs 2 / --jobs 1, {name}, {state}", two, one, 1.1)


def jax_compilation(small: Path, cache: Path) -> None:
    env = {"SVDGRAD_CACHE_DIR": str(cache)}
    cold, _ = run([*SVDGRAD, "check", str(small), "-q", "-b", "jax"], repeat=1, env=env)
    warm, _ = run([*SVDGRAD, "check", str(small), "-q", "-b", "jax"], repeat=1, env=env)
    uncached, _ = run([*SVDGRAD, "check", str(small), "-q", "-b", "jax", "--no-cache"], repeat=1)
    print(f"{'  JAX compile share of a cold run':<44} {(cold - warm) / cold:8.0%}  ({cold:.2f} s cold)")
    report("-b jax, warm cache / --no-cache", warm, uncached, 1.0)


def large_matrix(tmp: Path, repeat: int) -> None:
    big = tmp / "big.npy"
    np.save(big, np.random.default_rng(0).standard_normal((1024, 1024)))
    ours, ours_peak = run([*SVDGRAD, "check", str(big), *TWO, "-q"], repeat=repeat)
    base, base_peak = run([PYTHON, str(HERE / "minimal_loop.py"), str(big)], repeat=repeat)
    report("1024x1024, sum, autograd+tensorflow", ours, base, 1.15)
    report("peak memory of that run (PSS)", ours_peak, base_peak, 1.5, unit="MiB")


def budget_tightness() -> None:
    """The error budgets against the frameworks' own errors, on the quick grid (a few minutes)."""
    print("budget tightness (bench/budget_tightness.py --quick):", flush=True)
    subprocess.run([PYTHON, str(HERE / "budget_tightness.py"), "--quick"], check=False, env=QUIET_TF)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition of each measurement")
    repeat = 1 if parser.parse_args().quick else 3
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small, medium = tmp / "small", tmp / "medium"
        write_small_matrices(small)
        write_medium_matrices(medium)
        start_up(repeat)
        jax_compilation(small, tmp / "cache")
        four_backends(small, repeat)
        jobs(small, medium, repeat)
        large_matrix(tmp, repeat)
    subprocess.run(
        [PYTHON, str(HERE / "bench_isolation.py"), *(["--quick"] if repeat == 1 else [])], check=True
    )
    subprocess.run([PYTHON, str(HERE / "bench_scan.py"), "--repeat", str(repeat)], check=True)  # issue 26
    subprocess.run([PYTHON, str(HERE / "bench_terminal.py"), "--repeat", str(repeat)], check=True)  # issue 26
    budget_tightness()


if __name__ == "__main__":
    main()
