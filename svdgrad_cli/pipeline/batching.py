"""Order-preserving batching: matrices of one shape and dtype, from any file, share one backend call.

Frameworks pay a fixed cost per call (TensorFlow's eager dispatch is about a millisecond), so a run
over many small matrices is fastest when each backend sees them stacked. Matrices wait in a bucket per
(shape, dtype); a bucket is sent when it holds ``batch_elements`` entries, when the oldest waiting
matrix has ``max_waiting`` others queued behind it, or at the end. Results still come out in input
order, and at most about ``max_waiting`` matrices are held at any time, so memory stays flat however
many files a run reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from svdgrad_cli.errors import InputError
from svdgrad_cli.model import MatrixCase

Result = TypeVar("Result")
BATCH_ELEMENTS = 2**22  # entries per backend call: 32 MiB of float64
MAX_WAITING = 256  # matrices (or finished results) held back to keep the output in input order


def batched_in_order(
    items: Iterable[MatrixCase | InputError],
    process: Callable[[list[MatrixCase]], list[Result]],
    on_error: Callable[[InputError], Result],
    batch_elements: int = BATCH_ELEMENTS,
    max_waiting: int = MAX_WAITING,
) -> Iterator[Result]:
    """``process`` each bucket of same-shape, same-dtype matrices; yield results in input order."""
    buckets: dict[tuple, list[tuple[int, MatrixCase]]] = {}
    done: dict[int, Result] = {}
    next_out = 0

    def flush(key: tuple) -> None:
        entries = buckets.pop(key)
        for (seq, _), result in zip(entries, process([case for _, case in entries]), strict=True):
            done[seq] = result

    def waiting() -> int:
        return len(done) + sum(len(entries) for entries in buckets.values())

    for seq, item in enumerate(items):
        if isinstance(item, InputError):
            done[seq] = on_error(item)
        else:
            key = (item.array.shape, item.array.dtype.str)
            bucket = buckets.setdefault(key, [])
            bucket.append((seq, item))
            if len(bucket) * item.array.size >= batch_elements:
                flush(key)
        if waiting() > max_waiting and next_out not in done:
            flush(next(key for key, entries in buckets.items() if entries[0][0] == next_out))
        while next_out in done:
            yield done.pop(next_out)
            next_out += 1
    for key in sorted(buckets, key=lambda k: buckets[k][0][0]):
        flush(key)
        while next_out in done:  # as soon as possible, so an interrupted run keeps what it finished
            yield done.pop(next_out)
            next_out += 1
