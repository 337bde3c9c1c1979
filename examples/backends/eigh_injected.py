"""A ``python:`` plug-in that errs on purpose, for measuring budgets (bench/eigh_calibration.py): the
exact gradient of an eigh loss (svdgrad's float64 reference: its own error is far below float32's
rounding) plus a perturbation of relative Frobenius size r in a seeded random Hermitian direction.
r is read at every call from the file named by $SVDGRAD_INJECTED (1e-3 without one), so one worker
serves a whole ladder of sizes.

    svdgrad check A.npy --decomposition eigh --loss proj:2 -b python:examples.backends.eigh_injected:inject
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from svdgrad_cli.numerics.eigh_reference import eigh_reference

DEFAULT = 1e-3


def injected_size() -> float:
    path = os.environ.get("SVDGRAD_INJECTED")
    return float(Path(path).read_text()) if path else DEFAULT


def _direction(n: int, on_complex: bool) -> np.ndarray:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if on_complex else 0)
    e = (x + x.conj().T) / 2
    return e / np.linalg.norm(e)


def inject(stack, loss):
    """(eigenvalues, the exact gradient + r ||G||_F E) of each matrix of the stack."""
    r = injected_size()
    gradients = []
    for a in stack:
        g = eigh_reference(a, loss).gradient
        gradients.append(g + r * np.linalg.norm(g) * _direction(len(a), np.iscomplexobj(a)))
    return np.linalg.eigvalsh(stack), np.array(gradients)
