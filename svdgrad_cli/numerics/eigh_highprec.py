"""A high-precision eigh reference with mpmath, for the matrices where float64 cannot decide a verdict.

The float64 reference (eigh_reference.py) errs by about eps(float64) ||A||_2 ||DG||_2: near a tie its
eigenvectors turn by eps ||A||_2 / gap inside the nearly tied pair (Davis and Kahan 1970; Parlett
1998, ch. 11), and a float64 backend within its budget of a threshold cannot be told apart from one
beyond it (nor its difference from the reference shown as its error). mpmath's eigendecomposition
of the exact input (``eigsy`` for real symmetric, ``eighe`` for complex Hermitian A: Householder
tridiagonalisation and the implicit QL iteration; every float64 entry is an mpmath number exactly)
at highprec.digits_for(condition) digits, then the same closed forms on NumPy object arrays of
mpmath numbers: Q diag(f'(w)) Q^H (Lewis 1996), Q_S Q_S^H, and Q (Gamma o Q^H C Q) Q^H with Gamma the
divided differences (Daleckii and Krein 1965). The float64 reference's structure stands (which
eigenvalues it calls tied, so which loss is unique and defined): only a unique gradient is
recomputed, as highprec.py does for the SVD, and with the same affordability (highprec.MAX_ELEMENTS).
No power-of-two scaling: mpmath's exponent range is unbounded, and tr f(A) is not homogeneous.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from svdgrad_cli.numerics import highprec
from svdgrad_cli.numerics.eigh_losses import SPECTRAL, EighLoss
from svdgrad_cli.numerics.eigh_reference import EighReference, selection
from svdgrad_cli.numerics.field import adjoint, is_complex, working
from svdgrad_cli.numerics.reference_result import MPMATH

if TYPE_CHECKING:  # mpmath is imported where it is used: most runs never need it
    import mpmath


def affordable(a: np.ndarray) -> bool:
    """Whether the high-precision reference is computed without being asked (highprec.MAX_ELEMENTS)."""
    return int(np.prod(a.shape)) <= highprec.MAX_ELEMENTS


def _eigh(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(w ascending, Q) of ``a`` as object arrays of mpmath numbers, at the working precision."""
    import mpmath

    solve = mpmath.eighe if is_complex(a) else mpmath.eigsy
    w, q = solve(mpmath.matrix(working(a).tolist()))
    order = sorted(range(len(w)), key=lambda i: w[i])
    values = np.array([w[i] for i in order], dtype=object)
    vectors = np.array([[q[r, i] for i in order] for r in range(q.rows)], dtype=object)
    return values, vectors


def _first_derivative(kind: str, w: np.ndarray) -> np.ndarray:
    """f'(w) of tr f: 1 (eigsum), 1/w (logdet), -(log w + 1) (entropy)."""
    import mpmath

    if kind == "eigsum":
        return np.array([mpmath.mpf(1)] * len(w), dtype=object)
    if kind == "logdet":
        return np.array([1 / x for x in w], dtype=object)
    return np.array([-(mpmath.log(x) + 1) for x in w], dtype=object)


def _divided(kind: str, a: mpmath.mpf, b: mpmath.mpf, da, db):
    """Gamma_ij: (d_i - d_j) / (w_i - w_j); for expm e^w_i at an exact tie, for proj and vec 0
    where d_i = d_j (eigh_reference.py refuses ties between different d)."""
    import mpmath

    if kind == "expm":
        return mpmath.exp(a) if a == b else (mpmath.exp(a) - mpmath.exp(b)) / (a - b)
    return 0 if da == db else (mpmath.mpf(da) - mpmath.mpf(db)) / (a - b)


def _weighted_projector(loss: EighLoss, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    n = len(w)
    d = [None] * n if loss.kind == "expm" else loss.vector_weights(np.zeros(n))  # w only sets expm's
    c = loss.weight_matrix().astype(object)
    gamma = np.array([[_divided(loss.kind, w[i], w[j], d[i], d[j]) for j in range(n)] for i in range(n)])
    return q @ (gamma * (adjoint(q) @ c @ q)) @ adjoint(q)


def _gradient(loss: EighLoss, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    if loss.kind in SPECTRAL:
        return (q * _first_derivative(loss.kind, w)) @ adjoint(q)
    if loss.kind in ("eig", "lowk", "topk"):
        chosen = selection(loss, len(w))
        return q[:, chosen] @ adjoint(q[:, chosen])
    return _weighted_projector(loss, w, q)


def high_precision_eigh(a: np.ndarray, loss: EighLoss, reference: EighReference) -> EighReference:
    """``reference`` (a unique gradient) with its gradient recomputed by mpmath at the digits its
    conditioning asks for (highprec.digits_for), rounded to float64 (complex128)."""
    import mpmath

    digits = highprec.digits_for(reference.condition)
    to_number = complex if is_complex(a) else float
    with mpmath.workdps(digits):
        w, q = _eigh(a)
        gradient = _gradient(loss, w, q)
        values = np.array([[to_number(x) for x in row] for row in gradient])
    return replace(reference, gradient=values, precision=f"{MPMATH}, {digits} digits")
