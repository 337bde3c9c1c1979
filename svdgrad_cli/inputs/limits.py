"""How much an input may hold, checked from headers and archive directories before anything is
allocated: values per array (--max-elements), matrices per input (--max-matrices), bytes of a stream.

Imports nothing but math and kernels.py, so options.py (and with it ``svdgrad --help``) can name
the defaults without NumPy.
"""

import math

from svdgrad_cli.inputs.kernels import layout

# 2**26 entries: 512 MiB per float64 copy; an SVD and its gradient hold several copies.
DEFAULT_MAX_ELEMENTS = 2**26
# Matrices one input (a file, an archive, a checkpoint) may hold: 10,000 4x4 ones take 7 s with
# autograd (20 s with every backend); a stack of 2**22 in a 510 KB .npz took hours and GBs of report.
DEFAULT_MAX_MATRICES = 10_000
# The widest value a numeric array holds (complex256): what an array within --max-elements may take.
MAX_VALUE_BYTES = 32
# Headers and layout beside the values (an .npy header is at most 10,000 bytes).
HEADER_SLACK_BYTES = 2**20
# A stream (stdin, a pipe) is copied aside up to 16 bytes a value (complex128, the widest dtype the
# backends compute in): 1 GiB under the default --max-elements.
STREAM_VALUE_BYTES = 16


def max_array_bytes(max_elements: int) -> int:
    """The most bytes one array within ``max_elements`` values takes, header included."""
    return MAX_VALUE_BYTES * max_elements + HEADER_SLACK_BYTES


def max_stream_bytes(max_elements: int) -> int:
    """The most bytes read from a stream that cannot seek (standard input, a pipe) before it is refused."""
    return STREAM_VALUE_BYTES * max_elements + HEADER_SLACK_BYTES


def matrix_count(shape: tuple[int, ...], out_axis: int | None = None, reshape: str = "auto") -> int:
    """How many matrices an array of this shape is checked as: none for a scalar or a 1-D array (a
    bias: skipped, or an error); a checkpoint's kernel (``out_axis`` not None) as ``--reshape`` reads
    it (kernels.py); a plain array as a stack."""
    if len(shape) < 2:
        return 0
    return 1 if layout(shape, out_axis, reshape) != "stack" else math.prod(shape[:-2])


def stack_problem(
    shape: tuple[int, ...], out_axis: int | None, reshape: str, max_matrices: int
) -> str | None:
    """Why an array of this shape is refused for holding too many matrices, or None."""
    count = matrix_count(shape, out_axis, reshape)
    if count <= max_matrices:
        return None
    return (
        f"declares shape {shape}, a stack of {count:,} matrices, over the limit of {max_matrices:,} "
        "per input; raise --max-matrices to check them all"
    )
