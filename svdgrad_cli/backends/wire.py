"""The messages between svdgrad and a backend's worker process: a JSON header and raw arrays.

A message is an 8-byte length and that many bytes of JSON (the header; its ``arrays`` lists each
array's name, dtype and shape), then each array's bytes in C order. Nothing is ever pickled: a dtype
that holds Python objects is refused, and every size is checked against the reader's limit before
anything is read, so a worker that misbehaves can send a malformed message, never code or a bomb.
The reader takes a deadline (select on the pipe) and asks every ALIVE_POLL seconds whether the
writer lives; the worker process reads without either.
"""

from __future__ import annotations

import json
import math
import os
import select
import time
from collections.abc import Callable

import numpy as np

from svdgrad_cli.numerics.losses import Loss, VectorLoss, parse_loss

HEADER_BYTES = 2**20  # a header is a few hundred bytes; one larger is malformed
LENGTH = 8  # bytes of the length prefix (big-endian)
CHUNK = 2**16  # bytes asked of the pipe at a time (its buffer's size on Linux)
ALIVE_POLL = 0.25  # seconds between two checks that the writer of a silent pipe still lives


class Closed(Exception):
    """The other end closed the pipe (the worker exited or was killed)."""


class Expired(Exception):
    """No complete message before the deadline."""


class Malformed(Exception):
    """A message that does not follow this module's format or exceeds the reader's limit."""


def encode_parts(header: dict, arrays: dict[str, np.ndarray] | None = None) -> list[bytes | memoryview]:
    """One message in parts, each array's bytes a view of the array, not a copy: ``header``
    (JSON-serialisable) and named arrays (ValueError for object arrays)."""
    arrays = {name: np.ascontiguousarray(a) for name, a in (arrays or {}).items()}
    for a in arrays.values():
        if a.dtype.hasobject:
            raise ValueError(f"an array of dtype {a.dtype} holds Python objects, which only pickle carries")
    listed = [[name, a.dtype.str, list(a.shape)] for name, a in arrays.items()]
    head = json.dumps({**header, "arrays": listed}).encode()
    return [
        len(head).to_bytes(LENGTH, "big"),
        head,
        *(memoryview(a.reshape(-1).view(np.uint8).data) for a in arrays.values()),
    ]


def encode(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One message as bytes (encode_parts joined)."""
    return b"".join(encode_parts(header, arrays))


def send(fd: int, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write one message to the file descriptor ``fd`` (BrokenPipeError becomes Closed)."""
    write(fd, encode_parts(header, arrays))


def write(fd: int, message: bytes | list[bytes | memoryview]) -> None:
    """Write an encoded message, or its parts in turn, to ``fd`` (BrokenPipeError becomes Closed)."""
    try:
        for part in [message] if isinstance(message, bytes) else message:
            data = memoryview(part)
            while data:
                data = data[os.write(fd, data) :]
    except (BrokenPipeError, ConnectionResetError):
        raise Closed from None


class Reader:
    """Messages from one pipe, read in chunks (a small message is one read)."""

    def __init__(self, fd: int, alive: Callable[[], bool] = lambda: True) -> None:
        self.fd, self.alive = fd, alive
        self.buffer = bytearray()

    def _wait(self, deadline: float | None) -> None:
        """Until the pipe can be read: Expired past the deadline, Closed when the writer is dead
        although the pipe is open (a process it forked holds it)."""
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Expired
            tick = ALIVE_POLL if remaining is None else min(remaining, ALIVE_POLL)
            if select.select([self.fd], [], [], tick)[0]:
                return
            if not self.alive():
                raise Closed

    def read(self, size: int, deadline: float | None) -> bytearray:
        if size > CHUNK and len(self.buffer) < size:
            return self._read_into(size, deadline)
        while len(self.buffer) < size:
            self._wait(deadline)
            chunk = os.read(self.fd, max(CHUNK, size - len(self.buffer)))
            if not chunk:
                raise Closed
            self.buffer += chunk
        data = self.buffer[:size]
        del self.buffer[:size]
        return data

    def _read_into(self, size: int, deadline: float | None) -> bytearray:
        """``size`` bytes read straight into one buffer of that size (an array's bytes: no copy
        of them is made on the way, and nothing beyond them is read)."""
        data = bytearray(size)
        have = len(self.buffer)
        data[:have], self.buffer = self.buffer, bytearray()
        view = memoryview(data)
        while have < size:
            self._wait(deadline)
            got = os.readv(self.fd, [view[have:]])
            if not got:
                raise Closed
            have += got
        return data


def _described(entry) -> tuple[str, np.dtype, tuple[int, ...]]:
    name, dtype, shape = entry
    dtype = np.dtype(str(dtype))
    shape = tuple(int(side) for side in shape)
    if dtype.hasobject or any(side < 0 for side in shape):
        raise ValueError(f"array {name!r} of dtype {dtype} and shape {shape}")
    return str(name), dtype, shape


def receive(
    reader: Reader, max_bytes: int, deadline: float | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of the next message; Malformed beyond ``max_bytes`` of arrays."""
    length = int.from_bytes(reader.read(LENGTH, deadline), "big")
    if length > HEADER_BYTES:
        raise Malformed(f"a header of {length:,} bytes")
    try:
        header = json.loads(reader.read(length, deadline))
        listed = [_described(entry) for entry in header.pop("arrays")]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Malformed(f"a header that is not svdgrad's ({exc})") from None
    sizes = [math.prod(shape) * dtype.itemsize for _, dtype, shape in listed]
    if sum(sizes) > max_bytes:
        raise Malformed(f"arrays of {sum(sizes):,} bytes (at most {max_bytes:,} expected)")
    return header, {
        name: np.frombuffer(reader.read(size, deadline), dtype).reshape(shape)
        for (name, dtype, shape), size in zip(listed, sizes, strict=True)
    }


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
