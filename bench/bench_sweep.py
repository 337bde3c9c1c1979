"""svdgrad sweep against svdgrad check on the same matrices (issue 14: at most 1.2x).

A 16-point sweep with four backends at 8x8 is timed against ``svdgrad check`` of the same 16
matrices, saved as .npy files by a first, untimed sweep (--save-matrices); both are whole commands,
measured alternately in the same run (median of REPEAT), so start-up and framework imports count for
both. What a sweep adds: building the family (its points' matrices in memory, no files) and the
realised spectra (exact by construction, else mpmath); what check adds: reading the files.

    python bench/bench_sweep.py            # or: make bench
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUIET_TF, SVDGRAD, report

BACKENDS = ["-b", "autograd", "-b", "tensorflow", "-b", "torch", "-b", "jax"]
REPEAT = 3
CASES = {  # name -> sweep arguments
    "gap, sum": ["--vary", "gap", "--at", "3"],
    "gap, polar": ["--vary", "gap", "--at", "2", "--loss", "polar"],
    "zero, sum": ["--vary", "zero"],
}


def seconds(command: list[str]) -> float:
    """Wall seconds of a command, which must finish as a run does (exit 0 or 1: a crash is no time)."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=QUIET_TF, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in CASES.items():
            folder = Path(tmp) / name.replace(", ", "-")
            sweep = [*SVDGRAD, "sweep", "--shape", "8x8", "--points", "16", *BACKENDS, *args, "-q"]
            subprocess.run([*sweep, "--save-matrices", str(folder)], capture_output=True, env=QUIET_TF)
            loss = args[args.index("--loss") + 1] if "--loss" in args else "sum"
            check = [*SVDGRAD, "check", str(folder), "--loss", loss, *BACKENDS, "-q"]
            assert len(list(folder.glob("*.npy"))) == 16, "the sweep did not save its 16 matrices"
            sweeps, checks = [], []
            for _ in range(REPEAT):  # alternate, so that a change in the machine's load hits both
                sweeps.append(seconds(sweep))
                checks.append(seconds(check))
            report(f"16-point sweep, 8x8, 4 backends ({name})", statistics.median(sweeps),
                   statistics.median(checks), 1.2)  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
