"""Shared fixtures (the helpers they share with tests are in helpers.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import SEED_FULL_RANK, SEED_RANK2

from svdgrad_cli import register_backend, unregister_backend
from svdgrad_cli.backends import registry


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def interrupting():
    """A backend that answers its first call (zeros for a gradient) and meets Ctrl-C at its second:
    ``.name`` to pass to -b, ``.reset()`` to count from the first call again."""
    calls = []

    def compute(stack, loss):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return np.linalg.svd(stack, compute_uv=False), np.zeros_like(stack)

    register_backend("interrupting", compute)
    yield SimpleNamespace(name="interrupting", reset=calls.clear)
    unregister_backend("interrupting")


@pytest.fixture
def seed_files(tmp_path):
    rank2 = tmp_path / "seed_rank2.npy"
    full = tmp_path / "seed_full_rank.npy"
    np.save(rank2, SEED_RANK2)
    np.save(full, SEED_FULL_RANK)
    return rank2, full


@pytest.fixture
def hosted(monkeypatch):
    """A registry of hosted workers of this test's own, all ended after it."""
    workers: dict[str, object] = {}
    monkeypatch.setattr(registry, "_hosted", workers)
    yield workers
    for worker in workers.values():
        worker.close()


@pytest.fixture
def eigh_exact_plugin(tmp_path, monkeypatch):
    """helpers.EIGH_EXACT importable from the test's working directory (tmp_path)."""
    (tmp_path / "eigh_sweep_plugin.py").write_text(
        "import numpy as np\n\ndef eigsum(stack, loss):\n"
        "    return np.linalg.eigvalsh(stack), np.broadcast_to(np.eye(stack.shape[-1]), stack.shape).copy()\n"
    )
    monkeypatch.chdir(tmp_path)
