""".npz archives: every member read as an .npy stream, in archive order, as ``file.npz:member``.

Members are checked from the central directory (archives.py: a declared size over what one array
within --max-elements takes, a zip bomb) and from their own headers (npy.py) before they are
decompressed. A member that ``--select``/``--skip`` pass over (by its name without .npy) is never
opened; of one that another shard checks only the header is read (its matrices count towards the
file's --max-matrices in every shard alike).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import replace
from typing import IO

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.archives import member_problem
from svdgrad_cli.inputs.arrays import Described, LoadedArray, Skipped, describe
from svdgrad_cli.inputs.limits import max_array_bytes
from svdgrad_cli.inputs.npy import read_npy
from svdgrad_cli.inputs.tensors import Selection

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or the end record of an empty archive


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, selection: Selection
) -> LoadedArray | InputError | Described:
    try:
        with archive.open(info) as handle:
            array = read_npy(
                handle, member, selection.max_elements, selection.describe, selection.stack_problem
            )
            return array if isinstance(array, Described) else LoadedArray(member, array, member=True)
    except InputError as exc:
        return exc
    except Exception as exc:  # encrypted (RuntimeError), unknown method (NotImplementedError), ...
        return InputError(member, f"cannot open this .npz member ({describe(exc)})")


def read_npz(
    stream: IO[bytes], source: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Every member of a zip archive, in archive order, as ``source:name`` (a trailing .npy dropped)."""
    try:
        archive = zipfile.ZipFile(stream)
        members = [info for info in archive.infolist() if not info.is_dir()]
    except Exception as exc:  # zipfile raises BadZipFile, OSError, struct.error, ValueError, ... here
        yield InputError(source, f"not a valid .npz file ({describe(exc)})")
        return
    if not members:
        yield InputError(source, "the .npz archive has no members")
    max_bytes = max_array_bytes(selection.max_elements)
    with archive:
        for info in members:
            name = info.filename.removesuffix(".npy")
            member = f"{source}:{name}"
            reason = selection.passed_over(name)
            if reason:
                yield Skipped(member, reason)
                continue
            problem = member_problem(info, max_bytes, "this member", "; raise --max-elements to read it")
            if problem:
                yield InputError(member, problem)
                continue
            if not (selection.describe or selection.reads(member)):  # another shard's: its header only
                yield _read_member(archive, info, member, replace(selection, describe=True))
                continue
            selection.started(member)
            yield _read_member(archive, info, member, selection)
