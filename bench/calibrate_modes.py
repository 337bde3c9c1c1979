"""Measure the JVP and HVP budgets of issue 25 (numerics/mode_budgets.py) against the frameworks.

For well-conditioned random matrices Q1 diag(s) Q2^T (Haar factors, s evenly spread over [1, 2]) from
4x4 to 32x32, losses whose frameworks' rules are backward stable (sum, sv:1, topk:2, proj:2), float32
and float64, three directions each, every backend and path: each error in units of the budget
without its constant (eps * unit, mode_budgets.py), printed per mode and dtype as the median, the 95th
percentile and the largest, beside the calibrated factor (budget.py, mode_budgets.py) that the
largest must stay under.

    python bench/calibrate_modes.py [--sizes 4 8 16 32]
"""

from __future__ import annotations

import argparse
import warnings
from collections import defaultdict

import numpy as np

from svdgrad_cli import check
from svdgrad_cli.numerics.budget import calibrated_factor
from svdgrad_cli.numerics.mode_budgets import hvp_factor

LOSSES = ("sum", "sv:1", "topk:2", "proj:2")


def well_conditioned(rng: np.random.Generator, n: int) -> np.ndarray:
    q1, _ = np.linalg.qr(rng.standard_normal((n, n)))
    q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q1 * np.linspace(2.0, 1.0, n)) @ q2.T


def measure(sizes, per_size: int = 2) -> dict:
    """(mode, dtype) -> errors in units of eps * unit, over every backend and path."""
    units = defaultdict(list)
    rng = np.random.default_rng(25)
    for n in sizes:
        for _ in range(per_size):
            a = well_conditioned(rng, n)
            for loss in LOSSES:
                for dtype in ("float32", "float64"):
                    for mode in ("jvp", "hvp"):
                        factor = (hvp_factor if mode == "hvp" else calibrated_factor)(np.dtype(dtype))
                        run = check(a.astype(dtype), mode=mode, loss=loss, dtype=dtype)
                        for report in run.reports:
                            for d in report.directions:
                                for r in d.results:
                                    if r.relative_error is not None and r.budget:
                                        units[mode, dtype].append(factor * r.relative_error / r.budget)
    return units


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for (mode, dtype), values in sorted(measure(args.sizes).items()):
        v = np.array(values)
        factor = (hvp_factor if mode == "hvp" else calibrated_factor)(np.dtype(dtype))
        print(
            f"{mode} {dtype}: {len(v)} results, errors in units: median {np.median(v):.3g}, "
            f"95th percentile {np.percentile(v, 95):.3g}, largest {v.max():.3g} (factor {factor:g})"
        )


if __name__ == "__main__":
    main()
