"""ZIP members (.npz, PyTorch checkpoints, .keras) judged from the archive's central directory, before
a byte of them is inflated: a declared size over the input's limit, or a zip bomb's expansion.

Keras 3 refuses a member that inflates to more than 100 times its stored size above a floor
(``_reject_zip_bomb`` in keras/src/saving/saving_lib.py): what Keras and torch.save write is stored
uncompressed, and DEFLATE itself cannot exceed about 1032:1. svdgrad refuses the same, from 256 MiB.
The sizes are those zipfile and torch's reader hold a member to: neither inflates more than declared.
"""

from __future__ import annotations

import zipfile

MAX_EXPANSION = 100
EXPANSION_FLOOR_BYTES = 2**28  # Keras's floor for extracting an archive


def member_problem(info: zipfile.ZipInfo, max_bytes: int, what: str = "", hint: str = "") -> str | None:
    """Why the member ``info`` is not inflated (``what`` it is, for the message), or None: it declares
    more than ``max_bytes`` (then ``hint`` says what allows more), or it is compressed and expands more
    than MAX_EXPANSION times."""
    name = what or info.filename
    if info.file_size > max_bytes:
        return f"{name} declares {info.file_size:,} bytes, over the {max_bytes:,} it may hold{hint}"
    expansion = info.file_size / max(info.compress_size, 1)
    if (
        info.compress_type != zipfile.ZIP_STORED
        and info.file_size > EXPANSION_FLOOR_BYTES
        and expansion > MAX_EXPANSION
    ):
        return (
            f"{name} would inflate {expansion:,.0f} times, from {info.compress_size:,} to "
            f"{info.file_size:,} bytes (a zip bomb; over {MAX_EXPANSION} times is refused)"
        )
    return None
