"""A backend registered from Python as a function (``register_backend``, or a plug-in of the
``python:`` contract, plugins.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.backends.protocol import BackendOutput


@dataclass(frozen=True)
class FunctionBackend:
    """A backend registered from Python: ``function(stack, loss)`` returns (singular values,
    gradients), or (singular values, gradients, U, V) to have its forward SVD checked too.

    The function decides its own SVD call, so --full-matrices does not reach it.
    """

    name: str
    function: Callable[[np.ndarray, object], tuple]
    version_text: str = "custom"
    origin: str = "register_backend"

    @property
    def gives_factors(self) -> bool:
        return False  # unknown until it runs: its factors are checked where it returns them

    def version(self) -> str | None:
        return self.version_text

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput:
        return BackendOutput(*self.function(stack, loss))
