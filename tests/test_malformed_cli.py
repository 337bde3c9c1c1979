"""Every kind of bad input through the command line: one line naming the file, exit 2, no traceback."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from svdgrad_cli.cli import cli


def npy(array, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def huge_header() -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
    )
    return buffer.getvalue()


def zip_with(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


CASES = {
    "cells.csv": (b"1,2\n3,abc\n", "row 2, column 2"),
    "ragged.txt": (b"1 2 3\n4 5\n", "row 2"),
    "empty.csv": (b"", "no numbers"),
    "header_only.csv": (b"a,b,c\n", "only a header row"),
    "binary.txt": (b"1 2\n\x00\x01\x02\n", "binary"),
    "latin1.csv": ("1,2\n3,\xe9\n".encode("latin1"), "not UTF-8"),
    "nan.csv": (b"1,2\n3,nan\n", "NaN/Inf"),
    "truncated.npy": (npy(np.ones((4, 4)))[:-10], "truncated"),
    "corrupt.npz": (b"PK\x03\x04garbage", ".npz"),
    "member.npz": (zip_with("notes.txt", b"hello"), "notes"),
    "objects.npy": (npy(np.array([{"a": 1}], dtype=object), allow_pickle=True), "Python objects"),
    "bool.npy": (npy(np.ones((2, 2), dtype=bool)), "bool"),
    "text.npy": (npy(np.array([["a", "b"]])), "not numbers"),
    "scalar.npy": (npy(np.float64(3.0)), "not a matrix"),
    "vector.npy": (npy(np.ones(5)), "1-D"),
    "zero_size.npy": (npy(np.ones((0, 3))), "no entries"),
    "huge.npy": (huge_header(), "--max-elements"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_is_one_clear_line_and_exit_2(runner, tmp_path, name):
    content, expected = CASES[name]
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(cli, ["check", str(path), "-b", "autograd"])
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("svdgrad: error:")]
    assert len(error_lines) == 1
    assert str(path) in error_lines[0]
    assert expected.lower() in error_lines[0].lower()


def test_pickle_payload_never_runs(runner, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npy"
    path.write_bytes(npy(np.array([Payload()], dtype=object), allow_pickle=True))
    marker.unlink(missing_ok=True)  # np.save does not run the payload, but be sure
    result = runner.invoke(cli, ["check", str(path), "-b", "autograd"])
    assert result.exit_code == 2
    assert not marker.exists()


def test_good_files_beside_bad_ones_are_still_checked(runner, tmp_path):
    for name, (content, _) in CASES.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "good.npy", np.eye(3))
    result = runner.invoke(cli, ["check", str(tmp_path), "-b", "autograd", "-f", "json"])
    assert result.exit_code == 2
    assert '"verdict": "agree"' in result.stdout
    assert result.stdout.count('"status": "error"') == len(CASES)
