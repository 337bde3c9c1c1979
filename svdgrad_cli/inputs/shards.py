"""``--shard K/N``: the part of a run's matrices that one of N machines checks, decided alike on each.

**Granularity: the matrix.** Every shard plans the whole run from headers alone (.npy headers, the
.npy headers of .npz members, safetensors' JSON header, HDF5 metadata, PyTorch zip checkpoints
memory-mapped; a legacy pickled .pt is loaded whole, and a text file is known by its size), and
every array becomes one item per matrix it holds. So one large checkpoint, or one large stack, is
spread over the shards as evenly as a directory of small files; whole files would be cheaper to plan
but leave a big checkpoint on one machine. A shard then reads the data of only the arrays it checks a
matrix of (parts.py), each once: the plan reads no data, so nothing is read twice.

**Work** of a matrix item: m·n·min(m, n) (the SVDs) + WORK_PER_ITEM (the fixed cost of one matrix's
reference and verdicts: about 0.3 ms with autograd here, what 2^15 units take at 512x512). A text
file counts as a square matrix of (its bytes / TEXT_BYTES_PER_ENTRY) entries. Input errors and
skipped tensors are items too, so that each is reported by exactly one shard; errors of a file that
cannot be read at all go to the shard of that file's item.

**Key** of an item: (the path relative to the command-line argument it was found under, or a file
argument's own name; the tensor or member name; the stack index; the argument's number; the event's
number in its file). It depends on names and file contents only: not on absolute paths, the
directory the command runs in, inode order or the order files were created.

**Balance**: greedy longest-processing-time: items by decreasing work, ties by key, each to the
shard with the least work so far (ties to the lowest K); within 4/3 of the best split (Graham 1969)
and computed by every shard alike from the same headers, without talking to the others. A digest of
every item's key and work goes into each shard's report, so that ``svdgrad merge`` refuses shards
that planned different inputs.

**Order**: each result and skipped input records its position in an unsharded run (the file's number
in discovery order, the event's number in the file, the stack index), by which merge.py restores it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import Described, LoadedArray, Skipped
from svdgrad_cli.inputs.discovery import FileList, collect_files
from svdgrad_cli.inputs.kernels import layout, matrix_shape
from svdgrad_cli.inputs.loading import matrix_indices, read_source
from svdgrad_cli.inputs.parts import FilePart, ShardFile, ShardInfo
from svdgrad_cli.inputs.tensors import Selection

WORK_PER_ITEM = 2**15
TEXT_BYTES_PER_ENTRY = 10
SHARD = re.compile(r"(\d+)/(\d+)")
STACK_LABEL = re.compile(r"(.*)\[(\d+(?:,\d+)*)\]", re.DOTALL)  # a stack's matrix: ``file.npy[2,0]``


def parse_shard(text: str | None, paths: Iterable[str] = ()) -> tuple[int, int] | None:
    """(K, N) of ``--shard K/N``, or None without it; a UsageError for anything else."""
    if text is None:
        return None
    match = SHARD.fullmatch(text.strip())
    if not match:
        raise UsageError(f"--shard takes K/N, the K-th of N parts (e.g. 2/4), not {text!r}")
    k, n = int(match.group(1)), int(match.group(2))
    if not 1 <= k <= n:
        raise UsageError(f"--shard {text}: K must be from 1 to N")
    if "-" in paths:
        raise UsageError("--shard cannot read standard input (-): every shard must read the same files")
    return k, n


@dataclass(frozen=True)
class Item:
    """One matrix of the run (or one error, or one skipped input), with its key and its work."""

    key: tuple
    work: int
    label: str  # the array's (or file's) label: ``file``, ``file.npz:member``
    index: tuple[int, ...]  # the stack index; () for a lone matrix and anything that is none
    matrix: bool


def _relative(path: str, argument: str) -> str:
    """``path`` relative to the argument it was found under, with / separators (a file argument: its name)."""
    if os.path.isdir(argument):
        return Path(os.path.relpath(path, argument)).as_posix()
    return Path(os.path.normpath(argument)).name


def item_work(m: int, n: int) -> int:
    """The work of one m x n matrix item (see the module docstring); also scan's plan (inputs/plan.py)."""
    return m * n * min(m, n) + WORK_PER_ITEM


