"""svdgrad's benchmarks, each a ratio against a baseline measured in the same run (make bench).

Targets (issue 5): start-up <= 0.1 of importing TensorFlow; one 1024x1024 matrix <= 1.5x a minimal
script making the same two framework calls; 1,000 small matrices in 100 files <= 1.0x a minimal Python
loop; and the peak memory of the 1024x1024 run against the minimal script's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from common import PYTHON, SVDGRAD, report, run, write_small_matrices

HERE = Path(__file__).parent
BACKENDS = ["-b", "autograd", "-b", "tensorflow"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        help_time, _ = run([*SVDGRAD, "--help"], repeat=5)
        tf_time, _ = run([PYTHON, "-c", "import tensorflow"], repeat=3)
        report("start-up: svdgrad --help / import tensorflow", help_time, tf_time, 0.1)

        big = tmp / "big.npy"
        np.save(big, np.random.default_rng(0).standard_normal((1024, 1024)))
        ours, ours_peak = run([*SVDGRAD, "check", str(big), *BACKENDS, "-q"], repeat=3)
        base, base_peak = run([PYTHON, str(HERE / "minimal_loop.py"), str(big)], repeat=3)
        report("1024x1024, sum, autograd+tensorflow", ours, base, 1.5)
        report("peak memory of that run", ours_peak, base_peak, 1.5, unit="MiB")

        small = tmp / "small"
        write_small_matrices(small)
        ours, _ = run([*SVDGRAD, "check", str(small), *BACKENDS, "-q"], repeat=3)
        base, _ = run([PYTHON, str(HERE / "minimal_loop.py"), str(small)], repeat=3)
        report("1,000 small matrices in 100 files", ours, base, 1.0)
        files = sorted(str(p) for p in small.glob("*.npy"))[:10]
        loop = f"for f in {' '.join(files)}; do {PYTHON} {HERE / 'seed_style.py'} $f; done"
        shell, _ = run(["bash", "-c", loop], repeat=1)
        print(
            f"{'  a shell loop of seed-style scripts':<44} {shell * 10:8.2f} s for 100 files (10 timed x 10)"
        )
        ours_jobs, _ = run([*SVDGRAD, "check", str(small), *BACKENDS, "-q", "--jobs", "2"], repeat=1)
        print(f"{'  svdgrad --jobs 2 on the same files':<44} {ours_jobs:8.2f} s")


if __name__ == "__main__":
    main()
