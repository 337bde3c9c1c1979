"""Shared by the benchmarks: data made on the fly, timing of whole commands, and peak memory."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PYTHON = sys.executable
SVDGRAD = [PYTHON, "-m", "svdgrad_cli"]
SAMPLE = 0.05  # seconds between two samples of a command's memory
# Bytecode caching on, as a user's install has it (pip compiles the frameworks' at install time; an
# editable svdgrad's is written on its first run), whatever this shell says.
QUIET_TF = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
QUIET_TF["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _tree(root: int) -> set[int]:
    """``root`` and every process below it (Linux /proc)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
    tree, grown = {root}, True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grown = bool(below)
    return tree


def _pss(pid: int) -> int:
    """The proportional set size of ``pid`` in bytes: its private pages, and each page it shares
    divided by the number of processes mapping it (/proc/PID/smaps_rollup); 0 once it ended."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(root: int) -> float:
    """The memory of ``root`` and every process below it in MiB, as the sum of their proportional
    set sizes: a page shared by svdgrad and its backend workers (Python, NumPy, a file's pages)
    counts once in all, not once per process as a sum of resident sizes would count it."""
    return sum(_pss(pid) for pid in _tree(root)) / 2**20


@dataclass(frozen=True)
class Measured:
    """One run of a command: wall seconds, peak memory (MiB, tree_pss sampled every SAMPLE
    seconds) and CPU seconds (user and system, children included)."""

    wall: float
    peak: float
    cpu: float


def measure(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` once (its output discarded) and measure it."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**QUIET_TF, **(env or {})}
    )
    sampled = 0.0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        sampled = max(sampled, tree_pss(process.pid))
        time.sleep(SAMPLE)
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(time.perf_counter() - start, sampled, usage.ru_utime + usage.ru_stime)


def run(command: list[str], repeat: int = 3, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(median wall seconds, largest peak memory in MiB) of a command run ``repeat`` times."""
    runs = [measure(command, env) for _ in range(repeat)]
    return statistics.median(r.wall for r in runs), max(r.peak for r in runs)


@dataclass(frozen=True)
class Paired:
    """Two commands run in turn ``repeat`` times: each one's runs, and the median of the ratios of
    the pairs (a neighbour's burst of load then weighs on both sides of a ratio alike)."""

    ours: list[Measured]
    base: list[Measured]

    def ratio(self, what: str) -> float:
        return statistics.median(
            getattr(o, what) / getattr(b, what) for o, b in zip(self.ours, self.base, strict=True)
        )

    def median(self, side: str, what: str) -> float:
        return statistics.median(getattr(r, what) for r in getattr(self, side))


def paired(ours: list[str], base: list[str], repeat: int, env: dict[str, str] | None = None) -> Paired:
    """Run ``ours`` and ``base`` alternately, ``repeat`` times each."""
    runs = [(measure(ours, env), measure(base, env)) for _ in range(repeat)]
    return Paired([o for o, _ in runs], [b for _, b in runs])


def report_paired(name: str, pair: Paired, what: str, target: float | None, unit: str) -> None:
    """One figure of paired runs beside its baseline (medians) and the median ratio of the pairs."""
    _line(name, pair.median("ours", what), pair.median("base", what), pair.ratio(what), target, unit)


def write_small_matrices(folder: Path, files: int = 100, per_file: int = 10, seed: int = 0) -> None:
    """``files`` .npy stacks of ``per_file`` square matrices, sides 4 to 32, float64."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        side = int(rng.integers(4, 33))
        np.save(folder / f"m{i:03d}.npy", rng.standard_normal((per_file, side, side)))


def report(name: str, measured: float, baseline: float, target: float | None, unit: str = "s") -> None:
    """One figure beside its baseline, and whether it meets its target (None: for information)."""
    _line(name, measured, baseline, measured / baseline, target, unit)


def _line(name: str, ours: float, base: float, ratio: float, target: float | None, unit: str) -> None:
    verdict = "no target" if target is None else "meets" if ratio <= target else "misses"
    figures = f"{ours:8.2f} {unit} / {base:8.2f} {unit} = {ratio:5.2f}"
    print(f"{name:<44} {figures}  ({verdict}{'' if target is None else f' target <= {target}'})", flush=True)


@contextlib.contextmanager
def busy(processes: int = 2):
    """``processes`` CPU-bound processes for the duration (a shared CI runner's neighbours)."""
    load = [subprocess.Popen([PYTHON, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for process in load:
            process.kill()
            process.wait()
