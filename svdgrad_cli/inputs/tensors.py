"""Named tensors of a container (checkpoint or archive): which are read, refused or passed over, and why.

Every container reader describes its tensors from the file's header (name, shape, and a dtype problem
if any) with a function that reads one; :func:`read_tensors` decides from that description alone,
so a tensor that is not selected, not a matrix or too large is never read. Bool and integer tensors
are passed over: in a checkpoint they are bookkeeping (attention masks, BERT's ``position_ids``,
step counters), not weights. A plain .npy or .npz of integers is a matrix (loading.py).
"""

from __future__ import annotations

import difflib
import importlib
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import Described, LoadedArray, Skipped, describe
from svdgrad_cli.inputs.kernels import CHANNELS_FIRST
from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_MATRICES, stack_problem
from svdgrad_cli.inputs.parts import FilePart

MESSAGE_CHARS = 200  # a library's error can list every dtype it knows; keep the start
INTEGER_DTYPE = re.compile(r"u?int\d+")  # NumPy's, safetensors' (lowered) and torch's names alike


@dataclass(frozen=True)
class Selection:
    """Which tensors of a container are read (``--select``/``--skip``, fnmatch globs matched
    case-sensitively against tensor names), the size limit per tensor, and who hears of each tensor
    as it starts (``on_tensor(label)``, for the progress line). ``describe``: read headers only, every
    array becoming a :class:`Described` (a shard's plan); ``part``: a shard's part of the file, whose
    other arrays are not read (described instead). ``max_matrices``: how many matrices one input may
    hold, counted as ``reshape`` makes them (limits.py)."""

    select: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    max_elements: int = DEFAULT_MAX_ELEMENTS
    on_tensor: Callable[[str], None] | None = None
    describe: bool = False
    part: FilePart | None = None
    max_matrices: int = DEFAULT_MAX_MATRICES
    reshape: str = "auto"

    def stack_problem(self, shape: tuple[int, ...], out_axis: int | None = None) -> str | None:
        """Why an array of this shape (a checkpoint's tensor with its ``out_axis``; None: a plain
        array) holds too many matrices to check, or None."""
        return stack_problem(shape, out_axis, self.reshape, self.max_matrices)

    def reads(self, label: str) -> bool:
        """Whether the data of the array ``label`` is read (else it is only described)."""
        return not self.describe and (self.part is None or self.part.reads(label))

    def passed_over(self, name: str) -> str | None:
        """Why the tensor ``name`` is not read, or None when it is selected."""
        if self.select and not any(fnmatchcase(name, pattern) for pattern in self.select):
            return f"not selected by --select {' or '.join(repr(p) for p in self.select)}"
        hit = next((pattern for pattern in self.skip if fnmatchcase(name, pattern)), None)
        return None if hit is None else f"skipped by --skip {hit!r}"

    def started(self, label: str) -> None:
        if self.on_tensor is not None:
            self.on_tensor(label)


@dataclass(frozen=True)
class Tensor:
    """One tensor as a container's header describes it, and how to read it: ``read()`` returns the
    array and the stored dtype where the array holds another one (bfloat16 read as float32)."""

    name: str
    shape: tuple[int, ...]
    read: Callable[[], tuple[np.ndarray, str | None]]
    problem: str | None = None  # why it cannot be checked, known from the header (its dtype)
    out_axis: int = CHANNELS_FIRST  # the axis of a kernel's outputs (kernels.py; Keras: CHANNELS_LAST)
    dtype: str = ""  # the stored dtype's name as the header gives it ("float32", "bool", "int64")


class NotRead(Exception):
    """Raised by a :class:`Tensor`'s ``read()`` to pass the tensor over, with the reason why."""


def library(module: str, source: str, what: str, package: str):
    """The optional library that reads a format, imported now; missing, a one-line InputError."""
    try:
        return importlib.import_module(module)
    except (ImportError, OSError):  # OSError: a wheel whose shared libraries do not load
        raise InputError(source, f"{what}; reading it needs {package} (pip install {package})") from None


