"""What every built-in backend shares: one objective built from the loss's expression.

A backend module provides four functions, written so that a reproducer script can carry their source
verbatim (repro.py): ``framework()`` imports the framework, ``framework_ops()`` is the ops namespace of
losses.py, ``thin_factors(a, needs_vectors, full_matrices)`` is the SVD call a user of the framework
makes, and ``differentiate(stack, objective)`` returns (singular values, gradient) of
``objective(x) -> (loss value, singular values)``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def compute_with(backend: ModuleType, stack: np.ndarray, loss, full_matrices: bool):
    """(singular values, gradients) of ``loss`` over a (b, m, n) stack with one backend module."""
    ops = backend.framework_ops()

    def objective(x):
        u, s, v = backend.thin_factors(x, loss.needs_vectors, full_matrices)
        return loss.evaluate(ops, u, s, v), s

    return backend.differentiate(stack, objective)
