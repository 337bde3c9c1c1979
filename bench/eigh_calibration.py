"""Calibration of the eigh budgets (issue 27): each framework's gradient error in units of the budget's
eps * (||A||_2 ||DG||_2 + sqrt(n) ||G||_F) (numerics/budget.py error_unit, with the eigh reference's
||DG||_2), on real symmetric matrices with well separated spectra where every loss is defined:
Gaussian (GOE), evenly spaced, clustered (pairs 1e-3 apart) and power-law spectra under Haar Q;
sizes 4 to 64; float64 and float32; every loss (wq: seeded random cotangents). Prints, per loss
and dtype, the largest error in units over frameworks and matrices, against the calibrated factor
the budget uses.

    python bench/eigh_calibration.py   # 4 families x 5 sizes (4 to 64), 9 losses, ~3 min
"""

from __future__ import annotations

import sys

import numpy as np

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.numerics.budget import calibrated_factor, error_unit
from svdgrad_cli.numerics.eigh_cotangent import anchored
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_membership import distance
from svdgrad_cli.numerics.eigh_reference import eigh_reference

LOSSES = ("eigsum", "eig:2", "lowk:2", "topk:2", "logdet", "entropy", "expm", "proj:2", "vec", "wq")
SIZES = (4, 8, 16, 32, 64)


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


def main() -> None:
    for dtype in (np.float64, np.float32):
        factor = calibrated_factor(dtype)
        print(f"{np.dtype(dtype).name}: largest framework error in units (budget factor {factor:g})")
        for spec, units in worst_units(dtype).items():
            print(f"  {spec:<8} {units:8.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
