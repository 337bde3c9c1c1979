"""Losses of the singular values: parsing ``--loss`` and the weights each loss puts on s.

Every loss svdgrad knows today is linear in the sorted singular values, L(A) = sum_i w_i s_i(A):

- ``sum``     w = (1, ..., 1)            the nuclear norm, what the seed post's ``elementwise_grad`` takes
- ``sv:K``    w = e_K                    the K-th largest singular value (1-based)
- ``topk:K``  w = (1, ..., 1, 0, ..., 0)  the sum of the K largest (the Ky Fan K-norm)

Writing them through one weight vector lets every backend evaluate the same expression
``sum(w * s)`` and lets the reference and the membership tests reason about one object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgrad_cli.errors import UsageError

LOSS_HELP = "sum | sv:K | topk:K"


@dataclass(frozen=True)
class SpectralLoss:
    """A loss sum_i w_i s_i of the singular values in decreasing order."""

    kind: str  # "sum", "sv" or "topk"
    order: int | None = None  # K for sv:K and topk:K

    @property
    def name(self) -> str:
        return self.kind if self.order is None else f"{self.kind}:{self.order}"

    def check_fits(self, shape: tuple[int, int]) -> str | None:
        """Return why this loss cannot be applied to a matrix of ``shape``, or None if it can."""
        k = min(shape)
        if self.order is not None and self.order > k:
            return f"loss {self.name} needs at least {self.order} singular values; the matrix has {k}"
        return None

    def weights(self, k: int) -> np.ndarray:
        """The weight vector w (length k) such that the loss is sum(w * s)."""
        w = np.zeros(k)
        if self.kind == "sum":
            w[:] = 1.0
        elif self.kind == "sv":
            w[self.order - 1] = 1.0
        else:
            w[: self.order] = 1.0
        return w

    @property
    def convex(self) -> bool:
        """sum and topk:K are norms (convex); sv:K for K > 1 is only Lipschitz."""
        return self.kind != "sv" or self.order == 1


def parse_loss(spec: str) -> SpectralLoss:
    """Turn a ``--loss`` value into a loss, or raise UsageError naming what is accepted."""
    text = spec.strip().lower()
    if text == "sum":
        return SpectralLoss("sum")
    kind, sep, arg = text.partition(":")
    if sep and kind in ("sv", "topk"):
        try:
            order = int(arg)
        except ValueError:
            order = 0
        if order >= 1:
            return SpectralLoss(kind, order)
        raise UsageError(f"loss {spec!r}: K must be a whole number >= 1 (e.g. {kind}:2)")
    raise UsageError(f"unknown loss {spec!r}; expected one of: {LOSS_HELP}")
