"""Happy paths of every loader: what a test writes into a file is exactly what load_cases returns."""

from __future__ import annotations

import io
import os
import threading
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import load_cases

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.loading import DEFAULT_MAX_ELEMENTS, LoadedArray, matrices
from svdgrad_cli.model import MatrixCase

TABLE = np.array([[1.0, 2.5, -3.0], [4e-3, 0.0, 6.25]])


def load(*paths, dtype="auto", max_elements=DEFAULT_MAX_ELEMENTS) -> list:
    return list(load_cases([str(p) for p in paths], dtype, max_elements))


def load_one(path, **options) -> MatrixCase:
    (case,) = load(path, **options)
    assert isinstance(case, MatrixCase), case
    return case


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def fake_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


# ---- .npy


def test_npy_2d_is_one_case_without_index(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, TABLE)
    case = load_one(path)
    assert (case.source, case.index, case.label) == (str(path), (), str(path))
    assert case.array.dtype == np.float64
    np.testing.assert_array_equal(case.array, TABLE)


def test_npy_stack_is_one_case_per_matrix_in_index_order(tmp_path):
    path = tmp_path / "stack.npy"
    stack = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    np.save(path, stack)
    cases = load(path)
    assert [c.index for c in cases] == [(i, j) for i in range(2) for j in range(3)]
    assert cases[5].label == f"{path}[1,2]"
    for case in cases:
        np.testing.assert_array_equal(case.array, stack[case.index])


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_fortran_order_keeps_the_values(tmp_path, shape):
    path = tmp_path / "f.npy"
    array = np.asfortranarray(np.arange(np.prod(shape), dtype=np.float64).reshape(shape))
    np.save(path, array)
    assert b"'fortran_order': True" in path.read_bytes()[:128]
    cases = load(path)
    assert len(cases) == (1 if len(shape) == 2 else shape[0])
    for case in cases:
        np.testing.assert_array_equal(case.array, array[case.index])


@pytest.mark.parametrize(
    ("stored", "loaded"), [(">f8", np.float64), (">f4", np.float32), (">i4", np.float64)]
)
def test_big_endian_data_loads_with_correct_values(tmp_path, stored, loaded):
    path = tmp_path / "be.npy"
    values = np.array([[1.5, -2.0, 3.0], [1e6, 7.0, -8.25]]).astype(stored)
    np.save(path, values)
    assert np.dtype(stored).str.encode() in path.read_bytes()[:128]
    case = load_one(path)
    assert case.array.dtype == loaded
    assert case.array[1, 0] == 1e6
    np.testing.assert_array_equal(case.array, values)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_npy_format_versions(tmp_path, version):
    path = tmp_path / "v.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array(handle, TABLE, version=version)
    assert path.read_bytes()[6:8] == bytes(version)
    np.testing.assert_array_equal(load_one(path).array, TABLE)


def test_content_decides_over_the_name(tmp_path):
    npz_named_npy = tmp_path / "really_a_zip.npy"
    with open(npz_named_npy, "wb") as handle:
        np.savez(handle, m=TABLE)
    npy_named_csv = tmp_path / "really_npy.csv"
    npy_named_csv.write_bytes(npy_bytes(TABLE))
    first, second = load(npz_named_npy, npy_named_csv)
    assert (first.label, second.label) == (f"{npz_named_npy}:m", str(npy_named_csv))
    np.testing.assert_array_equal(first.array, TABLE)
    np.testing.assert_array_equal(second.array, TABLE)


def test_other_suffixes_are_sniffed(tmp_path):
    binary = tmp_path / "matrix.bin"
    binary.write_bytes(npy_bytes(TABLE))
    text = tmp_path / "matrix.dat"
    text.write_text("1 2.5 -3\n0.004 0 6.25\n")
    for path in (binary, text):
        np.testing.assert_array_equal(load_one(path).array, TABLE)


# ---- .npz


def test_npz_members_in_archive_order(tmp_path):
    path = tmp_path / "m.npz"
    stack = np.arange(12.0).reshape(2, 2, 3)
    np.savez(path, zeta=TABLE, alpha=stack)
    cases = load(path)
    assert [c.label for c in cases] == [f"{path}:zeta", f"{path}:alpha[0]", f"{path}:alpha[1]"]
    np.testing.assert_array_equal(cases[0].array, TABLE)
    np.testing.assert_array_equal(cases[2].array, stack[1])


def test_compressed_npz_and_members_without_npy_suffix(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, big=np.ones((40, 50)))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("raw", npy_bytes(TABLE))
    big, raw = load(path)
    assert (big.label, raw.label) == (f"{path}:big", f"{path}:raw")
    np.testing.assert_array_equal(big.array, np.ones((40, 50)))
    np.testing.assert_array_equal(raw.array, TABLE)


