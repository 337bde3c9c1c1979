"""Malformed, hostile and refused input: every case is an InputError naming the problem, never a crash."""

from __future__ import annotations

import io
import pathlib
import struct
import tracemalloc
import types
import zipfile

import numpy as np
import pytest
from helpers import load_cases

import svdgrad_cli
from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs import loading
from svdgrad_cli.inputs import text as textparse
from svdgrad_cli.inputs.loading import DEFAULT_MAX_ELEMENTS, LoadedArray, matrices
from svdgrad_cli.model import MatrixCase

NPY_MAGIC = b"\x93NUMPY"


def load(*paths, dtype="auto", max_elements=DEFAULT_MAX_ELEMENTS) -> list:
    return list(load_cases([str(p) for p in paths], dtype, max_elements))


def error_of(path, **options) -> InputError:
    """The one InputError that loading ``path`` gives; its source must be the path."""
    (error,) = load(path, **options)
    assert isinstance(error, InputError), error
    assert error.source == str(path)
    assert str(error) == f"{path}: {error.problem}"
    return error


def problem_of_text(tmp_path, content: bytes | str, name: str = "t.csv", **options) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return error_of(path, **options).problem


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def raw_npy(header: str | bytes, version: tuple[int, int] = (1, 0), data: bytes = b"") -> bytes:
    """An NPY file with an arbitrary header text, for headers numpy itself would never write."""
    encoded = header.encode("latin1") if isinstance(header, str) else header
    length = struct.pack("<H" if version == (1, 0) else "<I", len(encoded))
    return NPY_MAGIC + bytes(version) + length + encoded + data


def write_header_only(path, shape, descr="<f8", version=(1, 0)) -> None:
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    with open(path, "wb") as handle:
        if version == (1, 0):
            np.lib.format.write_array_header_1_0(handle, header)
        else:
            np.lib.format.write_array_header_2_0(handle, header)


# ---- text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("1,2,3\n4,abc,6\n", "row 2, column 2: cannot read 'abc' as a number"),
        ("# c\n\n1,2\n3,4 # ok\n5,x\n", "row 5, column 2: cannot read 'x' as a number"),
        ("1,,3\n", "row 1, column 2: empty cell"),
        ("1,2,3,\n", "row 1, column 4: empty cell"),
        ("1,2,3\n4,5\n", "row 2, column 3: a missing value; this row has 2 values, the rows above have 3"),
        (
            "1,2\n3,4\n5,6,7\n",
            "row 3, column 3: an extra value; this row has 3 values, the rows above have 2",
        ),
        ("a,b\nc,d\n1,2\n", "row 2, column 1: cannot read 'c' as a number"),
        ("1,2\na,b\n", "row 2, column 1: cannot read 'a' as a number"),
        (
            "1.5,abcdefghijklmnopqrstuvwxyz\n",
            "row 1, column 2: cannot read 'abcdefghijklmnopq...' as a number",
        ),
        ("1;2,5\n3;4\n", "row 1, column 2: cannot read '2,5' as a number (decimal commas are not supported"),
        ('"1,234",5\n', "row 1, column 1: cannot read '1,234' as a number"),
        ("0x10,1\n", "row 1, column 1: cannot read '0x10' as a number"),
    ],
)
def test_bad_cells_name_row_and_column(tmp_path, content, expected):
    assert problem_of_text(tmp_path, content).startswith(expected)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty, no numbers"),
        (b"\xef\xbb\xbf", "empty, no numbers"),
        (b"\n\n  \r\n", "only comments and blank lines, no numbers"),
        (b"# just a comment\n#another\n", "only comments and blank lines, no numbers"),
        (b"x,y,z\n", "only a header row, no numbers"),
        (b'# units: m\n"x","y"\r\n\r\n# end\n', "only a header row, no numbers"),
    ],
)
def test_files_without_numbers_say_why(tmp_path, content, expected):
    assert problem_of_text(tmp_path, content) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"1,2\n3,\x004\n", "line 2, byte 3: a NUL byte, so binary data, not a text matrix"),
        (b"1,2\n3,4\xff\n", "line 2, byte 4: 0xff is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "line 1, byte 1: 0x89 is not UTF-8 text"),
        (b"\x1f\x8b\x08\x00", "line 1, byte 4: a NUL byte, so binary data, not a text matrix"),
    ],
)
def test_binary_bytes_in_text(tmp_path, content, expected):
    assert problem_of_text(tmp_path, content, name="t.txt") == expected


