""".npz archives: every member read as an .npy stream, in archive order, as ``file.npz:member``.

Members are checked from their own headers before they are decompressed (npy.py).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import LoadedArray, describe
from svdgrad_cli.inputs.npy import read_npy

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or the end record of an empty archive


def read_npz(stream: BinaryIO, source: str, max_elements: int) -> Iterator[LoadedArray | InputError]:
    """Every member of a zip archive, in archive order, as ``source:name`` (a trailing .npy dropped)."""
    try:
        archive = zipfile.ZipFile(stream)
        members = [info for info in archive.infolist() if not info.is_dir()]
    except Exception as exc:  # zipfile raises BadZipFile, OSError, struct.error, ValueError, ... here
        yield InputError(source, f"not a valid .npz file ({describe(exc)})")
        return
    if not members:
        yield InputError(source, "the .npz archive has no members")
    with archive:
        for info in members:
            member = f"{source}:{info.filename.removesuffix('.npy')}"
            try:
                with archive.open(info) as handle:
                    yield LoadedArray(member, read_npy(handle, member, max_elements), member=True)
            except InputError as exc:
                yield exc
            except Exception as exc:  # encrypted (RuntimeError), unknown method (NotImplementedError), ...
                yield InputError(member, f"cannot open this .npz member ({describe(exc)})")