def test_npz_directory_entries_are_skipped(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.mkdir("folder")
        archive.writestr("folder/a.npy", npy_bytes(TABLE))
    assert [c.label for c in load(path)] == [f"{path}:folder/a"]


# ---- text


@pytest.mark.parametrize(
    "content",
    [
        b"1,2.5,-3\n0.004,0,6.25\n",
        b"x,y,z\n1,2.5,-3\n0.004,0,6.25\n",
        b"# a comment\n\nx,y,z  # names\n1,2.5,-3 # trailing\n\n# more\n0.004,0,6.25",
        b"\xef\xbb\xbf1,2.5,-3\r\n0.004,0,6.25\r\n",
        b'\xef\xbb\xbf"a","b","c"\r\n"1","2.5","-3"\r\n0.004, "0" ,\'6.25\'\r\n',
        b"1 , 2.5 , -3\n 0.004 ,0, 6.25 \n",
        b"1;2.5;-3\n0.004;0;6.25\n",
        b"1 2.5 -3\n0.004\t0   6.25\n",
        b"1,2.5,-3\r0.004,0,6.25\r",
        b"1e0,25e-1,-3.0\n4E-3,-0,+6.25\n",
    ],
    ids=[
        "plain",
        "header",
        "comments",
        "bom-crlf",
        "quoted",
        "spaces",
        "semicolons",
        "whitespace",
        "cr",
        "exp",
    ],
)
def test_csv_variants_a_user_would_mean(tmp_path, content):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    case = load_one(path)
    assert case.array.dtype == np.float64
    np.testing.assert_array_equal(case.array, TABLE)


def test_text_rows_are_file_rows_and_cells_are_columns(tmp_path):
    path = tmp_path / "rect.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    np.testing.assert_array_equal(load_one(path).array, [[1, 2], [3, 4], [5, 6]])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.tsv", "a\tb\tc\n1\t2.5\t-3\n0.004\t0\t6.25\n"),
        ("t.tsv", "1 2.5 -3\n0.004 0 6.25\n"),
        ("t.txt", "# written by np.savetxt\n 1  2.5\t-3\n\n0.004 0 6.25 \n"),
        ("t.txt", "1,2.5,-3\n0.004,0,6.25\n"),
        ("t.txt", '"1" "2.5" \'-3\'\n0.004 0 6.25\n'),
    ],
)
def test_tsv_and_txt(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    np.testing.assert_array_equal(load_one(path).array, TABLE)


def test_savetxt_output_roundtrips_exactly(tmp_path):
    values = np.random.default_rng(0).standard_normal((7, 5))
    for name, delimiter in (("s.txt", " "), ("s.csv", ","), ("s.tsv", "\t")):
        path = tmp_path / name
        np.savetxt(path, values, delimiter=delimiter, header="generated", fmt="%.17g")
        np.testing.assert_array_equal(load_one(path).array, values)


def test_thousands_of_columns(tmp_path):
    path = tmp_path / "wide.csv"
    values = np.arange(3 * 5000, dtype=np.float64).reshape(3, 5000)
    header = ",".join(f"c{i}" for i in range(5000))
    path.write_text(header + "\n" + "\n".join(",".join(str(int(v)) for v in row) for row in values))
    case = load_one(path)
    assert case.array.shape == (3, 5000)
    np.testing.assert_array_equal(case.array, values)


# ---- stdin


def test_stdin_npy_bytes(monkeypatch):
    fake_stdin(monkeypatch, npy_bytes(TABLE.astype(np.float32)))
    case = load_one("-")
    assert case.label == "-"
    assert case.array.dtype == np.float32
    np.testing.assert_array_equal(case.array, TABLE.astype(np.float32))


def test_stdin_text(monkeypatch):
    fake_stdin(monkeypatch, b"\xef\xbb\xbfx y z\r\n1 2.5 -3\r\n0.004 0 6.25\r\n")
    np.testing.assert_array_equal(load_one("-").array, TABLE)


def test_stdin_csv_is_sniffed(monkeypatch):
    fake_stdin(monkeypatch, b"1,2.5,-3\n0.004,0,6.25\n")
    np.testing.assert_array_equal(load_one("-").array, TABLE)


def test_stdin_npz(monkeypatch):
    buffer = io.BytesIO()
    np.savez(buffer, first=TABLE, second=-TABLE)
    fake_stdin(monkeypatch, buffer.getvalue())
    first, second = load("-")
    assert (first.label, second.label) == ("-:first", "-:second")
    np.testing.assert_array_equal(second.array, -TABLE)


def test_stdin_without_a_binary_buffer_is_read_as_text(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("1 2.5 -3\n0.004 0 6.25\n"))
    np.testing.assert_array_equal(load_one("-").array, TABLE)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_that_cannot_seek_is_read_whole(tmp_path):
    pipe = tmp_path / "pipe.npz"
    os.mkfifo(pipe)
    data = io.BytesIO()
    np.savez(data, m=TABLE)

    def write() -> None:
        with open(pipe, "wb") as handle:
            handle.write(data.getvalue())

    writer = threading.Thread(target=write)
    writer.start()
    try:
        case = load_one(pipe)
    finally:
        writer.join(timeout=10)
    assert case.label == f"{pipe}:m"
    np.testing.assert_array_equal(case.array, TABLE)


# ---- paths


def test_directories_are_walked_recursively_in_sorted_order(tmp_path):
    root = tmp_path / "data"
    (root / "b_dir" / "deeper").mkdir(parents=True)
    (root / "a_dir").mkdir()
    np.save(root / "z.npy", TABLE)
    (root / "m.csv").write_text("1,2\n3,4\n")
    (root / "notes.md").write_text("not a matrix")
    (root / "data.json").write_text("[[1, 2]]")
    np.save(root / "b_dir" / "deeper" / "x.npy", TABLE)
    (root / "b_dir" / "Y.TXT").write_text("5 6\n7 8\n")
    np.savez(root / "a_dir" / "p.npz", q=TABLE)
    labels = [c.label for c in load(root)]
    assert labels == [
        f"{root}/m.csv",
        f"{root}/z.npy",
        f"{root}/a_dir/p.npz:q",
        f"{root}/b_dir/Y.TXT",
        f"{root}/b_dir/deeper/x.npy",
    ]


def test_directory_without_matrix_files(tmp_path):
    (tmp_path / "readme.md").write_text("nothing here")
    (error,) = load(tmp_path)
    assert isinstance(error, InputError)
    assert error.source == str(tmp_path)
    assert "no matrix files" in error.problem


def test_missing_path_is_an_error_in_its_place(tmp_path):
    good = tmp_path / "a.npy"
    np.save(good, TABLE)
    missing = tmp_path / "nope.npy"
    error, case = load(missing, good)
    assert isinstance(error, InputError)
    assert str(error) == f"{missing}: no such file or directory"
    assert case.label == str(good)


def test_unlistable_subdirectory_is_reported(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    np.save(tmp_path / "z.npy", TABLE)
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    case, error = load(tmp_path)
    assert case.label == str(tmp_path / "z.npy")
    assert str(error) == f"{tmp_path / 'locked'}: cannot list this directory (Permission denied)"


# ---- dtypes


@pytest.mark.parametrize(
    ("stored", "requested", "expected"),
    [
        (np.float32, "auto", np.float32),
        (np.float16, "auto", np.float32),
        (np.float64, "auto", np.float64),
        (np.int32, "auto", np.float64),
        (np.int64, "auto", np.float64),
        (np.uint8, "auto", np.float64),
        (np.float64, "float32", np.float32),
        (np.float32, "float64", np.float64),
        (np.int16, "float32", np.float32),
    ],
)
def test_dtype_handling_for_npy(tmp_path, stored, requested, expected):
    path = tmp_path / "d.npy"
    values = np.array([[1, 2, 3], [4, 5, 250]], dtype=stored)
    np.save(path, values)
    case = load_one(path, dtype=requested)
    assert case.array.dtype == expected
    np.testing.assert_array_equal(case.array, values.astype(expected))


@pytest.mark.parametrize(("requested", "expected"), [("auto", np.float64), ("float32", np.float32)])
def test_dtype_handling_for_text(tmp_path, requested, expected):
    path = tmp_path / "d.csv"
    path.write_text("0.1,2\n3,4\n")
    case = load_one(path, dtype=requested)
    assert case.array.dtype == expected
    np.testing.assert_array_equal(case.array, np.array([[0.1, 2], [3, 4]]).astype(expected))


def test_matrices_of_an_array_in_memory():
    stack = np.arange(8, dtype=np.int64).reshape(2, 2, 2)
    cases = list(matrices(LoadedArray("<array>", stack), "auto"))
    assert [c.label for c in cases] == ["<array>[0]", "<array>[1]"]
    np.testing.assert_array_equal(cases[1].array, [[4.0, 5.0], [6.0, 7.0]])
    assert cases[1].array.dtype == np.float64