def test_text_is_guarded_while_reading(tmp_path):
    rows = "\n".join("1,2,3" for _ in range(10))
    assert problem_of_text(tmp_path, rows, max_elements=20) == (
        "more than 20 values (at row 7); raise --max-elements to check it anyway"
    )
    assert "more than 5 values (at row 1)" in problem_of_text(tmp_path, "1,2,3,4,5,6\n", max_elements=5)


def test_text_at_the_limit_is_accepted(tmp_path):
    path = tmp_path / "limit.csv"
    path.write_text("1,2,3\n4,5,6\n")
    (case,) = load(path, max_elements=6)
    np.testing.assert_array_equal(case.array, [[1, 2, 3], [4, 5, 6]])


def test_overlong_line_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(textparse, "MAX_LINE_BYTES", 100)
    problem = problem_of_text(tmp_path, "1,2\n" + "1," * 100 + "\n", name="t.txt")
    assert problem == "line 2 is longer than 100 bytes"
    binary = problem_of_text(tmp_path, b"\x01" * 99 + b"\x00" * 200, name="t.txt")
    assert binary == "line 1, byte 100: a NUL byte, so binary data, not a text matrix"


def test_csv_field_limit_is_an_input_error(tmp_path):
    problem = problem_of_text(tmp_path, '1,"' + "9" * 200_000 + '"\n')
    assert problem.startswith("row 1: field larger than field limit")


def test_text_on_stdin_reports_the_dash(monkeypatch):
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(b"1 2\n3 four\n")))
    (error,) = load("-")
    assert str(error) == "-: row 2, column 2: cannot read 'four' as a number"


def test_no_stdin_at_all(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    (error,) = load("-")
    assert str(error) == "-: there is no standard input"


# ---- values


def test_nan_and_inf_are_input_errors_with_count_and_first_position(tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.array([[1.0, 2.0, 3.0], [4.0, 5.0, np.nan], [np.inf, 0.0, -np.inf]]))
    assert error_of(path).problem == "3 NaN/Inf value(s) (first at row 2, column 3) in the input"


def test_nan_in_text(tmp_path):
    problem = problem_of_text(tmp_path, "1,2\n3,nan\n")
    assert problem == "1 NaN/Inf value(s) (first at row 2, column 2) in the input"


def test_nan_inside_a_stack_only_fails_its_own_matrix(tmp_path):
    path = tmp_path / "stack.npy"
    stack = np.ones((3, 2, 2))
    stack[1, 0, 1] = np.inf
    np.save(path, stack)
    first, bad, last = load(path)
    assert isinstance(first, MatrixCase) and isinstance(last, MatrixCase)
    assert (first.index, last.index) == ((0,), (2,))
    assert isinstance(bad, InputError)
    assert str(bad) == f"{path}[1]: 1 NaN/Inf value(s) (first at row 1, column 2) in the input"


def test_overflow_when_casting_to_float32(tmp_path):
    path = tmp_path / "big.npy"
    np.save(path, np.array([[1.0, 1e300], [1e39, 0.0]]))
    problem = error_of(path, dtype="float32").problem
    assert problem == (
        "2 NaN/Inf value(s) (first at row 1, column 2) after conversion to float32 (too large for it); "
        "try --dtype float64"
    )
    (case,) = load(path)
    assert case.array[0, 1] == 1e300


# ---- .npy: shape and dtype


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.float64(3.0), "a single number, not a matrix: svdgrad needs shape (m, n) or (..., m, n)"),
        (np.arange(4.0), "a 1-D array of length 4, not a matrix: svdgrad needs shape (m, n) or (..., m, n)"),
        (np.zeros((0, 3)), "shape (0, 3) has no entries"),
        (np.zeros((2, 0, 3)), "shape (2, 0, 3) has no entries"),
        (np.ones((2, 2), dtype=bool), "holds bool data (|b1), not numbers"),
        (np.array([["a", "b"], ["c", "d"]]), "holds text (str) data (<U1), not numbers"),
        (np.array([[b"a", b"b"]]), "holds bytes data (|S1), not numbers"),
        (np.zeros((2, 2), dtype="datetime64[s]"), "holds datetime data (<M8[s]), not numbers"),
        (np.zeros((2, 2), dtype="V4"), "holds raw data (|V4), not numbers"),
    ],
)
def test_arrays_that_are_not_numeric_matrices(tmp_path, array, expected):
    path = tmp_path / "a.npy"
    np.save(path, array)
    assert error_of(path).problem == expected
    assert [str(e) for e in matrices(LoadedArray("mem", np.asarray(array)), "auto")] == [f"mem: {expected}"]


def test_structured_dtype(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.zeros((2, 2), dtype=[("x", "<f8"), ("y", "<i4")]))
    problem = error_of(path).problem
    assert problem.startswith("has a structured dtype")
    assert "not plain numbers" in problem


