"""``check_eigh(array, ...)``: ``svdgrad check --decomposition eigh`` from Python, for one symmetric
(Hermitian) matrix or a stack (..., n, n); an EighRun (eigh_model.py) whose ``reports`` hold each
matrix's verdicts and whose ``errors`` the matrices that could not be checked (not symmetric, ...)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.eigh_model import EighRun
from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.arrays import LoadedArray
from svdgrad_cli.inputs.loading import matrices
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.pipeline.eigh_check import record


def _quiet(line: str) -> None:
    return None


def check_eigh(
    array, loss="eigsum", backends=None, dtype="auto", seed=0, symmetrize=False, cotangents=None
) -> EighRun:
    """Judge each framework's (or plug-in spec's) gradient of ``loss`` at ``array``; ``cotangents``:
    a dict of the loss's weights, as ``--cotangents`` gives them (``loss="wq"``: C_w, C_Q)."""
    parsed = parse_eigh_loss(loss)
    if cotangents is not None:
        unknown = sorted(set(cotangents) - set(parsed.weight_shapes(2)))
        if unknown:
            raise UsageError(f"cotangents {', '.join(unknown)}: not weights of loss {parsed.name}")
        parsed = replace(parsed, given={key: np.asarray(value) for key, value in cotangents.items()})
    resolved = eigh_backends(tuple(backends or ()))
    run = EighRun()
    for case in matrices(LoadedArray("<array>", np.asarray(array)), dtype):
        record(case, parsed, resolved, seed, symmetrize, run, _quiet)
    return run
