"""Turn paths (files, directories, ``-`` for stdin) into matrices to check, or input errors.

Formats: ``.npy``, ``.npz`` (every member, as ``file.npz:member``), ``.csv``, ``.tsv``, ``.txt``
(see textparse.py). The content decides over the name: NPY magic means .npy, ZIP magic means .npz; other
content is read as the name says, and as text when the name says nothing (stdin, other suffixes).

Every path yields matrices or :class:`InputError` and nothing else. NPY headers (format 1.0, 2.0, 3.0)
are parsed here, not by numpy, so that nothing is ever unpickled and the dtype, shape and declared size
are checked against ``max_elements`` before any data is read; data is then read in chunks, so a header
that lies about its size costs no memory. Streams that cannot seek (stdin, pipes) are read into memory.
"""

from __future__ import annotations

import ast
import io
import math
import struct
import sys
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.text import DELIMITERS, parse_text
from svdgrad_cli.model import MatrixCase
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or the end record of an empty archive
# Format version -> struct format of the header length; 3.0 differs from 2.0 only in a UTF-8 header.
NPY_HEADER_LENGTH = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}
NPY_HEADER_KEYS = {"descr", "fortran_order", "shape"}
MAX_HEADER_BYTES = 10_000  # numpy's own limit for headers it parses without being told otherwise
READ_CHUNK = 2**24
KIND_NAMES = {"b": "bool", "S": "bytes", "U": "text (str)", "M": "datetime", "m": "timedelta", "V": "raw"}


@dataclass(frozen=True)
class LoadedArray:
    """An array as read from one source, before it is split into matrices."""

    source: str
    array: np.ndarray


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# ---- what an array must be, checked on the header (before reading) and again on arrays in memory


def _dtype_problem(dtype: np.dtype) -> str | None:
    if dtype.hasobject:
        return "holds Python objects; svdgrad never unpickles (numbers only)"
    if dtype.fields is not None or dtype.subdtype is not None:
        return f"has a structured dtype {dtype}, not plain numbers; save one numeric field as its own array"
    if dtype.kind == "c":
        return "complex matrices are not supported (real input only)"
    if dtype.kind not in "iuf":
        return f"holds {KIND_NAMES.get(dtype.kind, dtype.kind)} data ({dtype.str}), not real numbers"
    return None


def _shape_problem(shape: tuple[int, ...]) -> str | None:
    if len(shape) < 2:
        what = "a single number" if not shape else f"a 1-D array of length {shape[0]}"
        return f"{what}, not a matrix: svdgrad needs shape (m, n) or (..., m, n)"
    if 0 in shape:
        return f"shape {shape} has no entries"
    return None


# ---- .npy


def _read_up_to(stream: BinaryIO, size: int, source: str) -> bytearray:
    """At most ``size`` bytes, in chunks, so that memory grows only with data that really arrives."""
    data = bytearray()
    try:
        while len(data) < size:
            chunk = stream.read(min(READ_CHUNK, size - len(data)))
            if not chunk:
                break
            data += chunk
    except Exception as exc:  # a zip member's decompressor raises its own types (zlib.error, LZMAError, ...)
        raise InputError(source, f"read error ({_describe(exc)})") from None
    return data


def _read_exact(stream: BinaryIO, size: int, source: str, what: str) -> bytearray:
    data = _read_up_to(stream, size, source)
    if len(data) < size:
        raise InputError(source, f"truncated: {what} needs {size:,} bytes, found {len(data):,}")
    return data


def _header_dtype(descr: object, source: str) -> np.dtype:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a deprecated type code is as unknown as a wrong one
            return np.lib.format.descr_to_dtype(descr)
    except Exception as exc:  # numpy's dtype parser raises TypeError, ValueError, KeyError, ... here
        raise InputError(source, f"not a valid .npy header: dtype {descr!r} ({_describe(exc)})") from None


