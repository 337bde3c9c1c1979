"""The loss weights of ``--cotangents``: the upstream gradient of the user's model, read from a file."""

from __future__ import annotations

import numpy as np

from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import Described, Skipped, dtype_problem
from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS
from svdgrad_cli.inputs.loading import non_finite_problem, read_source


def load_cotangents(path: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays of a ``--cotangents`` file (an .npz, or an .npy for a loss with one weight), by
    name, as float64; every array must be one of ``names`` and finite, else a UsageError."""
    arrays: dict[str, np.ndarray] = {}
    for loaded in read_source(path, DEFAULT_MAX_ELEMENTS):
        if isinstance(loaded, InputError):
            raise UsageError(f"--cotangents: {loaded}")
        if isinstance(loaded, Skipped):
            raise UsageError(f"--cotangents: {loaded.source}: {loaded.reason}")
        if isinstance(loaded, Described):  # only a shard's plan describes (shards.py)
            continue
        name = (
            loaded.source.rsplit(":", 1)[1] if ":" in loaded.source else (names[0] if len(names) == 1 else "")
        )
        if name not in names:
            expected = ", ".join(names) or "none (this loss has no weights)"
            raise UsageError(
                f"--cotangents: {loaded.source} is not a weight of this loss; expected {expected}"
            )
        problem = dtype_problem(loaded.array.dtype)
        if problem is None:
            arrays[name] = np.asarray(
                loaded.array, dtype=np.complex128 if loaded.array.dtype.kind == "c" else np.float64
            )
            problem = non_finite_problem(arrays[name])
        if problem:
            raise UsageError(f"--cotangents: {loaded.source}: {problem}")
    return arrays