class Evil:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_object_array_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.npy"
    marker = tmp_path / "pwned"
    np.save(path, np.array([[Evil(marker)]], dtype=object), allow_pickle=True)
    assert not marker.exists()
    assert error_of(path).problem == "holds Python objects; svdgrad never unpickles (numbers only)"
    assert not marker.exists()
    # The payload is live: numpy with allow_pickle=True would have run it.
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_object_array_inside_npz_and_structured_object_field(tmp_path):
    path = tmp_path / "evil.npz"
    marker = tmp_path / "pwned"
    np.savez(path, ok=np.eye(2), evil=np.array([[Evil(marker)]], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(
            "mixed.npy",
            raw_npy("{'descr': [('a', '<f8'), ('b', '|O')], 'fortran_order': False, 'shape': (2, 2), }"),
        )
    ok, evil, mixed = load(path)
    assert isinstance(ok, MatrixCase)
    assert str(evil) == f"{path}:evil: holds Python objects; svdgrad never unpickles (numbers only)"
    assert str(mixed) == f"{path}:mixed: holds Python objects; svdgrad never unpickles (numbers only)"
    assert not marker.exists()


def test_no_loader_ever_allows_pickle():
    package = pathlib.Path(svdgrad_cli.__file__).parent
    offenders = [p.name for p in package.rglob("*.py") if "allow_pickle=True" in p.read_text()]
    assert offenders == []


# ---- .npy: size guard


def test_huge_declared_shape_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npy"
    write_header_only(path, (100000, 100000))
    assert error_of(path).problem == (
        "declares shape (100000, 100000) (10,000,000,000 values), over the limit of 67,108,864; "
        "raise --max-elements to check it anyway"
    )


def test_size_guard_with_format_2_and_absurd_dimensions(tmp_path):
    path = tmp_path / "absurd.npy"
    write_header_only(path, (2**70, 2**70, 3), version=(2, 0))
    assert "over the limit of 67,108,864; raise --max-elements" in error_of(path).problem
    write_header_only(path, (0, 2**70))
    assert error_of(path).problem == f"shape (0, {2**70}) has no entries"


def test_size_guard_boundary(tmp_path):
    path = tmp_path / "edge.npy"
    np.save(path, np.arange(12.0).reshape(3, 4))
    (case,) = load(path, max_elements=12)
    np.testing.assert_array_equal(case.array, np.arange(12.0).reshape(3, 4))
    assert "(12 values), over the limit of 11" in error_of(path, max_elements=11).problem


def test_a_lying_header_costs_no_memory(tmp_path):
    path = tmp_path / "liar.npy"
    write_header_only(path, (2**12, 2**13))  # 256 MiB declared, none present
    tracemalloc.start()
    try:
        error = error_of(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.problem == "truncated: data of shape (4096, 8192) (<f8) needs 268,435,456 bytes, found 0"
    assert peak < 64 * 2**20


def test_npz_member_is_size_guarded_before_reading(tmp_path):
    path = tmp_path / "bomb.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**5, 10**5)}
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.npy", header.getvalue() + bytes(20 * 2**20))  # 20 MiB of zeros, ~20 KiB zipped
        archive.writestr("small.npy", npy_bytes(np.eye(2)) + bytes(20 * 2**20))  # trailing junk is never read
    assert path.stat().st_size < 2**20
    big, small = load(path)
    assert isinstance(big, InputError)
    assert str(big).startswith(f"{path}:big: declares shape (100000, 100000) (10,000,000,000 values)")
    assert "--max-elements" in big.problem
    np.testing.assert_array_equal(small.array, np.eye(2))


# ---- .npy: corrupt headers and data


def test_truncated_data(tmp_path):
    path = tmp_path / "cut.npy"
    path.write_bytes(npy_bytes(np.ones((3, 4)))[:-56])
    assert error_of(path).problem == "truncated: data of shape (3, 4) (<f8) needs 96 bytes, found 40"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file, not a .npy array"),
        (b"1,2\n3,4\n", "not a .npy array: it does not start with the NPY magic and version"),
        (NPY_MAGIC, "not a .npy array: it does not start with the NPY magic and version"),
        (NPY_MAGIC + b"\x04\x00", "unknown .npy format version 4.0"),
        (NPY_MAGIC + b"\x01\x00\x10", "truncated: the header length needs 2 bytes, found 1"),
        (NPY_MAGIC + b"\x01\x00\x10\x00{'descr'", "truncated: the header needs 16 bytes, found 8"),
        (
            NPY_MAGIC + b"\x02\x00\xff\xff\xff\xff",
            "not a valid .npy header: 4,294,967,295 bytes long, over 10,000",
        ),
        (raw_npy("{'descr': '<f8', "), "not a valid .npy header: not a Python literal"),
        (raw_npy("__import__('os').system('true')"), "not a valid .npy header: not a Python literal"),
        (raw_npy("[1, 2]"), "not a valid .npy header: not a dict of descr, fortran_order and shape"),
        (raw_npy("{'descr': '<f8', 'shape': (2, 2)}"), "not a valid .npy header: not a dict of descr"),
        (
            raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 5)}"),
            "not a valid .npy header: shape (-1, 5) is not a tuple of sizes",
        ),
        (
            raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (True, 2)}"),
            "not a valid .npy header: shape (True, 2) is not a tuple of sizes",
        ),
        (
            raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 2]}"),
            "not a valid .npy header: shape [2, 2] is not a tuple of sizes",
        ),
        (
            raw_npy("{'descr': '<f8', 'fortran_order': 'no', 'shape': (2, 2)}"),
            "not a valid .npy header: fortran_order 'no' is not True/False",
        ),
        (
            raw_npy("{'descr': '<x9', 'fortran_order': False, 'shape': (2, 2)}"),
            "not a valid .npy header: dtype '<x9' (TypeError",
        ),
        (
            raw_npy("{'descr': 7, 'fortran_order': False, 'shape': (2, 2)}"),
            "not a valid .npy header: dtype 7",
        ),
        (
            raw_npy(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), '\xff': 1}", version=(3, 0)),
            "not a valid .npy header: not UTF-8 text",
        ),
        (
            raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "1, " * 70 + ")}", data=bytes(8)),
            "cannot build an array of shape",
        ),
    ],
)
def test_corrupt_npy(tmp_path, content, expected):
    path = tmp_path / "bad.npy"
    path.write_bytes(content)
    assert error_of(path).problem.startswith(expected)


