"""Turn paths (files, directories, ``-`` for stdin) into matrices to check, or input errors.

Formats: ``.npy`` (npy.py), ``.npz`` (every member, as ``file.npz:member``; npz.py), ``.csv``,
``.tsv``, ``.txt`` (text.py), and checkpoints, every tensor as ``file:tensor.name``: ``.safetensors``
and PyTorch ``.pt``/``.pth``/``.bin`` (checkpoints.py), Keras ``.keras`` and ``.h5`` (hdf5.py).
The content decides over the name: NPY magic means .npy; ZIP magic means a PyTorch checkpoint, a
.keras file or an .npz, by the archive's members; HDF5 magic, a safetensors header or a pickle mean
those. Other content is read as the name says, and as text when the name says nothing (stdin, other
suffixes). Every path yields matrices, :class:`InputError` or :class:`Skipped` (tensors passed
over: not selected, not matrices) and nothing else. Streams that cannot seek (stdin, pipes) are copied
aside first, within a bound (streams.py).

A checkpoint's tensors of 3 or more dimensions become one matrix each by default (a conv kernel as
spectral normalisation reads it), or a stack with ``reshape="stack"``: see kernels.py. Plain arrays of
shape (..., m, n) (.npy, .npz members, text) are always a stack of (m, n) matrices.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import (
    Described,
    LoadedArray,
    MatrixCase,
    Skipped,
    describe,
    dtype_problem,
    shape_problem,
)
from svdgrad_cli.inputs.checkpoints import (
    LEGACY_TEXT_MAGIC,
    is_pickle,
    is_safetensors,
    read_safetensors,
    read_torch,
    read_torch_pickle,
    zip_kind,
)
from svdgrad_cli.inputs.discovery import Entry
from svdgrad_cli.inputs.hdf5 import HDF5_MAGIC, read_hdf5, read_keras
from svdgrad_cli.inputs.kernels import as_matrix, layout, reshape_note
from svdgrad_cli.inputs.limits import (
    DEFAULT_MAX_ELEMENTS,
    DEFAULT_MAX_MATRICES,
    matrix_count,
)
from svdgrad_cli.inputs.npy import NPY_MAGIC, read_npy
from svdgrad_cli.inputs.npz import ZIP_MAGICS, read_npz
from svdgrad_cli.inputs.parts import ShardFile
from svdgrad_cli.inputs.streams import open_input
from svdgrad_cli.inputs.tensors import Selection
from svdgrad_cli.inputs.text import DELIMITERS, parse_text

__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "LoadedArray",
    "Selection",
    "load_files",
    "matrices",
    "read_source",
]


HEAD_BYTES = 16  # enough for every magic below
# What a file is read as when its content matches no magic: by its name, else text.
SUFFIX_KINDS = {
    ".npy": "npy",
    ".npz": "zip",
    ".keras": "zip",
    ".pt": "pickle",  # neither zip nor pickle content: read_torch_pickle says what it is not
    ".pth": "pickle",
    ".bin": "pickle",
    ".safetensors": "safetensors",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
}
CONTAINERS = {
    "npz": read_npz,
    "torch": read_torch,
    "pickle": read_torch_pickle,
    "keras": read_keras,
    "safetensors": read_safetensors,
    "hdf5": read_hdf5,
}


def _kind(head: bytes, suffix: str) -> str:
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if is_safetensors(head):
        return "safetensors"
    if is_pickle(head):
        return "pickle"
    if suffix == ".bin" and _looks_like_text(head):  # .bin names any binary data, and text too
        return "text"
    return SUFFIX_KINDS.get(suffix, "text")


def _looks_like_text(head: bytes) -> bool:
    """No NUL byte and UTF-8 (but for a character cut at the end): how a text matrix begins, and not
    a legacy torch.save of protocol 0 (text too)."""
    if b"\x00" in head or head.startswith(LEGACY_TEXT_MAGIC):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"  # a character cut by the head's end
    return True


def _single(stream: IO[bytes], source: str, suffix: str, kind: str, selection: Selection):
    """The one array of an .npy or text file, or its description where ``selection`` does not read it
    (text is described by its size alone: its shape is known only by reading it)."""
    if kind == "npy":
        header_only = not selection.reads(source)
        array = read_npy(stream, source, selection.max_elements, header_only, selection.stack_problem)
    elif not selection.reads(source):
        return Described(source, None, nbytes=stream.seek(0, io.SEEK_END))
    else:
        array = parse_text(stream, source, DELIMITERS.get(suffix), selection.max_elements)
    return array if isinstance(array, Described) else LoadedArray(source, array)


def _read_stream(
    stream: IO[bytes], source: str, suffix: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    try:
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
        kind = _kind(head, suffix)
        if kind == "zip":
            kind = zip_kind(stream, suffix)
        if kind in CONTAINERS:
            yield from CONTAINERS[kind](stream, source, selection)
        else:
            yield _single(stream, source, suffix, kind, selection)
    except InputError as exc:
        yield exc
    except OSError as exc:
        yield InputError(source, f"cannot read it ({exc.strerror or exc})")
    except MemoryError:
        yield InputError(source, "not enough memory to load it; lower --max-elements to refuse it early")


def _counted(
    events: Iterator[LoadedArray | InputError | Skipped | Described], source: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """The events of one input, ended by one error at the array that takes its matrices past
    ``selection.max_matrices`` (every array alone was checked from its header: this is their sum)."""
    total = 0
    for event in events:
        if isinstance(event, (LoadedArray, Described)):
            shape = event.array.shape if isinstance(event, LoadedArray) else event.shape
            total += 1 if shape is None else matrix_count(tuple(shape), event.out_axis, selection.reshape)
            if total > selection.max_matrices:
                yield InputError(
                    source,
                    f"holds more than {selection.max_matrices:,} matrices (the limit per input); "
                    f"those from {event.source} on are not checked; raise --max-matrices to check them all",
                )
                return
        yield event


def read_source(
    path: str, max_elements: int, selection: Selection | None = None
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Arrays (or errors, or tensors passed over) from one file path or ``-``; never raises for bad
    input. ``selection`` picks the tensors of containers; its size limit is ``max_elements``, and
    the matrices of all the file's arrays are counted against its ``max_matrices``; arrays it does
    not read (a shard's plan, another shard's arrays) come as :class:`Described`."""
    selection = replace(selection or Selection(), max_elements=max_elements)
    try:
        stream = open_input(path, max_elements)
    except InputError as exc:
        yield exc
        return
    except (OSError, ValueError) as exc:  # ValueError: a closed or undecodable text stdin
        yield InputError(path, getattr(exc, "strerror", None) or describe(exc))
        return
    with stream:
        suffix = "" if path == "-" else Path(path).suffix.lower()
        yield from _counted(_read_stream(stream, path, suffix, selection), path, selection)


