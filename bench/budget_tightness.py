"""How tight the error budgets are on matrices that look like real use (issue 20); prints the figures.

Grid: Gaussian, dense evenly spaced (linspace(2, 1, k)), clustered, power-law and near-rank-deficient
spectra between Haar orthogonal factors; sizes 4 to 1024, square, tall and wide; float32 and
float64, and complex64 up to 512 (Haar unitary factors; not in --quick); every loss. Per cell it
prints the budget over the largest error of the four frameworks on the same matrix (median and
maximum over the cell's matrices), the largest injected relative error r that is still ``correct``
(the reference gradient plus a perturbation of Frobenius size r ||G||_F, judged by the library's
own classify() against the same reference and budget as the frameworks), and the largest framework
error in two units: the budget's worst-direction unit
eps (||A||_2 ||DG||_2 + sqrt(max(m, n)) ||G||_F), and the typical-direction one,
eps ||A||_F ||DG||_F / sqrt(mn) (the root mean square of ||DG[E]|| over random E of the size
eps ||A||_F). Framework errors are measured against the float64 reference, refined where that
converges (refinement.py: its own error is below REFINED_FACTOR units, against REFERENCE_FACTOR for
LAPACK's factors), so float64 errors are the frameworks' own to about one unit.

Targets (issue 20), over the losses whose framework rules are backward stable (the losses of s and
proj:K; polar and recon are listed apart: the frameworks' rules divide rounding by gaps the loss
does not have and are ``inaccurate`` there by design):

- budget / largest framework error: median <= 10, 95th percentile <= 30;
- an injected error 10x or more the largest framework error is never ``correct``;
- r = 1e-3 (float32) and r = 1e-9 (float64) never ``correct`` where all four frameworks err by less
  than 1e-4 and 1e-10 (relative to ||G||_F).

    python bench/budget_tightness.py            # 4 to 1024, a subsample at 256 and above (~20 min)
    python bench/budget_tightness.py --quick    # 4 to 64, one matrix per family (make bench)
    python bench/budget_tightness.py --cells    # also one line per cell
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import replace

import numpy as np

from svdgrad_cli import check
from svdgrad_cli.numerics import highprec
from svdgrad_cli.numerics.budget import error_unit, make_budget
from svdgrad_cli.numerics.field import working
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.numerics.svd import stack_svd
from svdgrad_cli.numerics.witness import typical_sensitivity
from svdgrad_cli.pipeline.judge import classify
from svdgrad_cli.verdicts import BackendVerdict

BACKENDS = ["autograd", "tensorflow", "torch", "jax"]
STABLE_RULES = ("sum", "sv:1", "topk:2", "proj:1", "proj:2")
LOSSES = (*STABLE_RULES, "polar", "recon")
FAMILIES = ("gaussian", "dense", "clustered", "power", "near-rank")
LADDER = 10.0 ** np.arange(-12.0, -0.49, 0.25)  # injected relative errors, quarter decades
# r, and the bound on every framework's error
SPOT = {"float32": (1e-3, 1e-4), "complex64": (1e-3, 1e-4), "float64": (1e-9, 1e-10)}
TARGET_MEDIAN, TARGET_P95 = 10.0, 30.0


def spectrum(family: str, k: int, rng: np.random.Generator) -> np.ndarray:
    """Decreasing singular values of one family."""
    if family == "dense":
        return np.linspace(2.0, 1.0, k)
    if family == "clustered":  # four groups, each spread over 1% of its level
        levels = np.repeat([4.0, 3.0, 2.0, 1.0], -(-k // 4))[:k]
        offsets = np.concatenate([np.linspace(0.01, 0.0, np.sum(levels == x)) for x in (4, 3, 2, 1)])
        return np.sort(levels * (1 + offsets[:k]))[::-1]
    if family == "power":
        return np.arange(1.0, k + 1) ** -1.0
    tail = max(1, k // 4)  # near-rank: the last quarter between 1e-2 and 1e-3 of the rest
    return np.concatenate([np.linspace(2.0, 1.0, k - tail), np.geomspace(1e-2, 1e-3, tail)])


def gaussian(rng: np.random.Generator, shape, on_complex: bool) -> np.ndarray:
    return rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if on_complex else 0)


def matrix(family: str, shape: tuple[int, int], rng: np.random.Generator, on_complex: bool = False):
    """One matrix of the family: Gaussian, or the family's spectrum between Haar orthogonal (unitary)
    factors."""
    m, n = shape
    if family == "gaussian":
        return gaussian(rng, shape, on_complex)
    k = min(shape)
    q1, _ = np.linalg.qr(gaussian(rng, (m, m), on_complex))
    q2, _ = np.linalg.qr(gaussian(rng, (n, n), on_complex))
    return (q1[:, :k] * spectrum(family, k, rng)) @ q2[:, :k].conj().T


def shapes(grid: str) -> list[tuple[tuple[int, int], int]]:
    """(shape, matrices per family) of the grid: ``quick``, ``medium`` (up to 256) or ``full``."""
    if grid == "quick":
        return [((n, n), 1) for n in (4, 8, 16, 32, 64)] + [((16, 4), 1), ((4, 16), 1)]
    square = [((n, n), 3 if n <= 32 else 2 if n <= 64 else 1) for n in (4, 8, 16, 32, 64, 128, 256)]
    rectangular = [((16, 4), 2), ((4, 16), 2), ((64, 16), 2), ((16, 64), 2), ((128, 32), 1), ((32, 128), 1)]
    if grid == "medium":
        return square + rectangular
    return square + rectangular + [((512, 512), 1), ((512, 128), 1), ((128, 512), 1), ((1024, 1024), 1)]


def families(shape: tuple[int, int]) -> tuple[str, ...]:
    """At 1024x1024 only the Gaussian and the dense spectrum (and losses of s and recon, ``wanted``):
    a loss of U and V costs its power iteration on a 2048x2048 dilation."""
    return FAMILIES if max(shape) < 1024 else ("gaussian", "dense")


def wanted(loss: str, shape: tuple[int, int]) -> bool:
    if loss == "proj:2" and min(shape) < 3:
        return False
    return max(shape) < 1024 or loss in ("sum", "sv:1", "topk:2", "recon")


def largest_correct(reference, budget, shape) -> float | None:
    """The largest injected relative error on LADDER still judged ``correct`` (None: not even the
    smallest). One the float64 reference cannot place goes to mpmath up to highprec.MAX_ELEMENTS
    entries (which finds it at its true distance) and is settled in its favour above (assess.py)."""
    scale = reference.gradient_norm
    for r in LADDER[::-1]:
        error = r * scale  # the injected error's distance from the reference
        verdict = classify(error, budget, True)
        settled = verdict is None and (np.prod(shape) > highprec.MAX_ELEMENTS or error <= budget.allowed)
        if verdict is BackendVerdict.CORRECT or settled:
            return float(r)
    return None


def rms_unit(a: np.ndarray, loss_name: str) -> float:
    """||A||_F times the root mean square of ||DG[E]||_F over unit E: the typical direction's unit
    (witness.typical_sensitivity without its sqrt(max(m, n)))."""
    loss = parse_loss(loss_name).bind(a.shape, 0, on_complex=np.iscomplexobj(a))  # check()'s (seed 0)
    svd = stack_svd(a[None])[0]
    spectrum = analyse_spectrum(svd.values, a.shape, max(a.shape) * 2.0**-52)
    return typical_sensitivity(loss, svd, spectrum, 0) / math.sqrt(max(a.shape))


def measure(grid: str) -> list[dict]:
    """One row per (matrix, loss, dtype) with a unique, determined reference; the families of one
    shape go to the frameworks as one stack."""
    rows = []
    rng, complex_rng = np.random.default_rng(2020), np.random.default_rng(2021)
    for shape, count in shapes(grid):
        names = [family for family in families(shape) for _ in range(count)]
        real = np.array([matrix(family, shape, rng) for family in names])
        stacks = [("float32", real), ("float64", real)]
        if grid != "quick" and max(shape) <= 512:  # complex64 up to 512: Haar unitary factors
            complex_stack = [matrix(family, shape, complex_rng, True) for family in names]
            stacks.append(("complex64", np.array(complex_stack)))
        for dtype, stack in stacks:
            for loss in LOSSES:
                if wanted(loss, shape):
                    rows += _cell(names, shape, dtype, loss, stack.astype(dtype))
        print(f"  {shape[0]}x{shape[1]} measured", file=sys.stderr, flush=True)
    return rows


def _cell(names, shape, dtype, loss, stack) -> list[dict]:
    rows = []
    results = check(stack, loss=loss, backends=BACKENDS, reference="float64").results
    for family, a, result in zip(names, working(stack), results, strict=True):
        ref = result.reference
        if ref is None or not (ref.unique and ref.defined) or not ref.gradient_norm:
            continue
        errors = [b.error for b in result.backends if b.error is not None]
        if len(errors) < len(BACKENDS) or not max(errors):
            continue
        # the budget check() used (in float32 set by the rounding witness, witness.py)
        budget = replace(make_budget(ref, shape, dtype), allowed=result.backends[0].budget)
        if not budget.determined:
            continue
        row = {"family": family, "shape": list(shape), "dtype": dtype, "loss": loss, "errors": errors}
        row |= {"budget": budget.allowed, "scale": ref.gradient_norm}
        row["largest_correct"] = largest_correct(ref, budget, shape)
        row["worst_units"] = max(errors) / (budget.eps * error_unit(ref, shape))
        row["rms_units"] = max(errors) / (budget.eps * rms_unit(a, loss))
        row["terms"] = [
            ref.matrix_norm * ref.hessian_norm,
            error_unit(ref, shape) - ref.matrix_norm * ref.hessian_norm,
        ]
        row["rms"] = rms_unit(a, loss)
        rows.append(row)
    return rows


def _percentile(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def print_cells(rows: list[dict]) -> None:
    cells = defaultdict(list)
    for row in rows:
        cells[row["family"], tuple(row["shape"]), row["dtype"], row["loss"]].append(row)
    print(f"{'family':<9} {'shape':>9} {'dtype':<7} {'loss':<6} {'budget/err':>10} {'max':>6} "
          f"{'r correct':>9} {'worst u':>7} {'rms u':>6}")  # fmt: skip
    for (family, shape, dtype, loss), group in cells.items():
        ratios = [row["budget"] / max(row["errors"]) for row in group]
        passed = [row["largest_correct"] for row in group if row["largest_correct"] is not None]
        largest = f"{max(passed):9.1e}" if passed else "     none"
        worst = np.median([row["worst_units"] for row in group])
        rms = np.median([row["rms_units"] for row in group])
        size = f"{shape[0]}x{shape[1]}"
        print(f"{family:<9} {size:>9} {dtype:<7} {loss:<6} {np.median(ratios):10.1f} {max(ratios):6.1f} "
              f"{largest} {worst:7.2f} {rms:6.1f}")  # fmt: skip


def summary(rows: list[dict]) -> None:
    """The targets, over the losses whose framework rules are stable, and polar/recon apart."""
    stable = [r for r in rows if r["loss"] in STABLE_RULES]
    for title, group in (
        ("stable rules (losses of s, proj:K)", stable),
        ("  of which float32", [r for r in stable if r["dtype"] == "float32"]),
        ("  of which float64", [r for r in stable if r["dtype"] == "float64"]),
        ("  of which complex64", [r for r in stable if r["dtype"] == "complex64"]),
        ("polar and recon (frameworks divide by gaps)", [r for r in rows if r["loss"] not in STABLE_RULES]),
    ):
        ratios = [r["budget"] / max(r["errors"]) for r in group]
        median, p95 = _percentile(ratios, 50), _percentile(ratios, 95)
        meets = "meets" if median <= TARGET_MEDIAN and p95 <= TARGET_P95 else "misses"
        tenfold = sum(_tenfold(r) for r in group)
        spot = sum(_spot_fails(r) for r in group)
        over = sum(max(r["errors"]) > r["budget"] for r in group)
        print(f"{title}: {len(group)} (matrix, loss, dtype)")
        targets = f"targets <= {TARGET_MEDIAN:g}, <= {TARGET_P95:g}"
        print(f"  budget / largest framework error: median {median:.1f}, 95th percentile {p95:.1f}")
        print(f"    ({meets} {targets}); largest framework error over the budget: {over}")
        print(f"  injected >= 10x the largest framework error, still correct: {tenfold} (target 0)")
        print(f"  r = 1e-3 / 1e-9 correct where all four err below 1e-4 / 1e-10: {spot} (target 0)")
        worst = [r["worst_units"] for r in group]
        rms = [r["rms_units"] for r in group]
        in_worst = f"median {_percentile(worst, 50):.2f}, max {max(worst, default=0):.2f}"
        in_rms = f"median {_percentile(rms, 50):.1f}, max {max(rms, default=0):.1f}"
        print(f"  largest framework error in worst-direction units: {in_worst}; in typical: {in_rms}")


def _tenfold(row: dict) -> bool:
    return row["largest_correct"] is not None and row["largest_correct"] * row["scale"] >= 10 * max(
        row["errors"]
    )


def _spot_fails(row: dict) -> bool:
    r, bound = SPOT[row["dtype"]]
    below = max(row["errors"]) < bound * row["scale"]
    return below and row["largest_correct"] is not None and row["largest_correct"] >= r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4x4 to 64x64, one matrix per family")
    parser.add_argument("--medium", action="store_true", help="4x4 to 256x256, no 512 or 1024")
    parser.add_argument("--cells", action="store_true", help="one line per cell")
    parser.add_argument("--save", help="write the rows as JSON to this file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    rows = measure("quick" if args.quick else "medium" if args.medium else "full")
    if args.save:
        with open(args.save, "w") as out:
            json.dump(rows, out)
    if args.cells:
        print_cells(rows)
    summary(rows)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
