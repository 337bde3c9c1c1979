"""What is differentiated: which factorization a backend returns, and which derivative is judged.

Two axes, each an enum, combined in a :class:`Target` that the pipeline passes through unchanged
(pipeline/plan.py ``RunPlan.target`` -> every backend call -> each ``MatrixReport.target``):

- :class:`Decomposition`, what the backend's call factorizes: the thin SVD (k = min(m, n) triplets,
  implemented), a truncated SVD (the top k < min(m, n) triplets, k read from the shape of the values a
  backend returns; issue 24), a symmetric or Hermitian eigendecomposition (m = n; judged by
  ``--decomposition eigh``, eigh_session.py and pipeline/eigh_check.py, outside ASSESSMENTS: its
  reports hold eigenvalues and an eigenvector gauge, not the SVD's MatrixReport).
- :class:`DerivativeMode`, which derivative of the loss through it is judged: the VJP (reverse mode,
  the gradient dL/dA; implemented), the JVP (forward mode, dL[A; dA] along a tangent; issue 25), the
  HVP (second order, the Hessian of L applied to a direction; issue 25).

A new case is a new member here plus what only it knows: its shapes below, a backend that lists it in
``targets`` (backends/protocol.py) and an assessment that judges it (pipeline/assess.py
``ASSESSMENTS``). Until svdgrad can judge a target, asking for it is a one-line usage error; a
backend that does not list a target svdgrad judges is ``unsupported`` for it, with one line saying so.
Imports nothing, so options and the model may read it without numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Decomposition(StrEnum):
    """The factorization a backend's call returns (and a loss of its factors differentiates)."""

    THIN_SVD = "thin-svd"  # A = U diag(s) V^H, k = min(m, n) triplets
    TRUNCATED_SVD = "truncated-svd"  # the top k < min(m, n) triplets; k read from what is returned
    EIGH = "eigh"  # A = A^H = Q diag(w) Q^H, m = n

    def __repr__(self) -> str:
        return repr(self.value)

    @property
    def prose(self) -> str:
        """Its name in sentences."""
        titles = {
            Decomposition.THIN_SVD: "thin SVD",
            Decomposition.TRUNCATED_SVD: "truncated SVD",
            Decomposition.EIGH: "symmetric eigendecomposition",
        }
        return titles[self]

    @property
    def values_name(self) -> str:
        """What its values are called in messages."""
        return "eigenvalues" if self is Decomposition.EIGH else "singular values"

    def fits(self, shape: tuple[int, int], k: int) -> bool:
        """Whether k values per matrix are an answer of this decomposition for an m x n matrix."""
        m, n = shape
        match self:
            case Decomposition.THIN_SVD:
                return k == min(m, n)
            case Decomposition.TRUNCATED_SVD:
                return 1 <= k < min(m, n)
            case Decomposition.EIGH:
                return m == n and k == n


class DerivativeMode(StrEnum):
    """Which derivative of the loss is judged."""

    VJP = "vjp"  # reverse mode: the gradient dL/dA of a real loss
    JVP = "jvp"  # forward mode: the directional derivative dL[A; dA]
    HVP = "hvp"  # second order: the Hessian of L at A applied to a direction

    def __repr__(self) -> str:
        return repr(self.value)

    @property
    def derivative_name(self) -> str:
        """What a backend's derivative output is called in messages."""
        names = {
            DerivativeMode.VJP: "gradients",
            DerivativeMode.JVP: "directional derivatives",
            DerivativeMode.HVP: "Hessian-vector products",
        }
        return names[self]

    def derivative_shape(self, stack_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of a backend's derivative output for a (b, m, n) stack: one matrix per matrix
        (VJP, HVP), one number per matrix (JVP)."""
        return stack_shape[:1] if self is DerivativeMode.JVP else tuple(stack_shape)


@dataclass(frozen=True)
class Target:
    """What one run differentiates and judges: a decomposition and a derivative mode."""

    decomposition: Decomposition = Decomposition.THIN_SVD
    mode: DerivativeMode = DerivativeMode.VJP

    def __str__(self) -> str:
        return f"the {self.mode.value.upper()} of the {self.decomposition.prose}"

    def answers_with(self, shape: tuple[int, int], k: int) -> bool:
        """Whether k values per matrix answer this target: a backend asked for the thin SVD may
        return only its top k triplets (a truncated SVD, truncated.py), judged on the losses of those."""
        if self.decomposition is Decomposition.THIN_SVD and Decomposition.TRUNCATED_SVD.fits(shape, k):
            return True
        return self.decomposition.fits(shape, k)

    def check_output(
        self, stack_shape: tuple[int, ...], values_shape: tuple[int, ...], derivative_shape: tuple[int, ...]
    ) -> int:
        """k, the number of values per matrix of an answer for a (b, m, n) stack; ValueError (the
        backend ``failed``) naming the shapes where the answer does not fit this target."""
        b, m, n = stack_shape
        k = values_shape[-1] if len(values_shape) == 2 and values_shape[0] == b else -1
        shaped = tuple(derivative_shape) == self.mode.derivative_shape(stack_shape)
        if not (shaped and self.answers_with((m, n), k)):
            raise ValueError(
                f"returned {self.decomposition.values_name} of shape {tuple(values_shape)} and "
                f"{self.mode.derivative_name} of shape {tuple(derivative_shape)} for a stack of shape "
                f"{tuple(stack_shape)}"
            )
        return k


DEFAULT_TARGET = Target()  # the thin SVD, reverse mode: what every backend computes
