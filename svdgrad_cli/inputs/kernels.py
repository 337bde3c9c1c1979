"""How a checkpoint's tensor of 3 or more axes becomes matrices (``--reshape``): one per kernel, or a stack.

The matrix a conv kernel stands for is the one spectral normalisation takes. PyTorch's
``torch.nn.utils.spectral_norm`` (and ``parametrizations.orthogonal``) reads an (out, in, kh, kw) weight
as ``weight.reshape(weight.size(0), -1)``: (out, in*kh*kw), ``rows``. Keras's ``SpectralNormalization``
reads a (kh, kw, in, out) kernel as ``reshape(kernel, [-1, kernel.shape[-1]])``: (kh*kw*in, out),
``columns``. Both are plain C-order reshapes of the stored array. ``auto`` (the default) picks by the
file's format: channels-first for PyTorch checkpoints and safetensors, channels-last for Keras ``.keras``
and ``.h5``. ``stack`` reads leading axes as a stack of (m, n) matrices instead (the last two axes of a
conv kernel: kh x kw matrices, out*in of them). Plain arrays (.npy, .npz, text) are always stacks: the
option concerns checkpoints only, so a setting meant for them cannot change what a fixture means.
"""

from __future__ import annotations

import math

RESHAPES = ("auto", "rows", "columns", "stack")
CHANNELS_FIRST, CHANNELS_LAST = 0, -1  # a checkpoint tensor's output axis (Tensor.out_axis)
WHAT = {"rows": "first axis by the rest", "columns": "the rest by the last axis"}


def layout(shape: tuple[int, ...], out_axis: int | None, reshape: str) -> str:
    """How an array is read: ``stack``, or one matrix (``rows``, ``columns``). ``out_axis`` is None
    for plain arrays (always a stack), else the format's output axis (used by ``auto``)."""
    if len(shape) < 3 or out_axis is None or reshape == "stack":
        return "stack"
    if reshape == "auto":
        return "rows" if out_axis == CHANNELS_FIRST else "columns"
    return reshape


def matrix_shape(shape: tuple[int, ...], how: str) -> tuple[int, int]:
    """The (m, n) of each matrix an array of this shape is read as."""
    if how == "rows":
        return shape[0], math.prod(shape[1:])
    if how == "columns":
        return math.prod(shape[:-1]), shape[-1]
    return shape[-2], shape[-1]


def as_matrix(array, how: str):
    """The array as the one matrix ``how`` (rows or columns) says, a view where it can be."""
    return array.reshape(matrix_shape(tuple(array.shape), how))


def _looks_channels_last(shape: tuple[int, ...]) -> bool:
    """A 4-D kernel whose first two axes look like a kh x kw window (equal, at most 7) and whose last
    two like channels (both over 7): Keras's or Flax's layout, where torch's ends with the window."""
    return len(shape) == 4 and shape[0] == shape[1] <= 7 and min(shape[2:]) > 7


def reshape_note(shape: tuple[int, ...], how: str) -> str | None:
    """What the report says of a kernel read as one matrix: '(64, 3, 7, 7) as 64x147 (rows: ...)',
    and the other reading where ``rows`` meets a kernel that looks channels-last (a Flax safetensors)."""
    if how == "stack":
        return None
    m, n = matrix_shape(shape, how)
    note = f"{shape} as {m}x{n} ({how}: {WHAT[how]})"
    if how == "rows" and _looks_channels_last(shape):
        other = "x".join(map(str, matrix_shape(shape, "columns")))
        note += f"; its axes look like (kh, kw, in, out): --reshape columns reads it as {other}"
    return note