# ---- arrays to matrices


def _target_dtype(array_dtype: np.dtype, dtype: str, label: str) -> np.dtype:
    """The dtype the backends compute in: ``dtype``, or with "auto" the array's own (float16 as
    float32, integers as float64, complex as complex64 or complex128). Complex input cannot be made
    real: that would change the matrix."""
    if array_dtype.kind == "c" and dtype in ("float32", "float64"):
        raise InputError(
            label, f"complex input cannot be checked as {dtype}; use --dtype complex64 or complex128"
        )
    if dtype != "auto":
        return np.dtype(dtype)
    if array_dtype.kind == "c":
        return np.dtype(np.complex64 if array_dtype.itemsize <= 8 else np.complex128)
    if array_dtype.kind == "f" and array_dtype.itemsize <= 4:
        return np.dtype(np.float32)  # float16 too: no backend differentiates a half-precision SVD
    return np.dtype(np.float64)


def non_finite_problem(matrix: np.ndarray) -> str | None:
    """How many entries are NaN/Inf and where the first one is (1-based: row and column of a matrix,
    the index of a vector or of a stack), or None if all are finite."""
    bad = ~np.isfinite(matrix)
    if not bad.any():
        return None
    first = [int(i) + 1 for i in np.argwhere(bad)[0]] if bad.ndim else []
    where = {0: "a single value", 1: f"first at entry {first[0] if first else 0}"}.get(len(first))
    if len(first) == 2:
        where = f"first at row {first[0]}, column {first[1]}"
    elif where is None:
        where = f"first at index {tuple(first)}"
    return f"{int(bad.sum())} NaN/Inf value(s) ({where})"


def _converted(matrix: np.ndarray, target: np.dtype, label: str) -> np.ndarray:
    problem = non_finite_problem(matrix)
    if problem:
        raise InputError(label, f"{problem} in the input")
    with np.errstate(over="ignore"):
        converted = np.array(matrix, dtype=target)
    problem = non_finite_problem(converted)
    if problem:
        hint = "; try --dtype float64" if target == np.float32 else ""
        raise InputError(label, f"{problem} after conversion to {target} (too large for it){hint}")
    return converted


def matrix_indices(shape: tuple[int, ...], how: str = "stack") -> list[tuple[int, ...]]:
    """The stack indices of the matrices an array of this shape holds, in order: ``[()]`` for one
    matrix (a stack of one, a kernel read as one matrix: ``how`` from kernels.layout) and for an
    array that is no matrix at all."""
    if len(shape) < 2 or 0 in shape or math.prod(shape[:-2]) == 1 or how != "stack":
        return [()]
    return [tuple(int(i) for i in index) for index in np.ndindex(shape[:-2])]


def count_matrices(path: str, selection: Selection) -> int:
    """How many matrices a file holds, from its headers only (text: one), for a progress total; what
    is skipped or refused counts none."""
    total = 0
    for event in read_source(path, selection.max_elements, replace(selection, describe=True, on_tensor=None)):
        if isinstance(event, LoadedArray):  # a reader that cannot describe (a legacy torch pickle)
            event = Described(event.source, tuple(event.array.shape), event.out_axis)
        if not isinstance(event, Described):
            continue
        shape = event.shape
        if shape is None:  # text: one matrix, its shape known only by reading it
            total += 1
        elif 0 not in shape:
            total += matrix_count(shape, event.out_axis, selection.reshape)
    return total


