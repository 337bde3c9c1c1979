"""Order-preserving batching: matrices of one shape and dtype, from any file, share one backend call.

Frameworks pay a fixed cost per call (TensorFlow's eager dispatch is about a millisecond), so a run
over many small matrices is fastest when each backend sees them stacked. Matrices wait in a bucket per
(shape, dtype); a bucket is sent when it holds ``batch_elements`` entries, when the oldest waiting
matrix has ``max_waiting`` others queued behind it, or at the end. Results still come out in input
order, and at most about ``max_waiting`` matrices are held at any time, so memory stays flat however
many files a run reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped

Result = TypeVar("Result")
BATCH_ELEMENTS = 2**22  # entries per backend call: 32 MiB of float64
MAX_WAITING = 256  # matrices (or finished results) held back to keep the output in input order


class _Buckets(Generic[Result]):
    """Matrices waiting per (shape, dtype), and finished results waiting for their turn."""

    def __init__(self, process: Callable[[list[MatrixCase]], Sequence[Result]]) -> None:
        self.process = process
        self.waiting: dict[tuple, list[tuple[int, MatrixCase]]] = {}
        self.done: dict[int, Result] = {}
        self.next_out = 0

    def add(self, seq: int, case: MatrixCase, batch_elements: int) -> None:
        key = (case.array.shape, case.array.dtype.str)
        bucket = self.waiting.setdefault(key, [])
        bucket.append((seq, case))
        if len(bucket) * case.array.size >= batch_elements:
            self.flush(key)

    def flush(self, key: tuple) -> None:
        entries = self.waiting.pop(key)
        for (seq, _), result in zip(entries, self.process([case for _, case in entries]), strict=True):
            self.done[seq] = result

    def held(self) -> int:
        return len(self.done) + sum(len(entries) for entries in self.waiting.values())

    def flush_oldest(self) -> None:
        """Process the bucket holding the next result due out."""
        self.flush(next(key for key, entries in self.waiting.items() if entries[0][0] == self.next_out))

    def ready(self) -> Iterator[Result]:
        """Every finished result whose turn has come, in order."""
        while self.next_out in self.done:
            yield self.done.pop(self.next_out)
            self.next_out += 1


def batched_in_order(
    items: Iterable[MatrixCase | InputError | Skipped],
    process: Callable[[list[MatrixCase]], Sequence[Result]],
    passthrough: Callable[[InputError | Skipped], Result],
    batch_elements: int = BATCH_ELEMENTS,
    max_waiting: int = MAX_WAITING,
) -> Iterator[Result]:
    """``process`` each bucket of same-shape, same-dtype matrices; yield results in input order.
    Anything else (input errors, skipped members) becomes ``passthrough(item)`` in its place."""
    buckets: _Buckets[Result] = _Buckets(process)
    for seq, item in enumerate(items):
        if isinstance(item, MatrixCase):
            buckets.add(seq, item, batch_elements)
        else:
            buckets.done[seq] = passthrough(item)
        if buckets.held() > max_waiting and buckets.next_out not in buckets.done:
            buckets.flush_oldest()
        yield from buckets.ready()
    while buckets.waiting:  # oldest first, and out as soon as possible: an interrupted run keeps them
        buckets.flush_oldest()
        yield from buckets.ready()