def _parse_header(text: str, source: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        header = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InputError(source, "not a valid .npy header: not a Python literal") from None
    if not isinstance(header, dict) or header.keys() != NPY_HEADER_KEYS:
        raise InputError(source, "not a valid .npy header: not a dict of descr, fortran_order and shape")
    shape, fortran = header["shape"], header["fortran_order"]
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(source, f"not a valid .npy header: shape {shape!r} is not a tuple of sizes")
    if type(fortran) is not bool:
        raise InputError(source, f"not a valid .npy header: fortran_order {fortran!r} is not True/False")
    return shape, fortran, _header_dtype(header["descr"], source)


def _read_npy_header(stream: BinaryIO, source: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    prefix = _read_up_to(stream, len(NPY_MAGIC) + 2, source)
    if not prefix:
        raise InputError(source, "empty file, not a .npy array")
    if len(prefix) < len(NPY_MAGIC) + 2 or not prefix.startswith(NPY_MAGIC):
        raise InputError(source, "not a .npy array: it does not start with the NPY magic and version")
    version = (prefix[-2], prefix[-1])
    if version not in NPY_HEADER_LENGTH:
        raise InputError(source, f"unknown .npy format version {version[0]}.{version[1]}")
    length_format = NPY_HEADER_LENGTH[version]
    (length,) = struct.unpack(
        length_format, _read_exact(stream, struct.calcsize(length_format), source, "the header length")
    )
    if length > MAX_HEADER_BYTES:
        raise InputError(source, f"not a valid .npy header: {length:,} bytes long, over {MAX_HEADER_BYTES:,}")
    raw = _read_exact(stream, length, source, "the header")
    try:
        text = raw.decode("utf-8" if version == (3, 0) else "latin1")
    except UnicodeDecodeError:
        raise InputError(source, "not a valid .npy header: not UTF-8 text") from None
    return _parse_header(text, source)


def _read_npy(stream: BinaryIO, source: str, max_elements: int) -> np.ndarray:
    """One NPY stream: the header first (dtype, shape and size checked), then exactly the data it declares."""
    shape, fortran, dtype = _read_npy_header(stream, source)
    problem = _dtype_problem(dtype) or _shape_problem(shape)
    if problem:
        raise InputError(source, problem)
    count = math.prod(shape)
    if count > max_elements:
        raise InputError(
            source,
            f"declares shape {shape} ({count:,} values), over the limit of "
            f"{max_elements:,}; raise --max-elements to check it anyway",
        )
    data = _read_exact(stream, count * dtype.itemsize, source, f"data of shape {shape} ({dtype.str})")
    try:
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    except ValueError as exc:  # e.g. more dimensions than numpy supports
        raise InputError(source, f"cannot build an array of shape {shape} ({exc})") from None


# ---- .npz


def _read_npz(stream: BinaryIO, source: str, max_elements: int) -> Iterator[LoadedArray | InputError]:
    """Every member of a zip archive, in archive order, as ``source:name`` (a trailing .npy dropped)."""
    try:
        archive = zipfile.ZipFile(stream)
        members = [info for info in archive.infolist() if not info.is_dir()]
    except Exception as exc:  # zipfile raises BadZipFile, OSError, struct.error, ValueError, ... here
        yield InputError(source, f"not a valid .npz file ({_describe(exc)})")
        return
    if not members:
        yield InputError(source, "the .npz archive has no members")
    with archive:
        for info in members:
            member = f"{source}:{info.filename.removesuffix('.npy')}"
            try:
                with archive.open(info) as handle:
                    yield LoadedArray(member, _read_npy(handle, member, max_elements))
            except InputError as exc:
                yield exc
            except Exception as exc:  # encrypted (RuntimeError), unknown method (NotImplementedError), ...
                yield InputError(member, f"cannot open this .npz member ({_describe(exc)})")


# ---- any source


def _kind(head: bytes, suffix: str) -> str:
    if head.startswith(NPY_MAGIC):
        return ".npy"
    if head.startswith(ZIP_MAGICS):
        return ".npz"
    return suffix if suffix in (".npy", ".npz") else "text"


def _read_stream(
    stream: BinaryIO, source: str, suffix: str, max_elements: int
) -> Iterator[LoadedArray | InputError]:
    try:
        head = stream.read(len(NPY_MAGIC))
        stream.seek(0)
        kind = _kind(head, suffix)
        if kind == ".npy":
            yield LoadedArray(source, _read_npy(stream, source, max_elements))
        elif kind == ".npz":
            yield from _read_npz(stream, source, max_elements)
        else:
            yield LoadedArray(source, parse_text(stream, source, DELIMITERS.get(suffix), max_elements))
    except InputError as exc:
        yield exc
    except OSError as exc:
        yield InputError(source, f"cannot read it ({exc.strerror or exc})")
    except MemoryError:
        yield InputError(source, "not enough memory to load it; lower --max-elements to refuse it early")


def _stdin_bytes() -> bytes:
    if sys.stdin is None:
        raise InputError("-", "there is no standard input")
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read() if buffer is not None else sys.stdin.read().encode("utf-8")


def _open(path: str) -> BinaryIO:
    """A seekable binary stream of a file or of stdin (``-``); what cannot seek is read into memory."""
    if path == "-":
        return io.BytesIO(_stdin_bytes())
    stream = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if stream.seekable():
        return stream
    with stream:
        return io.BytesIO(stream.read())


def read_source(path: str, max_elements: int) -> Iterator[LoadedArray | InputError]:
    """Arrays (or errors) from one file path or ``-``; never raises for bad input."""
    try:
        stream = _open(path)
    except InputError as exc:
        yield exc
        return
    except (OSError, ValueError) as exc:  # ValueError: a closed or undecodable text stdin
        yield InputError(path, getattr(exc, "strerror", None) or _describe(exc))
        return
    with stream:
        yield from _read_stream(stream, path, "" if path == "-" else Path(path).suffix.lower(), max_elements)


# ---- arrays to matrices


def _target_dtype(array_dtype: np.dtype, dtype: str) -> np.dtype:
    if dtype != "auto":
        return np.dtype(dtype)
    if array_dtype.kind == "f" and array_dtype.itemsize <= 4:
        return np.dtype(np.float32)  # float16 too: no backend differentiates a half-precision SVD
    return np.dtype(np.float64)


def _first_bad(matrix: np.ndarray) -> str | None:
    """How many entries are NaN/Inf and where the first one is (1-based), or None if all are finite."""
    bad = ~np.isfinite(matrix)
    if not bad.any():
        return None
    row, column = (int(i) + 1 for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} NaN/Inf value(s) (first at row {row}, column {column})"


def _converted(matrix: np.ndarray, target: np.dtype, label: str) -> np.ndarray:
    problem = _first_bad(matrix)
    if problem:
        raise InputError(label, f"{problem} in the input")
    with np.errstate(over="ignore"):
        converted = np.array(matrix, dtype=target)
    problem = _first_bad(converted)
    if problem:
        hint = "; try --dtype float64" if target == np.float32 else ""
        raise InputError(label, f"{problem} after conversion to {target} (too large for it){hint}")
    return converted


def matrices(loaded: LoadedArray, dtype: str) -> Iterator[MatrixCase | InputError]:
    """Split an array of shape (..., m, n) into matrices in the backends' dtype."""
    array, source = loaded.array, loaded.source
    problem = _dtype_problem(array.dtype) or _shape_problem(array.shape)
    if problem:
        yield InputError(source, problem)
        return
    target = _target_dtype(array.dtype, dtype)
    for index in np.ndindex(array.shape[:-2]):
        raw = MatrixCase(source, tuple(int(i) for i in index), array[index])
        try:
            converted = _converted(raw.array, target, raw.label)
        except InputError as exc:
            yield exc
            continue
        yield MatrixCase(raw.source, raw.index, converted)


def load_files(
    files: Iterable[str | InputError], dtype: str = "auto", max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Iterator[MatrixCase | InputError]:
    """Every matrix in ``files`` (paths or ``-``; InputError entries pass through), in order."""
    for path in files:
        if isinstance(path, InputError):
            yield path
            continue
        for loaded in read_source(path, max_elements):
            if isinstance(loaded, InputError):
                yield loaded
            else:
                yield from matrices(loaded, dtype)


def load_cases(
    paths: list[str], dtype: str = "auto", max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Iterator[MatrixCase | InputError]:
    """Every matrix named by ``paths`` (files, directories, ``-``), or an InputError in its place."""
    yield from load_files(collect_files(paths).entries, dtype, max_elements)
