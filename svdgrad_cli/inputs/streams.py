"""An input path opened as a seekable binary stream: a file as it is; standard input and pipes copied
aside, in memory up to SPOOL_BYTES and then to a temporary file, and refused past
``limits.max_stream_bytes``, so that memory stays bounded and an endless stream ends."""

from __future__ import annotations

import io
import sys
import tempfile
from typing import IO

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.limits import STREAM_VALUE_BYTES, max_stream_bytes

SPOOL_BYTES = 2**24  # of a stream held in memory; more goes to a temporary file
STREAM_CHUNK = 2**20


def _stdin(max_elements: int) -> IO[bytes]:
    if sys.stdin is None:
        raise InputError("-", "there is no standard input")
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BytesIO(sys.stdin.read(max_stream_bytes(max_elements) + 1).encode("utf-8"))  # text only


def _spooled(raw: IO[bytes], source: str, max_elements: int) -> IO[bytes]:
    """A stream that cannot seek copied into a seekable one, refused past ``max_stream_bytes``."""
    limit = max_stream_bytes(max_elements)
    copy = tempfile.SpooledTemporaryFile(SPOOL_BYTES, prefix="svdgrad-")  # noqa: SIM115 - returned
    size, ended = 0, False
    while not ended:
        wanted = min(STREAM_CHUNK, limit + 1 - size)
        chunk = raw.read(wanted)
        ended = len(chunk) < wanted  # a buffered read returns less only at the end (Ctrl-D at a terminal)
        size += len(chunk)
        if size > limit:
            copy.close()
            raise InputError(
                source,
                f"more than {limit:,} bytes on this stream, over what --max-elements {max_elements:,} "
                f"allows ({STREAM_VALUE_BYTES} bytes a value); raise --max-elements to read it",
            )
        copy.write(chunk)
    copy.seek(0)
    return copy


def open_input(path: str, max_elements: int) -> IO[bytes]:
    """A seekable binary stream of a file or of stdin (``-``); what cannot seek is copied aside."""
    if path == "-":
        return _spooled(_stdin(max_elements), path, max_elements)
    stream = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if stream.seekable():
        return stream
    with stream:
        return _spooled(stream, path, max_elements)
