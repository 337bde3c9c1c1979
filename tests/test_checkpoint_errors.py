"""Checkpoints that are damaged, mislabelled or hold more than weights, written by the real libraries:
corrupt data is one error naming the tensor (found by the zip's own CRC-32s, as ``testzip`` finds
it), a file that is no PyTorch checkpoint says so, and bool and integer tensors are skipped."""

from __future__ import annotations

import io
import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli.cli import cli
from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.loading import load_files

torch = pytest.importorskip("torch")


def load(path, **options) -> list:
    return list(load_files([str(path)], **options))


def run(runner, *args):
    return runner.invoke(cli, ["check", *map(str, args), "-b", "autograd"], env={"COLUMNS": "300"})


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("svdgrad: error:")]


def state() -> dict:
    torch.manual_seed(0)
    return {
        "encoder.weight": torch.randn(6, 8),
        "head.weight": torch.randn(3, 6),
        "head.bias": torch.randn(3),
    }


def flipped(content: bytes, inside: bytes, bits: int = 0xFF) -> bytes:
    """The file with ``bits`` of one byte inverted in the middle of where ``inside`` is stored."""
    at = content.index(inside) + len(inside) // 2
    return content[:at] + bytes([content[at] ^ bits]) + content[at + 1 :]


def saved(value, **options) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer, **options)
    return buffer.getvalue()


# ---- corrupt data inside a zip checkpoint


@pytest.fixture
def corrupt(tmp_path) -> tuple[Path, dict]:
    """A checkpoint whose head.weight bytes were damaged after torch.save wrote them."""
    weights = state()
    path = tmp_path / "corrupt.pt"
    path.write_bytes(flipped(saved(weights), weights["head.weight"].numpy().tobytes()))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is not None  # the zip's own check finds it
    return path, weights


def test_corrupt_tensor_data_is_one_error_naming_the_tensor(corrupt):
    path, weights = corrupt
    items = load(path)
    errors = [item for item in items if isinstance(item, InputError)]
    assert [error.source for error in errors] == [f"{path}:head.weight"]
    assert "fails the checkpoint's CRC-32 check" in errors[0].problem
    (case,) = [item for item in items if isinstance(item, MatrixCase)]  # the other weight is still read
    assert case.label == f"{path}:encoder.weight"
    np.testing.assert_array_equal(case.array, weights["encoder.weight"].numpy())


def test_tensors_not_read_are_not_verified(corrupt):
    path, _ = corrupt
    items = load(path, select=("encoder.*",))
    assert not any(isinstance(item, InputError) for item in items)
    assert [item.label for item in items if isinstance(item, MatrixCase)] == [f"{path}:encoder.weight"]


def test_torch_itself_reads_the_corrupt_tensor_silently(corrupt):
    path, weights = corrupt
    loaded = torch.load(path, weights_only=True, mmap=True)  # what svdgrad guards against
    assert not torch.equal(loaded["head.weight"], weights["head.weight"])


def test_a_corrupt_checkpoint_beside_good_files_is_one_line_and_exit_2(runner, corrupt):
    path, _ = corrupt
    np.save(path.parent / "good.npy", np.eye(3))
    result = run(runner, path.parent, "-f", "json")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert error_lines(result) == [
        f"svdgrad: error: {path}:head.weight: its data fails the checkpoint's CRC-32 check: "
        "the file was damaged after it was saved"
    ]
    checked = [r["source"] for r in json.loads(result.stdout)["results"] if r["status"] == "checked"]
    assert checked == [f"{path}:encoder.weight", str(path.parent / "good.npy")]


def test_damaged_tensor_names_are_one_error_for_the_file(tmp_path):
    path = tmp_path / "names.pt"
    path.write_bytes(flipped(saved(state()), b"encoder.weight", 0x20))  # a letter's case
    assert set(torch.load(path, weights_only=True)) != set(state())  # torch reads the damaged names
    (error,) = load(path)
    assert isinstance(error, InputError) and error.source == str(path)
    assert error.problem.endswith("data.pkl (the tensors' names and layout) fails its CRC-32 check: "
                                  "the file was damaged after it was saved")  # fmt: skip


def test_tensors_sharing_one_storage_read_it_once_and_both_are_found(tmp_path):
    base = torch.arange(24.0).reshape(4, 6)
    path = tmp_path / "tied.pt"
    torch.save({"a": base, "b": base[1:3]}, path)
    cases = {item.label: item.array for item in load(path)}
    np.testing.assert_array_equal(cases[f"{path}:a"], base.numpy())
    np.testing.assert_array_equal(cases[f"{path}:b"], base.numpy()[1:3])


