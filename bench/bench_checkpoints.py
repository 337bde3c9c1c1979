"""One tensor of a 1 GB safetensors checkpoint: how soon svdgrad starts checking it, and its peak memory.

Writes a checkpoint of 16 float32 tensors of 4096x4096 (1 GiB) and a file holding only the tensor to
select (the baseline), then runs ``svdgrad check FILE --select NAME -b autograd -q`` on each in a
subprocess on a pseudo-terminal, so that the progress line is drawn: the time to the first progress
line that names a backend stage (the tensor is loaded and checking has started; the progress line
appears after 1 s, so a run that ends sooner counts its completion), the time to completion, and the
peak RSS from ``os.wait4``. Targets (the product owner's): checking starts within
2 s, and the peak memory is within a small multiple of the tensor's size (the baseline's peak).

    python bench/bench_checkpoints.py [--side 4096] [--count 16] [--start-only]

``--start-only`` stops each run once checking has started (its peak is then the loading's).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from common import QUIET_TF, SVDGRAD

STARTED = b"autograd:"  # the progress line once the backend runs on the loaded matrix
START_TARGET = 2.0  # seconds


def tensor(index: int, side: int) -> np.ndarray:
    """The values of tensor ``index``: the same in the checkpoint and in the baseline file."""
    return np.random.default_rng(index).standard_normal((side, side), dtype=np.float32)


def write_safetensors(path: Path, names: list[str], side: int, first: int = 0) -> None:
    """A safetensors file of float32 (side, side) tensors (``first``, ``first + 1``, ...), written one
    tensor at a time."""
    size = side * side * 4
    header = {n: {"dtype": "F32", "shape": [side, side], "data_offsets": [i * size, (i + 1) * size]}
              for i, n in enumerate(names)}  # fmt: skip
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text)
        for index in range(first, first + len(names)):
            handle.write(tensor(index, side).tobytes())


def _read_until_exit(fd: int, process: subprocess.Popen, start: float, stop_at_start: bool) -> float | None:
    """Read the terminal until the process ends; the time at which checking was seen to start."""
    seen, started = b"", None
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                return started
            seen = (seen + chunk)[-4096:]
            if started is None and STARTED in seen:
                started = time.perf_counter() - start
                if stop_at_start:
                    process.terminate()
        elif process.poll() is not None:
            return started


def measure(path: Path, name: str, stop_at_start: bool) -> tuple[float | None, float, float, int]:
    """(seconds to checking started, seconds to the end, peak RSS in MiB, exit code) of one run."""
    command = [*SVDGRAD, "check", str(path), "--select", name, "-b", "autograd", "-q"]
    main, child = pty.openpty()
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=child, stdout=child, stderr=child, env={**QUIET_TF, "COLUMNS": "200"}
    )
    os.close(child)
    try:
        started = _read_until_exit(main, process, start, stop_at_start)
    finally:
        os.close(main)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    total = time.perf_counter() - start
    return started, total, usage.ru_maxrss / 1024, process.returncode


def show(label: str, figures: tuple[float | None, float, float, int]) -> None:
    started, total, peak, code = figures
    start = f"{started:6.2f} s" if started is not None else "  (ended before a progress line)"
    print(f"{label:<34} start {start}   end {total:7.2f} s   peak {peak:8.1f} MiB   exit {code}")


def start_time(figures: tuple[float | None, float, float, int]) -> float:
    """The time to the first progress line, or to completion when the run ended before one."""
    return figures[1] if figures[0] is None else figures[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--start-only", action="store_true", help="stop each run once checking starts")
    args = parser.parse_args()
    names = [f"encoder.layer{i}.weight" for i in range(args.count)]
    middle = args.count // 2
    chosen = names[middle]
    tensor_mib = args.side * args.side * 4 / 2**20
    with tempfile.TemporaryDirectory(prefix="svdgrad-bench-") as tmp:
        big, alone = Path(tmp) / "model.safetensors", Path(tmp) / "one.safetensors"
        write_safetensors(big, names, args.side)
        write_safetensors(alone, [chosen], args.side, first=middle)
        size = f"{big.stat().st_size / 2**30:.2f} GiB ({args.count} x {args.side}x{args.side} float32)"
        print(f"checkpoint {size}; selected {chosen}: {tensor_mib:.0f} MiB")
        ours = measure(big, chosen, args.start_only)
        base = measure(alone, chosen, args.start_only)
    show("whole checkpoint, --select one", ours)
    show("baseline: a file of that tensor", base)
    ours_start, base_start = start_time(ours), start_time(base)
    verdict = "meets" if ours_start <= START_TARGET else "misses"
    ratio = ours_start / base_start
    print(f"start: {ours_start:.2f} s ({ratio:.2f}x baseline); {verdict} the {START_TARGET:.0f} s target")
    print(f"end: {ours[1] / base[1]:.2f}x baseline")
    print(f"peak: {ours[2] / base[2]:.2f}x baseline; {ours[2] / tensor_mib:.1f}x the tensor's size "
          f"(baseline {base[2] / tensor_mib:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
