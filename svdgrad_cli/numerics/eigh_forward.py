"""The accuracy of a backend's own eigendecomposition, and whether it or the backward pass is to blame
for a wrong gradient. A backward-stable eigh returns the exact eigenpairs of A + E, ||E||_2 <~ eps ||A||_2:
its eigenvalues are then within ||E||_2 of the true ones (Weyl), its residual ||A Q - Q diag(w)||_F and
its loss of orthogonality ||Q^H Q - I||_F of order eps (Higham 2002; Parlett 1998, ch. 4)."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import adjoint
from svdgrad_cli.numerics.norms import frobenius

FORWARD_FACTOR = 16.0  # backward stable: each measure within this * n * eps(dtype) (relative to ||A||_2)


def forward_errors(a: np.ndarray, reference_w: np.ndarray, w: np.ndarray, q: np.ndarray | None) -> dict:
    """Eigenvalue error, residual and orthogonality, each relative (to ||A||_2 where it has units)."""
    norm = float(np.max(np.abs(reference_w))) or 1.0
    errors = {"eigenvalue error": float(np.max(np.abs(np.sort(np.real(w)) - reference_w))) / norm}
    if q is not None:  # n x n: pipeline/eigh_check.py fails a backend whose eigenvectors are not
        q = q.astype(np.complex128 if np.iscomplexobj(q) else np.float64)
        errors["residual"] = frobenius(a @ q - q * np.real(w)) / norm
        errors["orthogonality"] = frobenius(adjoint(q) @ q - np.eye(len(w)))
    return errors


def blame(a: np.ndarray, reference_w: np.ndarray, w, q, eps: float) -> str:
    """One sentence: whether the backend's eigendecomposition is backward stable (then its backward
    pass is off) or not, with the figures."""
    if w is None or np.shape(w) != np.shape(reference_w) or not np.all(np.isfinite(w)):
        return ""
    errors = forward_errors(a, reference_w, np.asarray(w), None if q is None else np.asarray(q))
    tolerance = FORWARD_FACTOR * len(reference_w) * eps
    figures = ", ".join(f"{name} {value:.1e}" for name, value in errors.items())
    if any(not value <= tolerance for value in errors.values()):  # NaN: not accurate
        return f"its eigendecomposition is off ({figures}; a backward-stable one: <= {tolerance:.0e})"
    return f"its eigendecomposition is accurate ({figures}): its backward pass is off"