def _matrix_work(shape: tuple[int, ...], how: str) -> int:
    return item_work(*matrix_shape(shape, how))


def _layout(event, reshape: str) -> list[tuple[tuple[int, ...], int, bool]]:
    """(stack index, work, is a matrix) of every item of one event of a file."""
    if isinstance(event, LoadedArray):  # a reader that cannot describe: planned by its array
        event = Described(event.source, tuple(event.array.shape), event.out_axis)
    if not isinstance(event, Described):
        return [((), WORK_PER_ITEM, False)]
    if event.shape is None:  # text: its size in bytes, as a square matrix
        side = math.sqrt(event.nbytes / TEXT_BYTES_PER_ENTRY)
        return [((), int(side**3) + WORK_PER_ITEM, True)]
    shape = event.shape
    if len(shape) < 2 or 0 in shape:
        return [((), WORK_PER_ITEM, False)]
    how = layout(shape, event.out_axis, reshape)
    return [(index, _matrix_work(shape, how), True) for index in matrix_indices(shape, how)]


def _file_items(
    entry: str | InputError, key: tuple[str, int], selection: Selection, reshape: str
) -> tuple[list[Item], list[str]]:
    """The items of one file (its arrays described from their headers) and its events' labels."""
    path = entry.source if isinstance(entry, InputError) else entry
    events: Iterable[LoadedArray | InputError | Skipped | Described] = (
        [entry] if isinstance(entry, InputError) else read_source(entry, selection.max_elements, selection)
    )
    items, labels = [], []
    relative, argument = key
    for number, event in enumerate(events):
        label = event.source
        labels.append(label)
        member = label[len(path) :] if label.startswith(path) else label
        for index, work, matrix in _layout(event, reshape):
            items.append(Item((relative, member, index, argument, number), work, label, index, matrix))
    if not items:  # a file with nothing in it still has an owner, for whatever it holds later
        items.append(Item((relative, "", (), argument, 0), WORK_PER_ITEM, path, (), False))
    return items, labels


def assign(items: list[Item], count: int) -> list[int]:
    """The shard (0-based) of each item: longest processing time first, ties by key and lowest shard."""
    owners = [0] * len(items)
    # Shards beyond the number of items would get nothing (the first items go to shards 0, 1, 2, ...):
    # leaving them out gives the same plan without a list of N entries (--shard 1/1000000000).
    loads = [(0, shard) for shard in range(min(count, len(items)))]
    for i in sorted(range(len(items)), key=lambda i: (-items[i].work, items[i].key)):
        load, shard = heapq.heappop(loads)
        owners[i] = shard
        heapq.heappush(loads, (load + items[i].work, shard))
    return owners


def _part(items: list[Item], owners: list[int], shard: int) -> FilePart | None:
    """What ``shard`` checks of one file's items; None when nothing."""
    owned: dict[str, set[tuple[int, ...]]] = {}
    leads, known = set(), set()
    for item, owner in zip(items, owners, strict=True):
        if item.label not in known and owner == shard:  # a label's first item leads it
            leads.add(item.label)
        known.add(item.label)
        if owner == shard:
            owned.setdefault(item.label, set()).add(item.index)
    if not owned:
        return None
    frozen = {label: frozenset(indices) for label, indices in owned.items()}
    return FilePart(frozen, frozenset(leads), frozenset(known), owners[0] == shard)


