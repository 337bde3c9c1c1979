"""The messages between svdgrad and a backend's worker process: a JSON header and NumPy arrays.

A message is an 8-byte length and that many bytes of JSON (the header; its ``arrays`` lists each
array's name and size), then each array in NumPy's .npy format. Nothing is ever pickled: arrays are
read with ``allow_pickle=False`` and every size is checked against the reader's limit before
anything is allocated, so a worker that misbehaves can send a malformed message, never code or a
bomb. The reader takes a deadline (select on the pipe); the worker process reads without one.
"""

from __future__ import annotations

import io
import json
import os
import select
import time

import numpy as np

from svdgrad_cli.numerics.losses import Loss, VectorLoss, parse_loss

HEADER_BYTES = 2**20  # a header is a few hundred bytes; one larger is malformed
LENGTH = 8  # bytes of each length prefix (big-endian)


class Closed(Exception):
    """The other end closed the pipe (the worker exited or was killed)."""


class Expired(Exception):
    """No complete message before the deadline."""


class Malformed(Exception):
    """A message that does not follow this module's format or exceeds the reader's limit."""


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def encode(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One message: ``header`` (JSON-serialisable) and named arrays (object arrays are refused)."""
    blobs = {name: _npy(array) for name, array in (arrays or {}).items()}
    text = json.dumps({**header, "arrays": [[name, len(blob)] for name, blob in blobs.items()]})
    head = text.encode()
    return b"".join([len(head).to_bytes(LENGTH, "big"), head, *blobs.values()])


def send(fd: int, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write one message to the file descriptor ``fd`` (BrokenPipeError becomes Closed)."""
    data = memoryview(encode(header, arrays))
    try:
        while data:
            data = data[os.write(fd, data) :]
    except (BrokenPipeError, ConnectionResetError):
        raise Closed from None


def _read(fd: int, size: int, deadline: float | None) -> bytes:
    parts, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise Expired
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            raise Closed
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _array(blob: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise Malformed(f"an array that is not .npy data ({exc})") from None


def receive(fd: int, max_bytes: int, deadline: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of the next message on ``fd``; Malformed beyond ``max_bytes`` of arrays."""
    length = int.from_bytes(_read(fd, LENGTH, deadline), "big")
    if length > HEADER_BYTES:
        raise Malformed(f"a header of {length:,} bytes")
    try:
        header = json.loads(_read(fd, length, deadline))
        listed = [(str(name), int(size)) for name, size in header.pop("arrays")]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Malformed(f"a header that is not svdgrad's ({exc})") from None
    if not isinstance(header, dict) or any(size < 0 for _, size in listed):
        raise Malformed("a header that is not svdgrad's")
    if sum(size for _, size in listed) > max_bytes:
        raise Malformed(
            f"arrays of {sum(size for _, size in listed):,} bytes (at most {max_bytes:,} expected)"
        )
    return header, {name: _array(_read(fd, size, deadline)) for name, size in listed}


def loss_message(loss: Loss) -> tuple[dict, dict[str, np.ndarray]]:
    """A bound loss as a header and its weight arrays (``loss_from_message`` rebuilds it)."""
    on_complex = isinstance(loss, VectorLoss) and loss.on_complex
    return {"loss": loss.name, "on_complex": on_complex}, {f"loss {k}": v for k, v in loss.arrays.items()}


def loss_from_message(header: dict, arrays: dict[str, np.ndarray]) -> Loss:
    unbound = parse_loss(header["loss"])
    if not unbound.needs_vectors:
        return unbound
    weights = {name.removeprefix("loss "): a for name, a in arrays.items() if name.startswith("loss ")}
    return VectorLoss(unbound.kind, unbound.order, weights, bool(header["on_complex"]))
