"""HDF5 weight files (Keras ``.h5``/``.weights.h5``) and ``.keras`` archives, read through h5py.

Every dataset is a tensor named by its path in the file: Keras 3 keeps a layer's variables as
``layers/<layer>/vars/<i>`` (``layers/dense/vars/0`` is the first Dense layer's kernel), Keras 2 as
``model_weights/<layer>/<layer>/kernel:0``. Shapes and dtypes come from the dataset headers; a dataset
is read only when it is selected. Kernels are taken in Keras's layout, outputs last: a Dense kernel is
(in, out), a Conv2D kernel (kh, kw, in, out). A ``.keras`` file is a ZIP archive whose
``model.weights.h5`` is read in place when it is stored uncompressed (as Keras writes it); a
compressed one that is a zip bomb is refused from the central directory first (archives.py).

Only the file given is ever read, as Keras 3's ``safe_get_h5_dataset`` insists: a dataset whose
creation property list stores its values in other files (external storage, a virtual dataset) is
refused from that list before any byte is read, and so is a link to another file (an external or
user-defined link; soft links stay inside the file and datasets are listed by hard links only).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zipfile
from collections.abc import Iterator
from functools import partial
from typing import IO

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.archives import member_problem
from svdgrad_cli.inputs.arrays import Described, LoadedArray, Skipped, dtype_problem
from svdgrad_cli.inputs.kernels import CHANNELS_LAST
from svdgrad_cli.inputs.tensors import Selection, Tensor, library, member_label, read_tensors, short

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
KERAS_WEIGHTS = "model.weights.h5"
ONLY_THIS_FILE = "svdgrad reads only the file given"
# groups within groups: Keras nests a few (layers/<model>/layers/<layer>/vars); h5py's walk of an
# absurdly deep file grows as the cube of its depth (4,000 levels: 17 s), so it stops here
MAX_GROUP_DEPTH = 64
LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature ... name, extra lengths


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of ``raw`` from ``start``: an uncompressed zip
    member that h5py can read at random without the zip module decompressing from the start."""

    def __init__(self, raw: IO[bytes], start: int, size: int) -> None:
        super().__init__()
        self.raw, self.start, self.size, self.position = raw, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        wanted = max(0, min(len(buffer), self.size - self.position))
        self.raw.seek(self.start + self.position)
        data = self.raw.read(wanted)
        memoryview(buffer)[: len(data)] = data
        self.position += len(data)
        return len(data)


def _dtype_problem(dtype: np.dtype) -> str | None:
    if dtype.kind == "O":  # h5py's variable-length strings and references
        return "holds variable-length data (text or references), not real numbers"
    return dtype_problem(dtype)


def _read_dataset(dataset) -> tuple[np.ndarray, str | None]:
    return np.asarray(dataset[()]), None


def _elsewhere(h5py, dataset) -> str | None:
    """Why the dataset's values would be read from other files, from its creation property list."""
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        return f"a virtual dataset, whose values come from other HDF5 files; {ONLY_THIS_FILE}"
    if plist.get_external_count() > 0:
        return f"a dataset stored in other files (HDF5 external storage); {ONLY_THIS_FILE}"
    return None


def _links_out(h5py, group, prefix: str, source: str, selection: Selection) -> list[InputError | Skipped]:
    """An error for each link of ``group`` to another file (external or user-defined links), never
    followed; a link that --select/--skip pass over is skipped as a tensor would be."""
    links, inside = group.id.links, (h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT)
    names: list[bytes] = []
    links.iterate(names.append)  # returns None for every name: the walk goes on
    outside = [prefix + n.decode(errors="replace") for n in names if links.get_info(n).type not in inside]
    return [
        _refused(source, name, f"a link to another file; {ONLY_THIS_FILE}", selection) for name in outside
    ]


def _refused(source: str, name: str, problem: str, selection: Selection) -> InputError | Skipped:
    passed_over = selection.passed_over(name)
    label = member_label(source, name)
    return Skipped(label, passed_over) if passed_over else InputError(label, problem)


def _datasets(h5py, handle, source: str, selection: Selection) -> list[Tensor | Skipped | InputError]:
    """Every dataset of the file, by path, in h5py's order (names sorted within a group); a dataset
    or link that reaches other files is an error in its place."""
    found: list[Tensor | Skipped | InputError] = [*_links_out(h5py, handle, "", source, selection)]

    def visit(name: str, item) -> None:
        if name.count("/") >= MAX_GROUP_DEPTH:  # h5py re-raises it from visititems
            raise ValueError(f"groups nested more than {MAX_GROUP_DEPTH} deep, not a weights file")
        if isinstance(item, h5py.Group):
            found.extend(_links_out(h5py, item, name + "/", source, selection))
        if not isinstance(item, h5py.Dataset):
            return
        elsewhere = _elsewhere(h5py, item)
        if elsewhere:
            found.append(_refused(source, name, elsewhere, selection))
            return
        if item.shape is None:  # a null dataspace: no values at all
            reason = selection.passed_over(name) or "an empty HDF5 dataset (no dataspace), not a matrix"
            found.append(Skipped(member_label(source, name), reason))
            return
        shape = tuple(int(d) for d in item.shape)
        read = partial(_read_dataset, item)
        found.append(Tensor(name, shape, read, _dtype_problem(item.dtype), CHANNELS_LAST, item.dtype.name))

    handle.visititems(visit)
    return found


def _read_h5(target, source: str, selection: Selection, what: str) -> Iterator:
    h5py = library("h5py", source, what, "h5py")
    try:
        handle = h5py.File(target, "r")
    except Exception as exc:  # OSError for a truncated file or a corrupt superblock
        yield InputError(source, f"not a valid {what} ({short(exc)})")
        return
    with handle:
        try:
            tensors = _datasets(h5py, handle, source, selection)
        except Exception as exc:  # a corrupt object header met while walking the groups
            yield InputError(source, f"cannot list the datasets of this {what} ({short(exc)})")
            return
        yield from read_tensors(source, tensors, selection)


def read_hdf5(
    stream: IO[bytes], source: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Every dataset of an HDF5 file, as ``file:path/in/file``."""
    name = getattr(stream, "name", None)
    target = name if isinstance(name, str) and os.path.isfile(name) else stream
    yield from _read_h5(target, source, selection, "HDF5 file")


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, stream: IO[bytes]) -> IO[bytes] | _Window:
    """The member's bytes as a seekable stream: a window on the archive when stored uncompressed."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # compressed or encrypted
        return archive.open(info)
    stream.seek(info.header_offset)
    signature, name_length, extra_length = LOCAL_HEADER.unpack(stream.read(LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    start = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
    return _Window(stream, start, info.file_size)


def read_keras(
    stream: IO[bytes], source: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Every weight of a ``.keras`` archive (its ``model.weights.h5``), as ``file.keras:path``."""
    library("h5py", source, "a .keras file", "h5py")
    try:
        archive = zipfile.ZipFile(stream)
        info = archive.getinfo(KERAS_WEIGHTS)
        problem = member_problem(info, sys.maxsize)  # its datasets are checked against --max-elements
        if problem:
            archive.close()
            yield InputError(source, f"not read: its {problem}")
            return
        member = _member(archive, info, stream)
    except KeyError:
        yield InputError(source, f"a .keras file without {KERAS_WEIGHTS}: no weights to check")
        return
    except Exception as exc:  # BadZipFile, OSError, struct.error, ... for a truncated or corrupt file
        yield InputError(source, f"not a valid .keras file ({short(exc)})")
        return
    with archive, member:
        yield from _read_h5(member, source, selection, ".keras file's weights")
