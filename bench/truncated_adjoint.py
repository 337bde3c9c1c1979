"""The naive truncated adjoint's error against the discarded weight (README, 'Truncated SVDs').

An 8x8 matrix with singular values (8, 4, 2, 2r, r, r/2, r/4, r/8), so that s_4 / s_3 = r, with
seeded random orthogonal factors; k = 3 kept triplets. For each ratio r and dtype, the relative
error ||G - G_ref||_F / ||G_ref||_F of examples/backends/truncated.py's ``naive`` and ``corrected``
adjoints, judged by svdgrad against the exact gradient of the truncated map, and their verdicts:
the shape of Francuz et al.'s (Phys. Rev. Research 7, 013237, 2025) finding, that the naive
adjoint's error is of the order of the discarded weight and does not vanish with the precision.

    PYTHONPATH=. python bench/truncated_adjoint.py [--loss proj:2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.chdir(ROOT)

from helpers import with_singular_values  # noqa: E402

from svdgrad_cli import check  # noqa: E402

RATIOS = (0.0, 1e-4, 1e-3, 1e-2, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
BACKENDS = {
    "naive": "torch:examples.backends.truncated:naive",
    "corrected": "torch:examples.backends.truncated:corrected",
}


def stack(dtype) -> np.ndarray:
    tail = 2.0 * np.array([1, 0.5, 0.25, 0.125, 0.0625])
    return np.stack([with_singular_values([8, 4, 2, *(r * tail)], (8, 8), seed=5) for r in RATIOS]).astype(
        dtype
    )


def rows(loss: str, dtype) -> list[tuple]:
    report = check(stack(dtype), loss=loss, backends=list(BACKENDS.values()))
    out = []
    for ratio, matrix in zip(RATIOS, report.results, strict=True):
        cells = []
        for b in matrix.backends:
            size = matrix.reference.gradient_norm
            cells.append((b.error / size if b.error is not None else float("nan"), b.verdict))
        out.append((ratio, *cells))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loss", default="proj:2")
    loss = parser.parse_args().loss
    print(f"loss {loss}, k = 3 of 8, relative error (verdict)")
    heads = ("naive f64", "corrected f64", "naive f32", "corrected f32")
    print(f"{'s4/s3':>7} | " + " | ".join(f"{h:>20}" for h in heads))
    double, single = rows(loss, np.float64), rows(loss, np.float32)
    for (ratio, n64, c64), (_, n32, c32) in zip(double, single, strict=True):
        cells = " | ".join(f"{e:9.1e} {v:>10}" for e, v in (n64, c64, n32, c32))
        print(f"{ratio:7.4g} | {cells}")


if __name__ == "__main__":
    main()
