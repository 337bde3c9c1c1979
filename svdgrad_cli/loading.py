"""Turn paths (files, directories, ``-`` for stdin) into matrices to check, or input errors.

Formats: ``.npy``, ``.npz`` (every member, as ``file.npz:member``), ``.csv``, ``.tsv``, ``.txt``
(whitespace); stdin and files with other names are sniffed (NPY magic, ZIP magic, else text).
Nothing is ever unpickled, and an array's declared size is checked against ``max_elements`` from its
header before its data is read.
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.model import MatrixCase
from svdgrad_cli.textparse import DELIMITERS, parse_text

MATRIX_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt")
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
# 2**26 entries: 512 MiB per float64 copy; an SVD and its gradient hold several copies.
DEFAULT_MAX_ELEMENTS = 2**26
DTYPE_CHOICES = ("auto", "float32", "float64")


@dataclass(frozen=True)
class LoadedArray:
    """An array as read from one source, before it is split into matrices."""

    source: str
    array: np.ndarray


def find_files(path: Path) -> Iterator[Path]:
    """Matrix files under a directory, recursively, in sorted order; symlinked dirs not followed."""
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(MATRIX_SUFFIXES):
                yield Path(root) / name


def _read_npy(stream, source: str, max_elements: int) -> np.ndarray:
    """Read one NPY stream: header first (size and dtype checked), then exactly the data it declares."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, OSError, SyntaxError, TypeError) as exc:
        raise InputError(source, f"not a valid .npy file ({exc})") from None
    if dtype.hasobject:
        raise InputError(source, "holds Python objects; svdgrad never unpickles (numbers only)")
    count = int(np.prod(shape, dtype=object))
    if count > max_elements:
        raise InputError(
            source,
            f"declares shape {tuple(shape)} ({count:,} values), over the limit of "
            f"{max_elements:,}; raise --max-elements to check it anyway",
        )
    needed = count * dtype.itemsize
    data = stream.read(needed)
    if len(data) < needed:
        raise InputError(source, f"truncated: header declares {needed:,} bytes of data, found {len(data):,}")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_npz(stream, source: str, max_elements: int) -> Iterator[LoadedArray | InputError]:
    try:
        archive = zipfile.ZipFile(stream)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        yield InputError(source, f"not a valid .npz file ({exc})")
        return
    if not names:
        yield InputError(source, "the .npz archive has no members")
    with archive:
        for name in names:
            member = f"{source}:{name.removesuffix('.npy')}"
            try:
                with archive.open(name) as handle:
                    yield LoadedArray(member, _read_npy(handle, member, max_elements))
            except InputError as exc:
                yield exc
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                yield InputError(member, f"cannot read this .npz member ({exc})")


def _read_stream(stream, source: str, suffix: str, max_elements: int) -> Iterator[LoadedArray | InputError]:
    head = stream.peek(8)[:8] if hasattr(stream, "peek") else b""
    try:
        if suffix == ".npy" or head.startswith(NPY_MAGIC):
            yield LoadedArray(source, _read_npy(stream, source, max_elements))
        elif suffix == ".npz" or head.startswith(ZIP_MAGIC):
            yield from _read_npz(stream, source, max_elements)
        else:
            delimiter = DELIMITERS.get(suffix)
            auto = suffix not in (".csv", ".tsv", ".txt")
            yield LoadedArray(source, parse_text(stream, source, delimiter, max_elements, auto))
    except InputError as exc:
        yield exc


def read_source(path: str, max_elements: int) -> Iterator[LoadedArray | InputError]:
    """Arrays (or errors) from one file path or ``-``; never raises for bad input."""
    if path == "-":
        data = sys.stdin.buffer.read()
        yield from _read_stream(io.BufferedReader(io.BytesIO(data)), "-", "", max_elements)
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is drained
    except OSError as exc:
        yield InputError(path, exc.strerror or str(exc))
        return
    with stream:
        yield from _read_stream(stream, path, Path(path).suffix.lower(), max_elements)


def expand_paths(paths: list[str]) -> Iterator[str | InputError]:
    """Files to read, in order: directories walked (sorted), missing paths as errors."""
    for path in paths:
        if path == "-":
            yield path
        elif os.path.isdir(path):
            found = list(find_files(Path(path)))
            if not found:
                yield InputError(path, f"no matrix files ({', '.join(MATRIX_SUFFIXES)}) in this directory")
            yield from (str(p) for p in found)
        elif os.path.exists(path):
            yield path
        else:
            yield InputError(path, "no such file or directory")


def _backend_dtype(array: np.ndarray, dtype: str, source: str) -> np.dtype:
    kind = array.dtype.kind
    if kind == "c":
        raise InputError(source, "complex matrices are not supported (real input only)")
    if kind not in "iuf":
        raise InputError(source, f"holds {array.dtype} data, not real numbers")
    if dtype != "auto":
        return np.dtype(dtype)
    if kind == "f" and array.dtype.itemsize <= 4:
        return np.dtype(np.float32)  # float16 too: no backend differentiates a half-precision SVD
    return np.dtype(np.float64)


def _check_finite(matrix: np.ndarray, label: str) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        row, column = (int(i) + 1 for i in np.argwhere(bad)[0])
        raise InputError(
            label,
            f"{int(bad.sum())} NaN/Inf value(s) in the input (first at row {row}, column {column})",
        )


def matrices(loaded: LoadedArray, dtype: str) -> Iterator[MatrixCase | InputError]:
    """Split an array of shape (..., m, n) into matrices in the backends' dtype."""
    array, source = loaded.array, loaded.source
    if array.ndim < 2:
        what = "a single number" if array.ndim == 0 else f"a 1-D array of length {array.size}"
        yield InputError(source, f"{what}, not a matrix: svdgrad needs shape (m, n) or (..., m, n)")
        return
    if array.size == 0:
        yield InputError(source, f"shape {array.shape} has no entries")
        return
    try:
        target = _backend_dtype(array, dtype, source)
    except InputError as exc:
        yield exc
        return
    for index in np.ndindex(array.shape[:-2]):
        case = MatrixCase(source, tuple(int(i) for i in index), np.array(array[index], dtype=target))
        try:
            _check_finite(case.array, case.label)
        except InputError as exc:
            yield exc
            continue
        yield case


def load_cases(
    paths: list[str], dtype: str = "auto", max_elements: int = DEFAULT_MAX_ELEMENTS
) -> Iterator[MatrixCase | InputError]:
    """Every matrix named by ``paths`` (files, directories, ``-``), or an InputError in its place."""
    for path in expand_paths(paths):
        if isinstance(path, InputError):
            yield path
            continue
        for loaded in read_source(path, max_elements):
            if isinstance(loaded, InputError):
                yield loaded
            else:
                yield from matrices(loaded, dtype)
