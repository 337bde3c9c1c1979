"""Fuzzing the loaders with hypothesis (derandomized, bounded): whatever the bytes, load_cases yields
only finite 2-D float matrices or InputErrors that start with their source, and never raises."""

from __future__ import annotations

import io
import struct
import sys
import types
import zipfile
from unittest import mock

import numpy as np
import pytest
from helpers import load_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svdgrad_cli.errors import InputError
from svdgrad_cli.model import MatrixCase
from svdgrad_cli.options import DTYPE_CHOICES

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt", ".bin")
PREFIXES = (b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"PK\x03\x04", b"\xef\xbb\xbf")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def assert_sane(items: list, source: str) -> list[MatrixCase]:
    """Every item is a finite 2-D float matrix, or an InputError whose message starts with the source."""
    cases = []
    for item in items:
        if isinstance(item, InputError):
            assert str(item).startswith(source)
            assert item.problem.strip()
        else:
            assert isinstance(item, MatrixCase), item
            assert item.source.startswith(source)
            assert item.array.ndim == 2 and item.array.size > 0
            assert item.array.dtype in (np.float32, np.float64)
            assert np.isfinite(item.array).all()
            cases.append(item)
    return cases


def load_bytes(workdir, data: bytes, suffix: str, dtype: str = "auto", max_elements: int = 10_000) -> list:
    path = workdir / f"case{suffix}"
    path.write_bytes(data)
    return assert_sane(list(load_cases([str(path)], dtype, max_elements)), str(path))


@FUZZ
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=300),
    suffix=st.sampled_from(SUFFIXES),
    dtype=st.sampled_from(DTYPE_CHOICES),
)
def test_random_bytes(workdir, prefix, body, suffix, dtype):
    load_bytes(workdir, prefix + body, suffix, dtype)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_on_stdin(data):
    with mock.patch.object(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data))):
        assert_sane(list(load_cases(["-"])), "-")


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "x", "nan", "1,5", '"2"', "'3'", '"4', "#", "1e999", "0x1", "1_0", "\x00", "é"]),
    st.text(max_size=6),
)
TABLES = st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=6)


@FUZZ
@given(
    rows=TABLES,
    delimiter=st.sampled_from([",", ";", "\t", " ", "  ", ", "]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    bom=st.booleans(),
    suffix=st.sampled_from(SUFFIXES[2:]),
    max_elements=st.sampled_from([4, 10_000]),
)
def test_random_text_tables(workdir, rows, delimiter, newline, bom, suffix, max_elements):
    text = newline.join(delimiter.join(row) for row in rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass")
    load_bytes(workdir, data, suffix, max_elements=max_elements)


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)


@FUZZ
@given(
    matrix=st.integers(1, 6).flatmap(
        lambda n: st.lists(st.lists(FINITE, min_size=n, max_size=n), min_size=1, max_size=6)
    ),
    suffix=st.sampled_from([".csv", ".tsv", ".txt", ".bin"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    header=st.booleans(),
    comment=st.booleans(),
)
def test_well_formed_text_roundtrips_exactly(workdir, matrix, suffix, newline, bom, header, comment):
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix, " ")
    lines = [delimiter.join(repr(v) for v in row) for row in matrix]
    if header:
        lines.insert(0, delimiter.join(f"col{i}" for i in range(len(matrix[0]))))
    if comment:
        lines.insert(0, "# generated")
    data = (b"\xef\xbb\xbf" if bom else b"") + newline.join(lines).encode()
    (case,) = load_bytes(workdir, data, suffix)
    np.testing.assert_array_equal(case.array, np.array(matrix, dtype=np.float64))


DESCRS = st.one_of(
    st.sampled_from(["<f8", ">f4", "<f2", "<i8", ">u2", "|b1", "<c16", "|O", "<U3", "|S2", "<M8[s]", "|V8"]),
    st.sampled_from(["f8,i4", "(2,)f8", "<f99", "", "a", "<x9", "O8"]),
    st.lists(st.tuples(st.sampled_from(["a", "b", ""]), st.sampled_from(["<f8", "|O", "<i4"])), max_size=3),
    st.integers(-3, 3),
    st.text(max_size=8),
)
SHAPES = st.one_of(
    st.lists(st.integers(0, 5), max_size=4).map(tuple),
    st.lists(st.integers(-(2**70), 2**70), max_size=4).map(tuple),
    st.sampled_from([[2, 2], "2, 2", None, (True, 2), (2.0, 2)]),
)


@FUZZ
@given(
    descr=DESCRS,
    shape=SHAPES,
    fortran=st.sampled_from([True, False, 0, "yes"]),
    version=st.sampled_from([(1, 0), (2, 0), (3, 0), (4, 0)]),
    extra=st.dictionaries(st.sampled_from(["descr", "x"]), st.integers(), max_size=1),
    data=st.binary(max_size=200),
    dtype=st.sampled_from(DTYPE_CHOICES),
)
def test_random_npy_headers(workdir, descr, shape, fortran, version, extra, data, dtype):
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape, **extra}).encode("utf-8")
    length = struct.pack("<H" if version == (1, 0) else "<I", len(header))
    load_bytes(workdir, b"\x93NUMPY" + bytes(version) + length + header + data, ".npy", dtype)


SAMPLES = [
    np.arange(12.0).reshape(3, 4),
    np.arange(24, dtype=">i4").reshape(2, 3, 4),
    np.asfortranarray(np.ones((4, 3), dtype=np.float32)),
]


def serialized(index: int, archive: bool) -> bytes:
    buffer = io.BytesIO()
    if archive:
        np.savez_compressed(buffer, a=SAMPLES[index], b=SAMPLES[(index + 1) % len(SAMPLES)])
    else:
        np.save(buffer, SAMPLES[index])
    return buffer.getvalue()


@FUZZ
@given(
    index=st.integers(0, len(SAMPLES) - 1),
    archive=st.booleans(),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_mutated_npy_and_npz(workdir, index, archive, flips, cut):
    data = bytearray(serialized(index, archive))
    for position, mask in flips:
        data[position % len(data)] ^= mask
    if cut is not None:
        del data[cut % len(data) :]
    load_bytes(workdir, bytes(data), ".npz" if archive else ".npy")


@FUZZ
@given(
    members=st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8),
            st.binary(max_size=120),
        ),
        max_size=4,
        unique_by=lambda member: member[0],
    )
)
def test_random_npz_members(workdir, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members:
            archive.writestr(name, b"\x93NUMPY\x01\x00" + payload if len(payload) % 2 else payload)
    load_bytes(workdir, buffer.getvalue(), ".npz")
