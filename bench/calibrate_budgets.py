"""Calibrate the error budget's constants on measurements (issue 9); prints the figures.

For random well-conditioned matrices Q1 diag(s) Q2^T (Haar orthogonal factors, s evenly spread over
[1, 2]) from 4x4 to 1024x1024, in float32 and float64, every loss and the four backends, it measures
each backend's error in units of the budget formula without its constant,

    unit = eps * (||A||_2 ||DG||_2 + sqrt(max(m, n)) * max(||G||_F, natural scale))

and prints, per loss and dtype, the largest error in units and what the calibrated factor makes of
it (budget / largest error); bench/budget_tightness.py measures the same on a wider grid of spectra.
Where a framework's own rule divides rounding by a gap the loss does not have (polar and recon: the
true gradient is smooth through ties), its error grows with the matrix and it is *not* calibrated
on: those are the digits svdgrad reports as lost (``inaccurate``). The constants are calibrated on
the losses of s and proj:K, whose frameworks' rules are backward stable. It also measures the
float64 reference against mpmath (REFERENCE_FACTOR) and the forward SVDs' residuals (FORWARD_LIMIT).

    python bench/calibrate_budgets.py            # 4x4 .. 256x256 (a few minutes)
    python bench/calibrate_budgets.py --full     # up to 1024x1024
    python bench/calibrate_budgets.py --complex  # complex128/complex64, Haar unitary factors
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections import defaultdict

import numpy as np

from svdgrad_cli import check
from svdgrad_cli.numerics import highprec
from svdgrad_cli.numerics.budget import REFERENCE_FACTOR, REFINED_FACTOR, calibrated_factor, error_unit
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference

BACKENDS = ["autograd", "tensorflow", "torch", "jax"]
STABLE_RULES = ("sum", "sv:1", "topk:2", "proj:2")  # frameworks' rules without 1/gap the loss lacks
LOSSES = (*STABLE_RULES, "polar", "recon")
SQUARE = [4, 8, 16, 32, 64, 128, 256]
RECTANGULAR = [(16, 4), (4, 16), (64, 16), (16, 64), (256, 64)]


def gaussian(rng: np.random.Generator, shape, on_complex: bool = False) -> np.ndarray:
    return rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if on_complex else 0)


def well_conditioned(
    rng: np.random.Generator, shape: tuple[int, int], on_complex: bool = False
) -> np.ndarray:
    m, n = shape
    k = min(shape)
    q1, _ = np.linalg.qr(gaussian(rng, (m, m), on_complex))
    q2, _ = np.linalg.qr(gaussian(rng, (n, n), on_complex))
    s = np.linspace(2.0, 1.0, k) if k > 1 else np.ones(1)
    return (q1[:, :k] * s) @ q2[:, :k].conj().T


def measure(shapes, count_for, dtypes=(np.float64, np.float32)) -> dict:
    """(loss, dtype) -> list of (shape, backend, error in units, forward worst / (sqrt(n) eps))."""
    rng = np.random.default_rng(2026)
    rows = defaultdict(list)
    on_complex = np.dtype(dtypes[0]).kind == "c"
    for shape in shapes:
        stack = np.array([well_conditioned(rng, shape, on_complex) for _ in range(count_for(shape))])
        for dtype in dtypes:
            eps = float(np.finfo(dtype).eps)
            for loss in LOSSES:
                if loss == "proj:2" and min(shape) < 3:
                    continue
                for result in check(stack.astype(dtype), loss=loss, backends=BACKENDS).results:
                    ref = result.reference
                    unit = eps * error_unit(ref, shape)
                    for b in result.backends:
                        if b.error is None:
                            continue
                        forward = b.forward.worst / (math.sqrt(max(shape)) * eps) if b.forward else None
                        rows[loss, np.dtype(dtype).name].append((shape, b.name, b.error / unit, forward))
    return rows


def report(rows: dict) -> None:
    print("\nerror in units of eps * (||A|| ||DG|| + sqrt(n) ||G||); factor: the calibrated one per dtype")
    print(f"{'loss':<8} {'dtype':<8} {'largest':>8} {'where':<22} {'budget/largest':>14}  {'median':>7}")
    calibrated = []
    for (loss, dtype), values in sorted(rows.items()):
        shape, backend, worst, _ = max(values, key=lambda row: row[2])
        median = float(np.median([row[2] for row in values]))
        factor = calibrated_factor(dtype)
        ratio = factor / worst if worst else math.inf
        where = f"{backend} {shape[0]}x{shape[1]}"
        flag = "" if loss in STABLE_RULES else "  (frameworks divide rounding by gaps: not calibrated on)"
        print(f"{loss:<8} {dtype:<8} {worst:8.2f} {where:<22} {ratio:14.1f}  {median:7.3f}{flag}")
        if loss in STABLE_RULES:
            calibrated.append((factor / worst, loss, dtype))
    margin, loss, dtype = min(calibrated)
    print(f"smallest budget / largest error over the stable rules: {margin:.1f} ({loss}, {dtype})")
    forward = [row[3] for values in rows.values() for row in values if row[3] is not None]
    print(f"forward SVDs: worst error / (sqrt(n) eps) = {max(forward):.1f} (median {np.median(forward):.2f})")


REFERENCE_SHAPES = [(4, 4), (8, 8), (16, 16), (12, 6), (6, 12), (32, 32)]
REFERENCE_LOSSES = ("polar", "proj:1", "proj:half", "sv:1", "sv:half", "topk:2", "recon", "sum")


def _reference_case(rng, shape, near: bool, on_complex: bool) -> np.ndarray:
    """Q1 diag(s) Q2^H with s evenly spaced or uniform in [1, 2], and with a near tie of relative
    gap 2^-1 to 2^-43 in the middle when ``near``."""
    k = min(shape)
    a = well_conditioned(rng, shape, on_complex)
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    s = np.linspace(2.0, 1.0, k) if rng.random() < 0.5 else np.sort(1 + rng.random(k))[::-1]
    if near and k > 1:
        s[k // 2] = s[k // 2 - 1] * (1 - 2.0 ** -rng.integers(1, 44))
    return (u * np.sort(s)[::-1]) @ vh


def reference_against_mpmath(shapes, on_complex: bool = False) -> None:
    """The float64 reference's own error against mpmath at 50+ digits, in units of error_unit, on
    LAPACK's SVD and on the refined one (refinement.py): REFERENCE_FACTOR and REFINED_FACTOR."""
    rng = np.random.default_rng(7)
    lapack, refined, kept = [], [], []
    for shape in shapes:
        for trial in range(4 if max(shape) <= 16 else 2):
            a = _reference_case(rng, shape, near=trial % 2 == 1 or max(shape) > 16, on_complex=on_complex)
            half = str(max(1, min(shape) // 2))
            for name in REFERENCE_LOSSES:
                loss = parse_loss(name.replace("half", half)).bind(a.shape, trial, on_complex=on_complex)
                pair = [build_reference(a, loss, 4 * 2.2e-16, check=False, refine=r) for r in (False, True)]
                (before, spectrum, *_), (after, *_) = pair
                if not (before.unique and before.defined):
                    continue
                digits = highprec.digits_for(before.condition)
                exact = highprec.high_precision_gradient(a, loss, spectrum, digits)
                unit = 2.2e-16 * error_unit(after, a.shape)
                lapack.append(np.linalg.norm(before.gradient - exact) / unit)
                (refined if after.refined else kept).append(np.linalg.norm(after.gradient - exact) / unit)
    print(f"float64 reference vs mpmath over {len(lapack)} cases, in units of the budget's unit:")
    print(f"  LAPACK's SVD:  worst {max(lapack):.2f}, median {np.median(lapack):.3f} "
          f"(REFERENCE_FACTOR = {REFERENCE_FACTOR:g})")  # fmt: skip
    if refined:
        print(f"  refined SVD:   worst {max(refined):.3f}, median {np.median(refined):.3f} over "
              f"{len(refined)} refined (REFINED_FACTOR = {REFINED_FACTOR:g})")  # fmt: skip
    if kept:
        print(f"  not refined:   worst {max(kept):.2f} over {len(kept)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 512x512 and 1024x1024")
    parser.add_argument("--complex", action="store_true", help="complex128 and complex64 matrices")
    args = parser.parse_args()
    dtypes = (np.complex128, np.complex64) if args.complex else (np.float64, np.float32)
    warnings.filterwarnings("ignore")
    square = SQUARE + ([512, 1024] if args.full else [])
    shapes = [(n, n) for n in square] + RECTANGULAR
    start = time.perf_counter()
    rows = measure(shapes, lambda shape: 8 if max(shape) <= 64 else (2 if max(shape) <= 256 else 1), dtypes)
    report(rows)
    reference_against_mpmath(REFERENCE_SHAPES + ([(64, 64)] if args.full else []), args.complex)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
