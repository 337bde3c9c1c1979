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
# Bytecode caching on, as a user's install has it (pip compiles the frameworks' at install time; an
# editable svdgrad's is written on its first run), whatever this shell says.
QUIET_TF = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
QUIET_TF["TF_CPP_MIN_LOG_LEVEL"] = "3"


def run(command: list[str], repeat: int = 3, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(median wall seconds, largest peak RSS in MiB) of a command run ``repeat`` times."""
    times, peaks = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**QUIET_TF, **(env or {})}
        )
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)  # Linux reports KiB
        process.returncode = os.waitstatus_to_exitcode(status)
    return statistics.median(times), max(peaks)


def write_small_matrices(folder: Path, files: int = 100, per_file: int = 10, seed: int = 0) -> None:
    """``files`` .npy stacks of ``per_file`` square matrices, sides 4 to 32, float64."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        side = int(rng.integers(4, 33))
        np.save(folder / f"m{i:03d}.npy", rng.standard_normal((per_file, side, side)))


def report(name: str, measured: float, baseline: float, target: float, unit: str = "s") -> None:
    ratio = measured / baseline
    verdict = "meets" if ratio <= target else "misses"
    figures = f"{measured:8.2f} {unit} / {baseline:8.2f} {unit} = {ratio:5.2f}"
    print(f"{name:<44} {figures}  ({verdict} target <= {target})")
