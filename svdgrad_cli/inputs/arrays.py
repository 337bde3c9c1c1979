"""What svdgrad reads an array as, and what an array must be to hold matrices (checked on file
headers before any data is read, and again on arrays in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KIND_NAMES = {"b": "bool", "S": "bytes", "U": "text (str)", "M": "datetime", "m": "timedelta", "V": "raw"}


@dataclass(frozen=True)
class LoadedArray:
    """An array as read from one source, before it is split into matrices."""

    source: str
    array: np.ndarray
    member: bool = False  # one array of a container (an .npz member): a 1-D one is skipped, not an error
    stored_dtype: str | None = None  # the file's dtype where ``array`` holds another (bfloat16 as float32)
    out_axis: int | None = None  # a checkpoint tensor's output axis (kernels.py); None: a plain array


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def dtype_problem(dtype: np.dtype) -> str | None:
    if dtype.hasobject:
        return "holds Python objects; svdgrad never unpickles (numbers only)"
    if dtype.fields is not None or dtype.subdtype is not None:
        return f"has a structured dtype {dtype}, not plain numbers; save one numeric field as its own array"
    if dtype.kind not in "iufc":
        return f"holds {KIND_NAMES.get(dtype.kind, dtype.kind)} data ({dtype.str}), not numbers"
    return None


def shape_problem(shape: tuple[int, ...]) -> str | None:
    if len(shape) < 2:
        what = "a single number" if not shape else f"a 1-D array of length {shape[0]}"
        return f"{what}, not a matrix: svdgrad needs shape (m, n) or (..., m, n)"
    if 0 in shape:
        return f"shape {shape} has no entries"
    return None


@dataclass(frozen=True)
class Described:
    """An array known from its header only, its data not read: a shard's plan (shards.py) describes
    every array so, and a shard passes over the arrays it does not check. ``shape`` is None for text
    (known only by reading it all), whose size in bytes is ``nbytes``."""

    source: str
    shape: tuple[int, ...] | None
    out_axis: int | None = None  # as LoadedArray's
    nbytes: int = 0


@dataclass(frozen=True)
class Skipped:
    """A file or tensor passed over on purpose, and why (named in every report)."""

    source: str
    reason: str
    position: tuple[int, ...] | None = field(default=None, compare=False)  # in a sharded run (shards.py)


@dataclass(frozen=True)
class MatrixCase:
    """One matrix to check: where it came from and its values in the dtype the backends use."""

    source: str
    index: tuple[int, ...]  # in a stack of several; () for a lone matrix, a stack of one included
    array: np.ndarray
    stored_dtype: str | None = None  # the file's dtype where it differs from the array's (float16)
    reshaped: str | None = None  # a kernel read as one matrix: how (kernels.reshape_note)

    @property
    def label(self) -> str:
        if not self.index:
            return self.source
        return f"{self.source}[{','.join(str(i) for i in self.index)}]"
