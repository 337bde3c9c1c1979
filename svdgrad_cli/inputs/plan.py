"""Scan's shard plan: the matrices ``svdgrad scan --plan-shards N --write-plan FILE`` found at risk,
each given to one of N shards, which ``svdgrad check PATHS --plan FILE --shard K/N`` reads.

The file is one JSON object (schema ``svdgrad-plan/1``): ``shards`` N, and ``items`` in the order one
unsharded run meets them, each ``{"file", "label", "index", "work", "shard"}`` (``shard`` 1-based).
The work of a matrix is shards.py's (m·n·min(m, n) plus a fixed cost per matrix); the shards are
balanced as shards.py balances them, by greedy longest-processing-time (largest matrices spread
first, as pytest-xdist's load scheduling), so that any two shards differ by at most the largest
matrix's work. ``check --plan FILE`` without ``--shard`` checks every planned matrix: the run that
``svdgrad merge`` of the N shards' jsonl reports equals.

A shard reads only its matrices of each file (parts.py), and reports a file's own errors (it cannot
be read any more) when it owns the file's first planned matrix.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.discovery import FileList, collect_files
from svdgrad_cli.inputs.parts import FilePart, ShardFile, ShardInfo
from svdgrad_cli.inputs.shards import Item, ShardPlan, assign, plan_shard

PLAN_SCHEMA = "svdgrad-plan/1"


def plan_items(matrices: Iterable[tuple[str, str, tuple[int, ...], int]], count: int) -> list[dict]:
    """The plan's items: each (file, label, stack index, work), in run order, with its shard."""
    rows = list(matrices)
    items = [Item((number,), work, label, index, True) for number, (_, label, index, work) in enumerate(rows)]
    owners = assign(items, count)
    return [
        {"file": file, "label": label, "index": list(index), "work": work, "shard": owner + 1}
        for (file, label, index, work), owner in zip(rows, owners, strict=True)
    ]


def plan_document(items: list[dict], count: int, settings: dict) -> str:
    loads = [sum(i["work"] for i in items if i["shard"] == k) for k in range(1, count + 1)]
    document = {"schema": PLAN_SCHEMA, "shards": count, "settings": settings, "loads": loads, "items": items}
    return json.dumps(document, indent=1) + "\n"


def read_plan(path: str) -> dict:
    """The plan file's object; a UsageError naming the file for anything else."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise UsageError(f"--plan {path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"--plan {path}: not JSON; write it with 'svdgrad scan --write-plan'") from None
    try:
        if document["schema"] != PLAN_SCHEMA:
            raise ValueError(f"schema {document['schema']!r}, not {PLAN_SCHEMA}")
        for item in document["items"]:
            if not 1 <= int(item["shard"]) <= int(document["shards"]):
                raise ValueError(f"an item of shard {item['shard']} in a plan of {document['shards']}")
            [int(i) for i in item["index"]], str(item["file"]), str(item["label"]), int(item["work"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--plan {path}: not a plan of 'svdgrad scan' ({exc})") from None
    return document


class PlannedShard(ShardPlan):
    """One shard of scan's plan (or, with ``shard`` None, all of it), with ShardPlan's positions."""

    def __init__(self, shard: tuple[int, int] | None, document: dict, name: str, found: list) -> None:
        self.count = int(document["shards"])
        if shard is not None and shard[1] != self.count:
            raise UsageError(f"--shard {shard[0]}/{shard[1]}: {name} is of {self.count} shards")
        self.whole = shard is None  # every planned matrix: ``check --plan`` without --shard
        self.index = 0 if shard is None else shard[0]
        self.name = name
        self.items_planned = [{**item, "index": tuple(item["index"])} for item in document["items"]]
        self._check_covered(found)
        self.unforeseen = 0
        self.positions: dict[str, tuple[int, ...]] = {}
        for number, item in enumerate(self.items_planned):
            self.positions.setdefault(item["label"], (number,))
            self.positions.setdefault(item["file"], (number,))
        planned_files: list[str] = list(dict.fromkeys(item["file"] for item in self.items_planned))
        self.entries = list(planned_files)
        self.files = self._file_list(planned_files)

    def _check_covered(self, found: list) -> None:
        """Every planned file must be among the files of the PATHS given (else a UsageError)."""
        paths = {os.path.normpath(str(p)) for p in found}
        missing = sorted({i["file"] for i in self.items_planned if os.path.normpath(i["file"]) not in paths})
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise UsageError(f"{self.name} names {missing[0]}{more}, which PATHS do not name")

    def mine(self, item: dict) -> bool:
        return self.whole or item["shard"] == self.index

    def _file_list(self, planned_files: list[str]) -> FileList:
        out = FileList()
        for file in planned_files:
            items = [i for i in self.items_planned if i["file"] == file]
            owned: dict[str, set[tuple[int, ...]]] = {}
            for item in filter(self.mine, items):
                owned.setdefault(item["label"], set()).add(item["index"])
            if not owned:
                continue
            first: dict[str, dict] = {}
            for item in items:
                first.setdefault(item["label"], item)  # a label's first item leads it (parts.py)
            leads = {label for label, item in first.items() if self.mine(item)}
            if self.mine(items[0]):
                leads.add(file)  # the file's own errors (it cannot be read any more)
            known = {i["label"] for i in items} | {file}
            frozen = {label: frozenset(indices) for label, indices in owned.items()}
            out.entries.append(ShardFile(file, FilePart(frozen, frozenset(leads), frozenset(known), False)))
        return out

    @property
    def loads(self) -> list[int]:
        loads = [0] * self.count
        for item in self.items_planned:
            loads[item["shard"] - 1] += item["work"]
        return loads

    @property
    def info(self) -> ShardInfo:
        if self.whole:
            raise ValueError(f"{self.name}: the whole plan is no shard (no --shard)")
        digest = hashlib.sha256(json.dumps([self.count, self.items_planned]).encode())
        return ShardInfo(self.index, self.count, digest.hexdigest()[:16])

    def summary(self) -> str:
        mine = [i for i in self.items_planned if self.mine(i)]
        part = "all" if self.whole else f"shard {self.index}/{self.count}"
        share = sum(i["work"] for i in mine) / max(sum(self.loads), 1)
        return (
            f"{self.name}, {part}: {len(mine)} of {len(self.items_planned)} planned matrices "
            f"({share:.0%} of the work) in {len(self.files.entries)} of {len(self.entries)} files"
        )


def planned_files(paths: list[str], shard: tuple[int, int] | None, settings, options) -> ShardPlan | None:
    """The plan that decides what a run reads: ``--plan FILE``'s (with ``shard``, its part), else the
    plan of ``--shard K/N`` over ``paths``; None for a run of every file of ``paths``."""
    if options.plan is not None:  # svdgrad scan's plan of the matrices at risk
        found = collect_files(paths, options.recursive, options.globs, options.excludes).entries
        return PlannedShard(shard, read_plan(options.plan), f"--plan {options.plan}", found)
    return None if shard is None else plan_shard(shard, paths, settings, options)