# ---- .npz: corrupt archives and members


def test_not_a_zip(tmp_path):
    problem = problem_of_text(tmp_path, b"this is not a zip", name="x.npz")
    assert problem.startswith("not a valid .npz file (BadZipFile")


def test_truncated_zip(tmp_path):
    path = tmp_path / "cut.npz"
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones((20, 20)))
    path.write_bytes(buffer.getvalue()[:1500])
    assert error_of(path).problem.startswith("not a valid .npz file (BadZipFile")


def test_empty_archive(tmp_path):
    path = tmp_path / "empty.npz"
    np.savez(path)
    assert error_of(path).problem == "the .npz archive has no members"


def test_non_array_member(tmp_path):
    path = tmp_path / "mixed.npz"
    np.savez(path, a=np.eye(3))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "hello, I am text")
    case, error = load(path)
    np.testing.assert_array_equal(case.array, np.eye(3))
    assert (
        str(error) == f"{path}:notes.txt: not a .npy array: it does not start with the NPY magic and version"
    )


def test_corrupt_compressed_member(tmp_path):
    path = tmp_path / "corrupt.npz"
    np.savez_compressed(path, a=np.random.default_rng(0).standard_normal((50, 50)))
    data = bytearray(path.read_bytes())
    for offset in range(200, 400):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    (error,) = load(path)
    assert isinstance(error, InputError)
    assert error.source == f"{path}:a"
    assert error.problem.startswith(("read error", "cannot open this .npz member"))


def patch_zip_field(path, local_offset: int, central_offset: int, value: int) -> None:
    """Overwrite a 2-byte field of the (only) member in both its local and its central header."""
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, local_offset, value)
    struct.pack_into("<H", data, central + central_offset, value)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("local", "central", "value", "expected"),
    [
        (8, 10, 99, "cannot open this .npz member (NotImplementedError"),
        (6, 8, 1, "cannot open this .npz member (RuntimeError"),
    ],
    ids=["unknown-compression", "encrypted"],
)
def test_unreadable_member(tmp_path, local, central, value, expected):
    path = tmp_path / "odd.npz"
    np.savez(path, a=np.eye(2))
    patch_zip_field(path, local, central, value)
    (error,) = load(path)
    assert error.source == f"{path}:a"
    assert error.problem.startswith(expected)


# ---- the last resorts


def test_memory_error_becomes_an_input_error(tmp_path, monkeypatch):
    def exhausted(*args):
        raise MemoryError

    monkeypatch.setattr(loading, "parse_text", exhausted)
    problem = problem_of_text(tmp_path, "1,2\n")
    assert problem == "not enough memory to load it; lower --max-elements to refuse it early"


def test_unreadable_path(tmp_path):
    (error,) = loading.read_source(str(tmp_path), 100)
    assert str(error) == f"{tmp_path}: Is a directory"
