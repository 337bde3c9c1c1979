"""Checkpoints that hold more than weights, written by the real libraries: bool and integer tensors
are skipped with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli.cli import cli
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.loading import load_files

torch = pytest.importorskip("torch")


def load(path, **options) -> list:
    return list(load_files([str(path)], **options))


def run(runner, *args):
    return runner.invoke(cli, ["check", *map(str, args), "-b", "autograd"], env={"COLUMNS": "300"})


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("svdgrad: error:")]


# ---- bool and integer tensors: bookkeeping, not weights


def bookkeeping_files(folder: Path) -> list[Path]:
    """The same weight, mask and position ids in every checkpoint format."""
    import h5py
    import safetensors.numpy

    weight = np.arange(12, dtype=np.float32).reshape(3, 4) ** 1.5
    tensors = {"weight": weight, "mask": np.tril(np.ones((3, 3), bool)), "position_ids": np.arange(8)[None]}
    safetensors.numpy.save_file(tensors, folder / "model.safetensors")
    torch.save({name: torch.from_numpy(value) for name, value in tensors.items()}, folder / "model.pt")
    with h5py.File(folder / "model.h5", "w") as handle:
        for name, value in tensors.items():
            handle.create_dataset(name, data=value)
    return [folder / name for name in ("model.safetensors", "model.pt", "model.h5")]


def test_bool_and_integer_tensors_are_skipped_with_the_reason(tmp_path):
    for path in bookkeeping_files(tmp_path):
        items = load(path)
        skipped = {item.source: item.reason for item in items if isinstance(item, Skipped)}
        assert skipped == {
            f"{path}:mask": "a bool tensor (a mask), not a matrix of numbers",
            f"{path}:position_ids": "an integer tensor (int64: indices or counts), not weights",
        }
        (case,) = [item for item in items if isinstance(item, MatrixCase)]
        assert case.label == f"{path}:weight"
        np.testing.assert_array_equal(case.array, np.arange(12, dtype=np.float32).reshape(3, 4) ** 1.5)


def test_a_checkpoint_with_masks_and_ids_exits_0_and_names_them(runner, tmp_path):
    bookkeeping_files(tmp_path)
    result = run(runner, tmp_path, "-v")
    assert result.exit_code == 0 and error_lines(result) == []
    assert result.stderr.count("a bool tensor (a mask), not a matrix of numbers") == 3
    assert result.stderr.count("an integer tensor (int64: indices or counts), not weights") == 3


def test_integer_npy_and_npz_arrays_are_still_matrices(tmp_path):
    """Outside checkpoints an integer array is what the user saved as a matrix (README: as float64)."""
    values = np.array([[3, 1], [4, 1], [5, 9]])
    np.save(tmp_path / "ints.npy", values)
    np.savez(tmp_path / "ints.npz", m=values)
    for path, label in ((tmp_path / "ints.npy", "ints.npy"), (tmp_path / "ints.npz", "ints.npz:m")):
        (case,) = load(path)
        assert case.label == str(tmp_path / label) and case.array.dtype == np.float64
        np.testing.assert_array_equal(case.array, values)
