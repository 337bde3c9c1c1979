"""What one shard of a ``--shard K/N`` run reads of each file (the plan itself is shards.py).

A file's arrays are known by their labels (``file``, ``file.npz:member``, ``model.pt:layer.weight``);
a stack's matrices by the label and their stack index. A shard reads an array when it checks at least
one of its matrices, keeps only those matrices, and reports an array's own events (an error of the
whole array, a skipped tensor) only when it checks the array's first matrix, so that every event is
reported by exactly one shard. An event the plan did not foresee (a file that changed since) is
reported by the shard that checks the file's first item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FilePart:
    """This shard's part of one file: the matrices it checks, by array label and stack index."""

    owned: Mapping[str, frozenset[tuple[int, ...]]]  # label -> the stack indices checked here
    leads: frozenset[str]  # labels whose first matrix (and so their own events) is checked here
    known: frozenset[str]  # every label the plan saw in this file
    rest: bool  # whether events the plan did not see are reported here

    def reads(self, label: str) -> bool:
        """Whether the array ``label`` is read here (its data; its header is read either way)."""
        return bool(self.owned.get(label)) if label in self.known else self.rest

    def reports(self, label: str) -> bool:
        """Whether an event of the array or file ``label`` itself (an error, a skip) is reported here."""
        return label in self.leads if label in self.known else self.rest

    def indices(self, label: str) -> frozenset[tuple[int, ...]] | None:
        """The stack indices of ``label`` checked here; None for all (an array the plan did not see)."""
        return self.owned.get(label, frozenset()) if label in self.known else None


@dataclass(frozen=True)
class ShardFile:
    """A file entry of a sharded run: the file's path and this shard's ``part`` of it."""

    path: str
    part: FilePart


def entry_path(entry: str | ShardFile) -> str:
    """The path of a file entry, whole or a shard's part."""
    return entry.path if isinstance(entry, ShardFile) else entry


@dataclass(frozen=True)
class ShardInfo:
    """Which shard a report is, of how many, and a digest of the plan every shard computed alike."""

    index: int  # K, 1-based
    count: int  # N
    plan: str  # a digest of every planned item's key and work: equal in the shards of one run
