"""Shared test helpers (imported as ``from helpers import ...``; conftest.py keeps the fixtures): the
seed post's matrices, matrices with exactly known singular values, and every matrix of some paths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS
from svdgrad_cli.inputs.loading import load_files

# The two matrices of ../shared/seed, exactly as the post builds them (shape 1x5x5, float32).
SEED_RANK2 = np.array(
    [[[1, 2, 3, 4, 5], [6, 7, 8, 9, 0], [1, 2, 3, 4, 5], [6, 7, 8, 9, 0], [1, 2, 3, 4, 5]]],
    dtype=np.float32,
)
SEED_FULL_RANK = np.array(
    [[[2, 2, 3, 4, 5], [6, 7, 2, 9, 0], [1, 2, 2, 4, 5], [6, 2, 8, 9, 0], [1, 2, 3, 4, 5]]],
    dtype=np.float32,
)
# The gradient the post prints for the full-rank matrix (autograd and TensorFlow agree on it).
SEED_FULL_RANK_GRADIENT = np.array(
    [
        [0.6523, 0.0744, 0.159, -0.2673, 0.6872],
        [0.3692, 0.7379, -0.2595, 0.4647, -0.1895],
        [-0.1738, -0.3197, -0.3244, 0.6852, 0.5411],
        [0.3227, -0.2817, 0.7171, 0.4887, -0.2518],
        [-0.5512, 0.5181, 0.5365, 0.0651, 0.3683],
    ]
)
SEED_FULL_RANK_VALUES = np.array([20.6259, 7.8468, 5.5151, 0.6618, 0.3809])
# TensorFlow's gradient for the rank-2 matrix as the post prints it.
SEED_RANK2_TF_GRADIENT = np.array(
    [
        [-0.7078, 0.4885, 0.0953, 0.2866, 0.4112],
        [0.0401, -0.1484, 0.6581, 0.645, -0.3567],
        [0.326, -0.263, -0.3958, 0.6185, 0.5342],
        [0.5805, 0.8075, 0.0395, 0.0912, -0.0329],
        [0.2327, -0.1343, 0.6321, -0.3332, 0.6459],
    ]
)


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def with_singular_values(values, shape, seed: int = 0) -> np.ndarray:
    """A matrix of the given shape with exactly these singular values, in random bases."""
    rng = np.random.default_rng(seed)
    m, n = shape
    u = random_orthogonal(m, rng)[:, : len(values)]
    v = random_orthogonal(n, rng)[:, : len(values)]
    return (u * np.asarray(values, dtype=np.float64)) @ v.T


def load_cases(
    paths: list[str], dtype: str = "auto", max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Iterator[MatrixCase | InputError | Skipped]:
    """Every matrix named by ``paths`` (files, directories, ``-``), or an InputError (or a Skipped
    tensor) in its place."""
    yield from load_files(collect_files(paths).entries, dtype, max_elements)


EIGH_EXACT = (
    "python:eigh_sweep_plugin:eigsum"  # an eigh plug-in (conftest.eigh_exact_plugin): I, eigsum's gradient
)


def slurm_task(script: str, task: int, count: int, folder: Path) -> subprocess.CompletedProcess:
    """Task ``task`` of a SLURM-style array of ``count``, run through bash as a job script runs: the
    array's variables set, $SVDGRAD this checkout's svdgrad, $DIR ``folder``."""
    env = os.environ | {
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_COUNT": str(count),
        "PYTHONPATH": str(Path(__file__).parent.parent),
        "SVDGRAD": f"{sys.executable} -m svdgrad_cli",
        "DIR": str(folder),
    }
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600)
