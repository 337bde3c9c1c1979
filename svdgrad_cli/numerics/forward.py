"""How accurate a backend's own forward SVD is, and whether that explains its gradient's error.

A backward-stable SVD in a dtype with machine epsilon eps returns factors with (Demmel, Applied
Numerical Linear Algebra, §5.2)

    |s_i - s_i(A)| <~ eps ||A||_2,   ||A - U S V^H|| <~ eps ||A||,   ||U^H U - I||, ||V^H V - I|| <~ eps

up to modest factors of the size. A forward SVD far beyond that (TensorFlow's SVD of some matrices
with repeated singular values reconstructs them to 1e-10, not 1e-15) perturbs the gradient by about
(residual + orthogonality) * ||A||_2 ||DG||_2 + orthogonality * ||G||: when that accounts for the
observed error, the SVD is to blame, not the gradient rule (docs/theory.md §8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.numerics.field import adjoint, working
from svdgrad_cli.numerics.norms import frobenius

FORWARD_LIMIT = 100.0  # times sqrt(max(m, n)) * eps: beyond it a forward SVD is inaccurate
EXPLAINS = 0.1  # the forward error explains a gradient error it predicts to this fraction at least


@dataclass(frozen=True)
class ForwardCheck:
    """Relative errors of one backend's forward SVD of one matrix (None where not measured)."""

    value_error: float  # max |s_i - s_i(ref)| / s_1
    residual: float | None  # ||A - U S V^T||_F / ||A||_F
    orthogonality: float | None  # max(||U^T U - I||_F, ||V^T V - I||_F)
    eps: float  # machine epsilon of the dtype the backend computed in
    size: int  # max(m, n)
    transposed_residual: float | None = None  # the residual with V^H in place of V (a square V only)
    subspace: float | None = None  # a truncated SVD: its subspace angles as a backward error (below)

    @property
    def transposed(self) -> bool:
        """Whether the factors reconstruct A only with the last one transposed: V^T given for V."""
        swapped = self.transposed_residual
        return swapped is not None and swapped <= self.limit < (self.residual or 0.0)

    @property
    def limit(self) -> float:
        """FORWARD_LIMIT * sqrt(max(m, n)) * eps: the most a backward-stable SVD errs by, generously."""
        return FORWARD_LIMIT * math.sqrt(self.size) * self.eps

    @property
    def worst(self) -> float:
        measured = (self.value_error, self.residual, self.orthogonality, self.subspace)
        return max(x for x in measured if x is not None)

    @property
    def accurate(self) -> bool:
        return self.worst <= self.limit

    def predicted_gradient_error(self, matrix_norm: float, hessian_norm: float, term_size: float) -> float:
        """About how far this forward error alone moves a gradient (see the module docstring)."""
        backward = self.worst
        return backward * matrix_norm * hessian_norm + (self.orthogonality or 0.0) * term_size

    def explains(self, error: float, matrix_norm: float, hessian_norm: float, term_size: float) -> bool:
        """Whether the forward SVD's own error accounts for a gradient error."""
        if self.accurate:
            return False
        return self.predicted_gradient_error(matrix_norm, hessian_norm, term_size) >= EXPLAINS * error


def check_forward(
    a: np.ndarray, reference_values: np.ndarray, values, u, v, eps: float, used: int | None = None
) -> ForwardCheck:
    """Measure one forward SVD (``u``, ``v`` may be None: a values-only call) against the float64 input;
    one of fewer triplets than A has on the ``used`` leading ones (check_truncated_forward)."""
    a64 = working(a)
    top = float(reference_values[0]) if len(reference_values) else 0.0
    values = np.asarray(values, dtype=np.float64)
    if len(values) < len(reference_values):
        return check_truncated_forward(a64, top, values, u, v, eps, used or len(values))
    value_error = float(np.max(np.abs(values - reference_values))) / top if top else 0.0
    if u is None or v is None:
        return ForwardCheck(value_error, None, None, eps, max(a64.shape))
    u64, v64 = working(u), working(v)
    size = frobenius(a64)
    residual = frobenius(a64 - (u64 * values) @ adjoint(v64)) / size if size else 0.0
    k = u64.shape[1]
    orthogonality = max(frobenius(adjoint(u64) @ u64 - np.eye(k)), frobenius(adjoint(v64) @ v64 - np.eye(k)))
    swapped = None
    if v64.shape[0] == v64.shape[1] and size:  # V and V^H have one shape: the layout cannot tell them
        swapped = frobenius(a64 - (u64 * values) @ v64) / size
    return ForwardCheck(value_error, residual, orthogonality, eps, max(a64.shape), swapped)


def check_truncated_forward(a64: np.ndarray, top: float, values, u, v, eps: float, used: int) -> ForwardCheck:
    """A truncated or low-rank SVD returning the top k triplets (a randomized or Krylov method),
    measured on the ``used`` leading ones a loss reads: their values against A's, and their subspaces
    as a backward error. Wedin's theorem (Stewart and Sun 1990, V.4.4) bounds the angle between the
    leading j-dimensional subspaces of A and A + E by ||E|| / (s_j - s_{j+1}), so a computed U_j at
    angle theta_j = ||(I - U_A,j U_A,j^H) U_j||_2 from A's is exact for no A + E with ||E|| below
    sin(theta_j) (s_j - s_{j+1}): ``subspace`` is the largest such bound over j <= used (and for V
    alike), relative to s_1. A cut inside a multiplet (s_j = s_{j+1}) costs nothing there: any basis
    of it is as good. The residual ||A - U S V^H|| is the discarded tail, not an error: not measured."""
    k = min(len(values), used)
    u_a, s_a, vh_a = np.linalg.svd(a64, full_matrices=False)
    value_error = float(np.max(np.abs(values[:k] - s_a[:k]))) / top if top else 0.0
    if u is None or v is None:
        return ForwardCheck(value_error, None, None, eps, max(a64.shape))
    u64, v64 = working(u), working(v)
    gaps = s_a[:k] - np.append(s_a[1:], 0.0)[:k]
    bounds = [
        np.linalg.norm(q[:, :j] - basis[:, :j] @ (adjoint(basis[:, :j]) @ q[:, :j]), 2) * gaps[j - 1]
        for q, basis in ((u64, u_a), (v64, adjoint(vh_a)))
        for j in range(1, k + 1)
    ]
    eye = np.eye(len(values))
    orthogonality = max(frobenius(adjoint(u64) @ u64 - eye), frobenius(adjoint(v64) @ v64 - eye))
    subspace = float(max(bounds)) / top if top else 0.0
    return ForwardCheck(value_error, None, orthogonality, eps, max(a64.shape), subspace=subspace)
