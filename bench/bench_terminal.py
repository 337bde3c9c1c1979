"""What a person at a terminal feels (issue 26): one small matrix, and one big one, against the naive
loop over the four frameworks (naive_loop.py) on the same file, each figure the median of paired runs
(svdgrad and the loop in turn), idle and beside a load.

- one 5x5 matrix, default backends, cold (a new process, no compilation cache): <= 0.6x the loop;
- one 2048x2048 float32 matrix, default backends: <= 1.1x the loop's time, peak memory <= 1.2x.

Memory is the peak of the summed proportional set size (PSS, /proc/PID/smaps_rollup) of the command's
process and every process below it (svdgrad's backend workers), sampled every 50 ms: a page that
svdgrad and its workers share (Python, NumPy, a framework's libraries) counts once in all, where a
sum of resident sizes would count it once per process. The loop is one process, measured the same way.
The load is two CPU-bound processes (the machine's neighbours on a shared runner).

    python bench/bench_terminal.py [--repeat 3] [--only small|big] [--state idle|loaded]

The 2048x2048 figure alone, idle (about a minute per pair on two quiet cores):

    python bench/bench_terminal.py --only big --state idle --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
from common import PYTHON, SVDGRAD, Paired, busy, paired, report_paired

NAIVE = [PYTHON, str(Path(__file__).parent / "naive_loop.py")]
STATES = {"idle": contextlib.nullcontext, "loaded": busy}


def small(tmp: Path, repeat: int, state: str) -> None:
    path = tmp / "five.npy"
    np.save(path, np.random.default_rng(0).standard_normal((5, 5)))
    with STATES[state]():
        pair = paired([*SVDGRAD, "check", str(path), "-q", "--no-cache"], [*NAIVE, str(path)], repeat)
    report_paired(f"one 5x5, four backends, cold, {state}", pair, "wall", 0.6, "s")
    report_paired("  CPU seconds of that run (with workers)", pair, "cpu", None, "s")


def big(tmp: Path, repeat: int, state: str) -> None:
    path = tmp / "big32.npy"
    np.save(path, np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32))
    with STATES[state]():
        pair = paired([*SVDGRAD, "check", str(path), "-q"], [*NAIVE, str(path)], repeat)
    report_paired(f"2048x2048 float32, four backends, {state}", pair, "wall", 1.1, "s")
    report_paired("  peak memory, PSS with workers", pair, "peak", 1.2, "MiB")
    report_paired("  CPU seconds of that run (with workers)", pair, "cpu", None, "s")
    each_pair(pair)


def each_pair(pair: Paired) -> None:
    """Each pair's wall-time and memory ratios, to show how far a neighbour's load moved them."""
    for what in ("wall", "peak"):
        pairs = zip(pair.ours, pair.base, strict=True)
        ratios = " ".join(f"{getattr(o, what) / getattr(b, what):.2f}" for o, b in pairs)
        print(f"  {what} ratio of each pair: {ratios}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs per figure")
    parser.add_argument("--only", choices=("small", "big"), help="one of the two matrices")
    parser.add_argument("--state", choices=tuple(STATES), help="idle or loaded only")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for state in [args.state] if args.state else list(STATES):
            for name, bench in (("small", small), ("big", big)):
                if args.only in (None, name):
                    bench(Path(folder), args.repeat, state)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
