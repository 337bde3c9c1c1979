""".npy streams, parsed here and not by numpy, so that nothing is ever unpickled.

NPY headers (format 1.0, 2.0, 3.0) are parsed as Python literals; the dtype, shape and declared size
are checked against ``max_elements`` before any data is read; data is then read in chunks, so a
header that lies about its size costs no memory.
"""

from __future__ import annotations

import ast
import math
import struct
import warnings
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import Described, describe, dtype_problem, shape_problem

NPY_MAGIC = b"\x93NUMPY"
# Format version -> struct format of the header length; 3.0 differs from 2.0 only in a UTF-8 header.
NPY_HEADER_LENGTH = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}
NPY_HEADER_KEYS = {"descr", "fortran_order", "shape"}
MAX_HEADER_BYTES = 10_000  # numpy's own limit for headers it parses without being told otherwise
READ_CHUNK = 2**24


def read_up_to(stream: IO[bytes], size: int, source: str) -> bytearray:
    """At most ``size`` bytes, in chunks, so that memory grows only with data that really arrives."""
    data = bytearray()
    try:
        while len(data) < size:
            chunk = stream.read(min(READ_CHUNK, size - len(data)))
            if not chunk:
                break
            data += chunk
    except Exception as exc:  # a zip member's decompressor raises its own types (zlib.error, LZMAError, ...)
        raise InputError(source, f"read error ({describe(exc)})") from None
    return data


def _read_exact(stream: IO[bytes], size: int, source: str, what: str) -> bytearray:
    data = read_up_to(stream, size, source)
    if len(data) < size:
        raise InputError(source, f"truncated: {what} needs {size:,} bytes, found {len(data):,}")
    return data


def _header_dtype(descr: Any, source: str) -> np.dtype:  # whatever the header says: numpy checks it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a deprecated type code is as unknown as a wrong one
            return np.lib.format.descr_to_dtype(descr)
    except Exception as exc:  # numpy's dtype parser raises TypeError, ValueError, KeyError, ... here
        raise InputError(source, f"not a valid .npy header: dtype {descr!r} ({describe(exc)})") from None


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


def _read_npy_header(stream: IO[bytes], source: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    prefix = read_up_to(stream, len(NPY_MAGIC) + 2, source)
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


def read_npy(
    stream: IO[bytes],
    source: str,
    max_elements: int,
    header_only: bool = False,
    stack_problem: Callable[[tuple[int, ...]], str | None] | None = None,
) -> np.ndarray | Described:
    """One NPY stream: the header first (dtype, shape and size checked, and ``stack_problem`` asked
    about the shape), then exactly the data it declares; with ``header_only`` not the data: the
    array as its header describes it."""
    shape, fortran, dtype = _read_npy_header(stream, source)
    # an empty shape is refused here (its size may be absurd); 1-D is judged with the array (matrices())
    problem = dtype_problem(dtype) or (shape_problem(shape) if 0 in shape else None)
    if problem:
        raise InputError(source, problem)
    count = math.prod(shape)
    if count > max_elements:
        raise InputError(
            source,
            f"declares shape {shape} ({count:,} values), over the limit of "
            f"{max_elements:,}; raise --max-elements to check it anyway",
        )
    problem = stack_problem(shape) if stack_problem else None
    if problem:
        raise InputError(source, problem)
    if header_only:
        return Described(source, shape)
    data = _read_exact(stream, count * dtype.itemsize, source, f"data of shape {shape} ({dtype.str})")
    try:
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    except ValueError as exc:  # e.g. more dimensions than numpy supports
        raise InputError(source, f"cannot build an array of shape {shape} ({exc})") from None
