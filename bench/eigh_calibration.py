"""Calibration of the eigh budgets (issue 27): each framework's gradient error in units of the budget's
eps * (||A||_2 ||DG||_2 + sqrt(n) ||G||_F) (numerics/budget.py error_unit, with the eigh reference's
||DG||_2), on real symmetric matrices with well separated spectra where every loss is defined:
Gaussian (GOE), evenly spaced, clustered (pairs 1e-3 apart) and power-law spectra under Haar Q;
sizes 4 to 64; float64 and float32; every loss (wq: seeded random cotangents). Prints, per loss
and dtype, the largest error in units over frameworks and matrices, against the calibrated factor
the budget uses.

Then the float32 budgets set by the rounding witness (numerics/eigh_witness.py, budget.py's
witnessed_allowance), on Gaussian, evenly spaced and clustered spectra from 4x4 to 256x256: per loss
the budget over the largest honest framework error on the same matrix (median, 95th percentile;
honest: within the worst-direction budget, what a backward-stable eigh may err by), how many honest
errors exceed the witnessed budget (a false ``wrong``/``inaccurate``), the largest injected relative
error still ``correct`` (judge.classify on a quarter-decade ladder), and whether an error of 10x the
largest honest one, injected by the python: plug-in examples/backends/eigh_injected.py and judged by
pipeline/eigh_check.py, is ever ``correct``.

    python bench/eigh_calibration.py            # both parts, ~15 min
    python bench/eigh_calibration.py --witness  # the float32 witness part only
    python bench/eigh_calibration.py --quick    # the witness part up to 64x64
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import warnings
from collections import defaultdict

import numpy as np

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.numerics.budget import calibrated_factor, error_unit, make_budget
from svdgrad_cli.numerics.eigh_cotangent import anchored
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_membership import distance
from svdgrad_cli.numerics.eigh_reference import eigh_reference
from svdgrad_cli.numerics.eigh_witness import eigh_witness
from svdgrad_cli.pipeline.eigh_check import check_matrix
from svdgrad_cli.pipeline.judge import classify
from svdgrad_cli.verdicts import BackendVerdict

LOSSES = ("eigsum", "eig:2", "lowk:2", "topk:2", "logdet", "entropy", "expm", "proj:2", "vec", "wq")
SIZES = (4, 8, 16, 32, 64)
WITNESS_SIZES = (4, 8, 16, 32, 64, 128, 256)
WITNESS_FAMILIES = ("gaussian", "even", "clustered")
LADDER = 10.0 ** np.arange(-8.0, -0.49, 0.25)  # injected relative errors, quarter decades
INJECTED = "python:examples.backends.eigh_injected:inject"
TARGET_MEDIAN, TARGET_P95 = 10.0, 30.0


def spectrum(family: str, n: int, rng) -> np.ndarray:
    if family == "gaussian":
        x = rng.standard_normal((n, n))
        return np.linalg.eigvalsh((x + x.T) / 2)
    if family == "even":
        return np.linspace(1, 2, n)
    if family == "clustered":
        base = np.repeat(np.linspace(1, 2, (n + 1) // 2), 2)[:n]
        return base + 1e-3 * (np.arange(n) % 2)
    return np.sort(np.logspace(0, -6, n))


def matrix(family: str, n: int, rng) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = spectrum(family, n, rng)
    if family == "gaussian":
        w = np.abs(w) + 0.1  # positive definite: logdet and entropy are defined
    a = (q * w) @ q.T
    return (a + a.T) / 2


def worst_units(dtype) -> dict[str, float]:
    rng = np.random.default_rng(27)
    backends = eigh_backends(())
    worst = dict.fromkeys(LOSSES, 0.0)
    for n in SIZES:
        for family in ("gaussian", "even", "clustered", "power"):
            a = matrix(family, n, rng).astype(dtype)
            for spec in LOSSES:
                loss = parse_eigh_loss(spec).bind(n, 0)
                reference = eigh_reference(a, loss)
                loss = anchored(loss, reference)  # wq: the user's cotangents at this Q
                unit = np.finfo(dtype).eps * error_unit(reference, a.shape)
                for backend in backends:
                    g = backend.compute(a[None], loss)[1][0].astype(np.float64)
                    worst[spec] = max(worst[spec], distance(g, reference) / unit)
    return worst


def largest_correct(budget, scale: float) -> float | None:
    """The largest relative error on LADDER that classify() still calls ``correct`` (None: none)."""
    passed = [r for r in LADDER if classify(r * scale, budget, True) is BackendVerdict.CORRECT]
    return float(max(passed)) if passed else None


def injected_verdict(a, label, loss, plugin, r: float, size_file: str) -> BackendVerdict:
    """The verdict pipeline/eigh_check.py gives the plug-in injecting relative error ``r``."""
    with open(size_file, "w") as out:
        out.write(repr(r))
    return check_matrix(a, label, loss, [plugin]).results[0].verdict


def witness_row(a, spec: str, backends, plugin, size_file: str) -> dict | None:
    """One (matrix, loss) of the float32 grid, or None where the gradient is not unique, or the data
    do not determine it, or no honest framework errs at all (eigsum's I is exact)."""
    loss = parse_eigh_loss(spec).bind(a.shape[0], 0)
    reference = eigh_reference(a, loss)
    if not (reference.unique and reference.defined) or reference.gradient is None:
        return None
    worst = make_budget(reference, a.shape, a.dtype)
    if not worst.determined:
        return None
    budget = make_budget(reference, a.shape, a.dtype, witness=eigh_witness(a, loss, reference))
    errors = [distance(b.compute(a[None], loss)[1][0].astype(np.float64), reference) for b in backends]
    honest = [e for e in errors if e <= worst.allowed]
    if not honest or max(honest) == 0:
        return None
    tenfold = 10 * max(honest) / worst.scale
    verdict = injected_verdict(a, spec, loss, plugin, tenfold, size_file)
    return {
        "loss": spec,
        "ratio": budget.allowed / max(honest),
        "over": sum(e > budget.allowed for e in honest),
        "dishonest": len(errors) - len(honest),
        "largest_correct": largest_correct(budget, worst.scale),
        "tenfold_correct": verdict is BackendVerdict.CORRECT,
    }


def witness_rows(sizes) -> list[dict]:
    rng = np.random.default_rng(2027)
    backends = eigh_backends(())
    size_file = os.path.join(tempfile.mkdtemp(), "injected")
    os.environ["SVDGRAD_INJECTED"] = size_file  # before the plug-in's worker starts
    plugin = eigh_backends((INJECTED,))[0]
    rows = []
    for n in sizes:
        for family in WITNESS_FAMILIES:
            a = matrix(family, n, rng).astype(np.float32)
            rows += [row for spec in LOSSES if (row := witness_row(a, spec, backends, plugin, size_file))]
        print(f"  {n}x{n} measured", file=sys.stderr, flush=True)
    return rows


def _summary_line(title: str, group: list[dict]) -> str:
    ratios = [row["ratio"] for row in group]
    passed = [row["largest_correct"] for row in group if row["largest_correct"] is not None]
    median, p95 = np.percentile(ratios, 50), np.percentile(ratios, 95)
    over = sum(row["over"] for row in group)
    tenfold = sum(row["tenfold_correct"] for row in group)
    dishonest = sum(row["dishonest"] for row in group)
    r = f"{np.median(passed):.1e}" if passed else "none"
    return (
        f"  {title:<8} {len(group):>4} {median:7.1f} {p95:6.1f} {over:>5} {tenfold:>7} {dishonest:>9} {r:>9}"
    )


def witness_summary(rows: list[dict]) -> None:
    print("float32, budget set by the rounding witness (eigh_witness.py):")
    head = f"{'median':>7} {'p95':>6} {'over':>5} {'10x ok':>7} {'dishonest':>9} {'r correct':>9}"
    print(f"  {'loss':<8} {'rows':>4} {head}")
    by_loss = defaultdict(list)
    for row in rows:
        by_loss[row["loss"]].append(row)
    for spec, group in by_loss.items():
        print(_summary_line(spec, group))
    print(_summary_line("all", rows))
    legend = (
        f"median, p95: budget / largest honest framework error (targets <= {TARGET_MEDIAN:g}, "
        f"<= {TARGET_P95:g}); over: honest errors over the budget (target 0); 10x ok: 10x the largest "
        "honest error, injected by the plug-in, still correct (target 0); dishonest: framework errors "
        "beyond the worst-direction budget; r correct: median of the largest injected r still correct"
    )
    print(textwrap.fill(legend, 80, initial_indent="  ", subsequent_indent="  "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--witness", action="store_true", help="the float32 witness part only")
    parser.add_argument("--quick", action="store_true", help="the witness part up to 64x64")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if not (args.witness or args.quick):
        for dtype in (np.float64, np.float32):
            factor = calibrated_factor(dtype)
            print(f"{np.dtype(dtype).name}: largest framework error in units (budget factor {factor:g})")
            for spec, units in worst_units(dtype).items():
                print(f"  {spec:<8} {units:8.2f}")
    sizes = WITNESS_SIZES[:5] if args.quick else WITNESS_SIZES
    witness_summary(witness_rows(sizes))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