class ShardPlan:
    """The whole run's items and their shards; ``files`` what this shard reads and reports."""

    def __init__(self, shard: tuple[int, int], paths: list[str], settings, options) -> None:
        self.index, self.count = shard
        selection = Selection(
            settings.select,
            settings.skip,
            options.max_elements,
            describe=True,
            max_matrices=settings.max_matrices,
            reshape=settings.reshape,
        )
        self.positions: dict[str, tuple[int, ...]] = {}  # label -> (file number, event number)
        self.unforeseen = 0  # events reported that the plan did not see
        self.entries: list[str | InputError] = []
        self.skipped: list[tuple[Skipped, Item]] = []
        self.file_items: list[list[Item]] = []
        for argument_number, argument in enumerate(paths):
            found = collect_files([argument], options.recursive, options.globs, options.excludes)
            for skipped in found.skipped:
                key = (_relative(skipped.source, argument), "", (), argument_number, -1)
                self.skipped.append((skipped, Item(key, 0, skipped.source, (), False)))
            for entry in found.entries:
                if isinstance(entry, ShardFile):
                    raise TypeError("a plan is made of whole files")
                path = entry.source if isinstance(entry, InputError) else entry
                file_key = (_relative(path, argument), argument_number)
                items, labels = _file_items(entry, file_key, selection, settings.reshape)
                for number, label in enumerate(labels):
                    self.positions.setdefault(label, (len(self.entries), number))
                self.entries.append(entry)
                self.file_items.append(items)
        self.items = [item for _, item in self.skipped] + [i for items in self.file_items for i in items]
        self.owners = assign(self.items, self.count)
        self.files = self._files()

    def _files(self) -> FileList:
        shard, owners = self.index - 1, iter(self.owners)
        out = FileList()
        for number, (skipped, _) in enumerate(self.skipped):
            if next(owners) == shard:
                out.skipped.append(replace(skipped, position=(-1, number)))
        for entry, items in zip(self.entries, self.file_items, strict=True):
            part = _part(items, [next(owners) for _ in items], shard)
            if part is not None:
                out.entries.append(entry if isinstance(entry, InputError) else ShardFile(entry, part))
        return out

    @property
    def loads(self) -> list[int]:
        """The planned work of every shard."""
        loads = [0] * self.count
        for item, owner in zip(self.items, self.owners, strict=True):
            loads[owner] += item.work
        return loads

    @property
    def info(self) -> ShardInfo:
        """K, N and the plan's digest: every file item's key and work. Files passed over by name (no
        work: they go last, all to one shard, and move no other item) are left out, so that a shard's
        own report written into the tree does not set it apart."""
        digest = hashlib.sha256()
        for items in self.file_items:
            for item in items:
                digest.update(json.dumps([item.key, item.work]).encode())
        return ShardInfo(self.index, self.count, digest.hexdigest()[:16])

    def summary(self) -> str:
        """One line for standard error: what this shard checks of the run."""
        mine = [i for i, owner in zip(self.items, self.owners, strict=True) if owner == self.index - 1]
        matrices = sum(1 for item in self.items if item.matrix)
        share = self.loads[self.index - 1] / max(sum(self.loads), 1)
        return (
            f"shard {self.index}/{self.count}: {sum(1 for i in mine if i.matrix)} of {matrices} matrices "
            f"({share:.0%} of the work) in {len(self.files.entries)} of {len(self.entries)} files"
        )

    def position(self, source: str, index: tuple[int, ...] = ()) -> tuple[int, ...]:
        """Where a result or skipped input of this label comes in an unsharded run."""
        if source in self.positions:
            return (*self.positions[source], *index)
        match = STACK_LABEL.fullmatch(source)  # an error of one matrix of a stack
        if match and match.group(1) in self.positions:
            return (*self.positions[match.group(1)], *(int(i) for i in match.group(2).split(",")))
        self.unforeseen += 1  # not in the plan (the file changed since): after the rest, each its own
        return (len(self.entries), self.index, self.unforeseen)

    def positioned(self, reports: Iterator) -> Iterator:
        """The reports (and skipped inputs) of a run, each with its position."""
        try:
            for item in reports:
                yield replace(item, position=self.position(item.source, getattr(item, "index", ())))
        finally:
            close = getattr(reports, "close", None)
            if close is not None:
                close()


def plan_shard(shard: tuple[int, int], paths: list[str], settings, options) -> ShardPlan:
    """Plan a sharded run over ``paths`` (Settings: --select/--skip/--reshape; RunOptions: discovery
    and --max-elements) and return this shard's part of it."""
    return ShardPlan(shard, paths, settings, options)