def test_a_checkpoint_of_the_other_byte_order_is_verified_as_stored(tmp_path):
    """torch swaps such a file's storages in memory as it loads; the CRC is of the bytes stored."""
    weights = {
        "real": torch.randn(3, 4, dtype=torch.float64),
        "complex": torch.randn(2, 3, dtype=torch.complex64),
    }
    other = "big" if sys.byteorder == "little" else "little"
    stored = {name: value.clone() for name, value in weights.items()}
    for value in stored.values():  # what the other machine would have written: each number swapped
        numbers = torch.view_as_real(value) if value.is_complex() else value
        numbers.view(torch.uint8).reshape(*numbers.shape, -1).copy_(
            numbers.view(torch.uint8).reshape(*numbers.shape, -1).flip(-1)
        )
    source = zipfile.ZipFile(io.BytesIO(saved(stored)))
    path = tmp_path / "other_order.pt"
    with zipfile.ZipFile(path, "w") as archive:
        for info in source.infolist():
            data = other.encode() if info.filename.endswith("/byteorder") else source.read(info)
            archive.writestr(info.filename, data)
    loaded = torch.load(path, weights_only=True, mmap=True)
    assert all(torch.equal(loaded[name], value) for name, value in weights.items())  # torch swaps back
    cases = {item.label: item for item in load(path)}
    assert set(cases) == {f"{path}:real", f"{path}:complex"}
    np.testing.assert_array_equal(cases[f"{path}:real"].array, weights["real"].numpy())
    np.testing.assert_array_equal(cases[f"{path}:complex"].array, weights["complex"].numpy())


# ---- files named as PyTorch checkpoints that are not


NOT_A_CHECKPOINT = (
    "not a readable PyTorch checkpoint: neither a zip checkpoint (what torch.save writes) "
    "nor a legacy torch.save pickle"
)


@pytest.mark.parametrize("name", ["garbage.pt", "garbage.pth", "optimizer_blob.bin"])
def test_random_bytes_with_a_pytorch_suffix_are_not_a_checkpoint(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    assert path.read_bytes()[:1] not in (b"\x80", b"P")  # neither pickle 2+ nor zip
    (error,) = load(path)
    assert str(error) == f"{path}: {NOT_A_CHECKPOINT}"


def test_a_protocol_0_pickle_is_not_a_checkpoint_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Payload()}, protocol=0))
    (error,) = load(path)
    assert str(error) == f"{path}: {NOT_A_CHECKPOINT}"
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 1])
def test_a_legacy_checkpoint_of_protocol_0_or_1_says_so(tmp_path, protocol):
    path = tmp_path / "old.pt"
    path.write_bytes(saved(state(), _use_new_zipfile_serialization=False, pickle_protocol=protocol))
    with pytest.raises(pickle.UnpicklingError):  # torch's weights-only loader cannot read it
        torch.load(path, weights_only=True)
    (error,) = load(path)
    assert error.problem.startswith("a legacy torch.save file of pickle protocol 0 or 1, which "
                                    "torch.load(weights_only=True) cannot read")  # fmt: skip


def test_a_directory_says_a_random_bin_is_no_checkpoint_and_checks_the_rest(runner, tmp_path):
    (tmp_path / "optimizer_blob.bin").write_bytes(bytes([0xD2]) + np.random.default_rng(1).bytes(999))
    np.save(tmp_path / "good.npy", np.eye(3))
    result = run(runner, tmp_path, "-f", "json")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert error_lines(result) == [f"svdgrad: error: {tmp_path / 'optimizer_blob.bin'}: {NOT_A_CHECKPOINT}"]
    checked = [r["source"] for r in json.loads(result.stdout)["results"] if r["status"] == "checked"]
    assert checked == [str(tmp_path / "good.npy")]


def test_a_truncated_zip_checkpoint_says_its_archive_is_damaged(tmp_path):
    content = saved(state())
    path = tmp_path / "truncated.pt"
    path.write_bytes(content[: len(content) // 2])
    (error,) = load(path)
    assert error.problem.startswith("not a valid PyTorch checkpoint: its zip archive is truncated or damaged")
    assert "mmap" not in error.problem


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