def matrices(
    loaded: LoadedArray,
    dtype: str,
    reshape: str = "auto",
    wanted: Collection[tuple[int, ...]] | None = None,
    lead: bool = True,
) -> Iterator[MatrixCase | InputError | Skipped]:
    """Split an array of shape (..., m, n) into matrices in the backends' dtype (a checkpoint's
    kernel: one matrix or a stack as ``reshape`` says, kernels.py). A 1-D member of a container (a bias beside
    the weights) is skipped with a note; elsewhere it is an input error. A shard (parts.py) takes the
    matrices of the stack indices ``wanted`` only, and the array's own errors only if it ``lead``s."""
    refused = _refused(loaded)
    if refused is not None:
        yield from [refused] if lead else []
        return
    array, source = loaded.array, loaded.source
    how = layout(array.shape, loaded.out_axis, reshape)
    indices, note = matrix_indices(array.shape, how), reshape_note(array.shape, how)
    if note is not None:
        array = as_matrix(array, how)
    try:
        target = _target_dtype(array.dtype, dtype, source)
    except InputError as exc:
        yield from [exc] if lead else []
        return
    stored = loaded.stored_dtype or _widened_from(array.dtype, target)
    chosen = indices if wanted is None else [i for i in indices if i in wanted]
    yield from _cases(source, array, chosen, target, stored, note)


def _cases(
    source: str, array: np.ndarray, indices, target: np.dtype, stored: str | None, note: str | None
) -> Iterator[MatrixCase | InputError]:
    """The matrices at ``indices`` of a stack (every one if it is a single matrix), in ``target``."""
    for index in indices:
        raw = MatrixCase(source, index, array[index] if index else array.reshape(array.shape[-2:]))
        try:
            yield MatrixCase(source, index, _converted(raw.array, target, raw.label), stored, note)
        except InputError as exc:
            yield exc


def _widened_from(stored: np.dtype, target: np.dtype) -> str | None:
    """The stored dtype where the backends compute in a wider one of its kind (float16 as float32)."""
    widened = stored != target and stored.kind in "fc" and stored.kind == target.kind
    return str(stored) if widened else None


def _refused(loaded: LoadedArray) -> Skipped | InputError | None:
    """Why an array holds no matrix to check: a container's 1-D member (a bias) is skipped; any other
    array that is not (..., m, n) of numbers is an input error."""
    array, source = loaded.array, loaded.source
    if loaded.member and array.ndim < 2 and not dtype_problem(array.dtype):
        reason = shape_problem(array.shape) or "not a matrix"
        return Skipped(source, reason.split(":")[0])
    problem = dtype_problem(array.dtype) or shape_problem(array.shape)
    return InputError(source, problem) if problem else None


def _read_part(entry: ShardFile, selection: Selection, dtype: str, reshape: str):
    """The matrices and events of one file that this shard checks and reports (parts.py)."""
    part = entry.part
    for loaded in read_source(entry.path, selection.max_elements, replace(selection, part=part)):
        if isinstance(loaded, LoadedArray):
            label = loaded.source
            yield from matrices(loaded, dtype, reshape, part.indices(label), part.reports(label))
        elif not isinstance(loaded, Described) and part.reports(loaded.source):
            yield loaded


def load_files(
    files: Iterable[Entry],
    dtype: str = "auto",
    max_elements: int = DEFAULT_MAX_ELEMENTS,
    on_file: Callable[[str], None] | None = None,
    select: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    reshape: str = "auto",
    on_count: Callable[[str, int], None] | None = None,
    max_matrices: int = DEFAULT_MAX_MATRICES,
) -> Iterator[MatrixCase | InputError | Skipped]:
    """Every matrix in ``files`` (paths or ``-``; InputError entries pass through), in order;
    ``on_file(path)`` hears of each file as it starts, and of each tensor of a container as
    ``on_file("path:name")``; ``on_count(path, n)``, if given, of the matrices in each file (its
    headers are read twice for it). ``select``/``skip``: fnmatch globs on tensor names (Settings);
    ``max_matrices``: per input. A :class:`ShardFile` gives only what its shard checks of the file
    (``--shard``, shards.py)."""
    selection = Selection(select, skip, max_elements, on_file, max_matrices=max_matrices, reshape=reshape)
    for path in files:
        if isinstance(path, InputError):
            yield path
            continue
        if isinstance(path, ShardFile):
            if on_file is not None:
                on_file(path.path)
            yield from _read_part(path, selection, dtype, reshape)
            continue
        if on_file is not None:
            on_file(path)
        if on_count is not None and path != "-":  # stdin can be read only once
            on_count(path, count_matrices(path, selection))
        for loaded in read_source(path, max_elements, selection):
            if isinstance(loaded, LoadedArray):
                yield from matrices(loaded, dtype, reshape)
            elif not isinstance(loaded, Described):  # only a shard's plan describes (shards.py)
                yield loaded