def closest_names(pattern: str, names: list[str], count: int = 3) -> list[str]:
    """The tensor names a pattern that matched none was likely meant for: those that hold its literal
    part (fnmatch matches whole names: 'conv2d' is not 'layers/conv2d/vars/0'), then the most similar."""
    literal = re.sub(r"[*?\[\]]", "", pattern)
    holding = [name for name in names if literal and literal in name]
    similar = difflib.get_close_matches(pattern, names, count, cutoff=0.5)
    return list(dict.fromkeys(holding + similar))[:count]


def member_label(source: str, name: str) -> str:
    """``file:name``; the file alone for a container that holds one unnamed tensor."""
    return f"{source}:{name}" if name else source


def short(exc: BaseException) -> str:
    """The exception's type and the start of its first line, for a one-line message."""
    text = describe(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def not_a_matrix(shape: tuple[int, ...]) -> str | None:
    """Why a tensor of this shape is skipped (a bias, a scalar), or None for 2 or more dimensions."""
    if not shape:
        return "a scalar, not a matrix"
    return f"a 1-D tensor of length {shape[0]:,}, not a matrix" if len(shape) == 1 else None


def not_weights(dtype: str) -> str | None:
    """Why a tensor of this stored dtype is skipped (a mask, indices, counts), or None."""
    if dtype == "bool":
        return "a bool tensor (a mask), not a matrix of numbers"
    if INTEGER_DTYPE.fullmatch(dtype):
        return f"an integer tensor ({dtype}: indices or counts), not weights"
    return None


def size_problem(shape: tuple[int, ...], max_elements: int) -> str | None:
    count = math.prod(shape)
    if count <= max_elements:
        return None
    return (
        f"declares shape {shape} ({count:,} values), over the limit of {max_elements:,}; "
        "raise --max-elements to check it anyway"
    )


def _read(label: str, tensor: Tensor) -> LoadedArray | InputError | Skipped:
    try:
        array, stored = tensor.read()
    except NotRead as exc:
        return Skipped(label, str(exc))
    except InputError as exc:
        return exc
    except MemoryError:
        return InputError(label, "not enough memory to load it; lower --max-elements to refuse it early")
    except Exception as exc:  # each library raises its own types for a corrupt or truncated tensor
        return InputError(label, f"cannot read this tensor ({short(exc)})")
    if tuple(array.shape) != tensor.shape:
        return InputError(label, f"holds shape {tuple(array.shape)}, but the header declares {tensor.shape}")
    return LoadedArray(label, array, member=True, stored_dtype=stored, out_axis=tensor.out_axis)


def read_tensor(
    source: str, tensor: Tensor, selection: Selection
) -> LoadedArray | InputError | Skipped | Described:
    """One tensor: passed over (not selected, not a matrix, bool or integer), refused from its header
    (dtype, size), described (``selection.reads`` says no), or read (its reader may still pass it
    over: no library here reads its dtype)."""
    label = member_label(source, tensor.name)
    reason = selection.passed_over(tensor.name) or not_a_matrix(tensor.shape) or not_weights(tensor.dtype)
    if reason:
        return Skipped(label, reason)
    problem = (
        tensor.problem
        or size_problem(tensor.shape, selection.max_elements)
        or selection.stack_problem(tensor.shape, tensor.out_axis)
    )
    if problem:
        return InputError(label, problem)
    if not selection.reads(label):
        return Described(label, tensor.shape, tensor.out_axis)
    selection.started(label)
    return _read(label, tensor)


def read_tensors(
    source: str, tensors: Iterable[Tensor | Skipped | InputError], selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Every tensor of a container, in the container's order (Skipped and errors pass through); a
    failure while listing them (a corrupt header met half-way) ends the container with one error."""
    listing = iter(tensors)
    while True:
        try:
            tensor = next(listing)
        except StopIteration:
            return
        except InputError as exc:
            yield exc
            return
        except Exception as exc:  # each library raises its own types for a corrupt listing
            yield InputError(source, f"cannot list its tensors ({short(exc)})")
            return
        yield read_tensor(source, tensor, selection) if isinstance(tensor, Tensor) else tensor
