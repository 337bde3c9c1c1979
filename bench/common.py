"""Shared by the benchmarks: data made on the fly, timing of whole commands, and peak memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PYTHON = sys.executable
SVDGRAD = [PYTHON, "-m", "svdgrad_cli"]
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SAMPLE = 0.05  # seconds between two samples of a command's memory
# Bytecode caching on, as a user's install has it (pip compiles the frameworks' at install time; an
# editable svdgrad's is written on its first run), whatever this shell says.
QUIET_TF = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
QUIET_TF["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _tree_rss(root: int) -> float:
    """The resident memory of ``root`` and every process below it, in MiB (Linux /proc)."""
    parents, rss = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * PAGE_BYTES
    tree, grown = {root}, True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grown = bool(below)
    return sum(rss.get(pid, 0) for pid in tree) / 2**20


def run(command: list[str], repeat: int = 3, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(median wall seconds, largest peak memory in MiB) of a command run ``repeat`` times."""
    wall, peak, _ = run_with_cpu(command, repeat, env)
    return wall, peak


def run_with_cpu(command: list[str], repeat: int = 3, env=None) -> tuple[float, float, float]:
    """(median wall seconds, largest peak memory in MiB, median CPU seconds) of a command run
    ``repeat`` times. The peak is the largest sum of the resident memory of the command's process and
    its children (svdgrad's backend workers), sampled every SAMPLE seconds, or its own peak (wait4)
    where that is larger; shared pages (Python, NumPy) count once per process, against svdgrad. The
    CPU seconds (user and system, children included) are what a busy machine cannot inflate much."""
    times, peaks, cpu = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**QUIET_TF, **(env or {})}
        )
        sampled = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            sampled = max(sampled, _tree_rss(process.pid))
            time.sleep(SAMPLE)
        times.append(time.perf_counter() - start)
        peaks.append(max(sampled, usage.ru_maxrss / 1024))  # Linux reports KiB
        cpu.append(usage.ru_utime + usage.ru_stime)
        process.returncode = os.waitstatus_to_exitcode(status)
    return statistics.median(times), max(peaks), statistics.median(cpu)


def write_small_matrices(folder: Path, files: int = 100, per_file: int = 10, seed: int = 0) -> None:
    """``files`` .npy stacks of ``per_file`` square matrices, sides 4 to 32, float64."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        side = int(rng.integers(4, 33))
        np.save(folder / f"m{i:03d}.npy", rng.standard_normal((per_file, side, side)))


def report(name: str, measured: float, baseline: float, target: float | None, unit: str = "s") -> None:
    """One figure beside its baseline, and whether it meets its target (None: for information)."""
    ratio = measured / baseline
    verdict = "no target" if target is None else "meets" if ratio <= target else "misses"
    figures = f"{measured:8.2f} {unit} / {baseline:8.2f} {unit} = {ratio:5.2f}"
    print(f"{name:<44} {figures}  ({verdict}{'' if target is None else f' target <= {target}'})")
