"""The backend protocol: what every backend (built-in, registered from Python, or a plug-in) provides.

A backend has a ``name``, an ``origin`` (where it comes from, for ``svdgrad backends``), whether
its output includes its SVD's singular vectors (``gives_factors``), a
``version()`` read without importing its framework, and ``compute(stack, loss, full_matrices)``
returning a :class:`BackendOutput` for a float or complex stack of shape (b, m, n). On complex input
the gradients are in svdgrad's convention, G = dL/dRe A + i dL/dIm A (numerics/field.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class BackendOutput:
    """What one backend call returns, as NumPy arrays over the stack.

    ``u`` (b, m, k) and ``v`` (b, n, k) are the singular vectors of the backend's own forward SVD
    when its call computed them (losses of U and V), else None; svdgrad checks their accuracy.
    """

    singular_values: np.ndarray
    gradients: np.ndarray
    u: np.ndarray | None = None
    v: np.ndarray | None = None
    convention: str | None = None  # complex input: how the framework's gradient was read (field.py)


class GaugeDependence(Exception):
    """Raised by a backend whose framework refuses a loss that depends on the SVD's gauge (torch's
    phase check on complex input): the loss is ``undefined`` there, with the framework's message."""


class Backend(Protocol):
    name: str
    origin: str
    gives_factors: bool  # whether compute() returns U and V for a loss of U and V

    def version(self) -> str | None: ...

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput: ...
