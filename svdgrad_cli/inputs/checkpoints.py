"""Model checkpoints: safetensors and PyTorch files, read tensor by tensor without running their code.

* ``.safetensors`` through ``safetensors.safe_open(framework="np")``, which memory-maps the file:
  names, dtypes and shapes come from the header, and only selected tensors are read. Dtypes the NumPy
  API cannot return (bfloat16, float8) are read through its PyTorch API when torch is installed,
  else passed over with the reason.
* PyTorch ``.pt``/``.pth``/``.bin`` only through ``torch.load(weights_only=True, map_location="cpu")``:
  a file that needs arbitrary Python objects is refused, never unpickled. Nested dicts (and lists
  holding tensors) become dotted names: ``model.encoder.weight``. Zip checkpoints (what torch.save
  writes) are memory-mapped. torch checks none of the archive's CRC-32s, so svdgrad checks those of
  what it reads: ``data.pkl`` (names and layout) before loading, and each tensor's storage when the
  tensor is read, streamed from the mapped memory against the CRC the central directory holds for a
  record of its size; a mismatch is that tensor's error, and tensors not read are never checked.
  Before torch sees a zip checkpoint, its central directory is checked (archives.py): ``data.pkl``
  and the other records but storages may not declare more than MAX_LAYOUT_BYTES, a compressed
  storage more than one array within --max-elements takes, and no record may be a zip bomb.
  Legacy checkpoints (``_use_new_zipfile_serialization=False``, pickle protocol 2 or later) cannot be
  mapped and are loaded whole; they hold no checksums. A file with a PyTorch suffix that is neither
  (garbage, a protocol 0 or 1 pickle, which the weights-only loader cannot read) is said to be so.

Both libraries are optional extras: a missing one is a one-line input error naming the pip command.
A ZIP file is a PyTorch checkpoint when it holds ``<name>/data.pkl``, a Keras file when it holds
``model.weights.h5`` (hdf5.py), else an .npz archive.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import struct
import sys
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import IO, TYPE_CHECKING

import numpy as np

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.archives import member_problem
from svdgrad_cli.inputs.arrays import Described, LoadedArray, Skipped, dtype_problem
from svdgrad_cli.inputs.limits import max_array_bytes
from svdgrad_cli.inputs.tensors import NotRead, Selection, Tensor, library, member_label, read_tensors, short

if TYPE_CHECKING:  # safetensors is imported where a file needs it
    from safetensors import safe_open

SAFETENSORS_MAX_HEADER = 100_000_000  # the safetensors library's own limit on its JSON header
# safetensors dtype codes that its NumPy API returns, as NumPy dtypes; others need its PyTorch API.
SAFETENSORS_NUMPY = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "U32": "uint32",
    "I32": "int32",
    "U64": "uint64",
    "I64": "int64",
    "F16": "float16",
    "F32": "float32",
    "F64": "float64",
    "C64": "complex64",
}
TORCH_SUFFIXES = (".pt", ".pth", ".bin")
PICKLE_PROTOCOL = 0x80  # the PROTO opcode that starts every pickle of protocol 2 or later, then its number
# torch.save's magic number 0x1950a86a20f9469cfc6c as pickle protocols 0 and 1 write it: a legacy file.
LEGACY_TEXT_MAGIC = b"L119547037146038801333356L"
CRC_CHUNK = 1 << 20  # bytes of a storage hashed at a time: memory stays flat
# data.pkl (names and layout) and the small records beside it: a model of 10,000 tensors needs ~1 MB.
MAX_LAYOUT_BYTES = 2**26


def is_safetensors(head: bytes) -> bool:
    """An 8-byte little-endian header length within the library's limit, then a JSON object."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 0 < length <= SAFETENSORS_MAX_HEADER


def is_pickle(head: bytes) -> bool:
    """A legacy (not zip) PyTorch checkpoint, or any pickle of protocol 2 to 5: handed to torch's
    weights-only loader."""
    return len(head) >= 2 and head[0] == PICKLE_PROTOCOL and 2 <= head[1] <= 5


def zip_kind(stream: IO[bytes], suffix: str) -> str:
    """``torch``, ``keras`` or ``npz`` from a ZIP file's member names; from the suffix when the
    archive cannot be read or its members do not say (a corrupt checkpoint), so that the error names
    the right format: .pt/.pth/.bin are PyTorch's, .keras Keras's, the rest .npz archives."""
    by_suffix = {".keras": "keras", **dict.fromkeys(TORCH_SUFFIXES, "torch")}.get(suffix, "npz")
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except Exception:  # zipfile raises BadZipFile, OSError, struct.error, ValueError, ... here
        return by_suffix
    finally:
        stream.seek(0)
    if any(name.count("/") == 1 and name.endswith("/data.pkl") for name in names):
        return "torch"
    if "model.weights.h5" in names:
        return "keras"
    return "npz" if any(name.endswith(".npy") for name in names) else by_suffix


@contextmanager
def on_disk(stream: IO[bytes]) -> Iterator[str]:
    """A path holding the stream's bytes: its own file, or a temporary copy (standard input, a pipe)."""
    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        yield name
        return
    with tempfile.NamedTemporaryFile(prefix="svdgrad-") as copy:
        shutil.copyfileobj(stream, copy)
        copy.flush()
        yield copy.name


# ---- safetensors


class _TorchSide:
    """The file opened once more through safetensors' PyTorch API, for dtypes NumPy lacks."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle: safe_open | None = None

    def read(self, name: str, code: str) -> tuple[np.ndarray, str | None]:
        if self.handle is None:
            try:
                import torch  # noqa: F401 - safetensors' PyTorch API needs it
            except (ImportError, OSError):
                raise NotRead(
                    f"stored as {code}, which safetensors' NumPy API cannot read; "
                    "install torch (pip install torch) to check it"
                ) from None
            from safetensors import safe_open

            self.handle = safe_open(self.path, framework="pt")
        return torch_array(self.handle.get_tensor(name))


def _numpy_read(handle, name: str) -> tuple[np.ndarray, str | None]:
    return handle.get_tensor(name), None


def _safetensors_tensors(handle, path: str) -> Iterator[Tensor]:
    torch_side = _TorchSide(path)
    names = handle.keys()  # a safe_open handle is not iterable itself
    for name in names:
        info = handle.get_slice(name)
        code, shape = info.get_dtype(), tuple(int(d) for d in info.get_shape())
        if code in SAFETENSORS_NUMPY:
            problem = dtype_problem(np.dtype(SAFETENSORS_NUMPY[code]))
            dtype = SAFETENSORS_NUMPY[code]
            yield Tensor(name, shape, partial(_numpy_read, handle, name), problem, dtype=dtype)
        else:
            yield Tensor(name, shape, partial(torch_side.read, name, code), dtype=code.lower())


def read_safetensors(
    stream: IO[bytes], source: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Every tensor of a safetensors file, by name; the header is checked before any data is read."""
    safetensors = library("safetensors", source, "a safetensors file", "safetensors")
    with on_disk(stream) as path:
        try:
            handle = safetensors.safe_open(path, framework="np")
        except Exception as exc:  # SafetensorError for a truncated file or a corrupt header
            problem = short(exc).split(", expected one of")[0]  # not the list of every dtype it knows
            yield InputError(source, f"not a valid safetensors file ({problem})")
            return
        with handle:
            yield from read_tensors(source, _safetensors_tensors(handle, path), selection)


# ---- PyTorch


def torch_array(tensor) -> tuple[np.ndarray, str | None]:
    """A CPU tensor as a NumPy array (a view where it can be); float types NumPy lacks (bfloat16,
    float8) become float32, with the stored dtype returned beside."""
    import torch

    tensor = tensor.detach()
    if tensor.is_floating_point() and tensor.dtype not in (torch.float16, torch.float32, torch.float64):
        return tensor.float().numpy(), str(tensor.dtype).removeprefix("torch.")
    return tensor.numpy(), None


def unpickling_problem(exc: BaseException) -> str:
    """torch's weights-only refusal as one line, naming the global it refused where it says."""
    text = str(exc)
    refused = re.search(r"GLOBAL ([\w.]+)", text)
    if refused:
        return (
            f"needs arbitrary Python objects to load (it refers to {refused.group(1)}); svdgrad loads "
            "checkpoints with torch.load(weights_only=True) only and never runs their code"
        )
    detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    return (
        "is not a pickle of plain tensors that torch.load(weights_only=True) accepts"
        f"{f' ({detail.group(1).strip()})' if detail else ''}; svdgrad never unpickles anything else"
    )


def _leaves(value, name: str, tensor_type) -> Iterator[tuple[str, object]]:
    """(dotted name, value) of every leaf: dicts and lists that hold tensors are entered."""
    if isinstance(value, Mapping):
        items = [(str(key), item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)) and any(
        isinstance(item, (tensor_type, Mapping, list, tuple)) for item in value
    ):
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        yield name, value
        return
    for key, item in items:
        yield from _leaves(item, f"{name}.{key}" if name else key, tensor_type)


class _Checksums:
    """The CRC-32s of a zip checkpoint's records, from its central directory, and the storages whose
    bytes matched one (each is hashed once, however many tensors view it)."""

    def __init__(self, path: str, source: str, max_elements: int) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                _check_sizes(infos, source, max_elements)
                _check_layout(archive, source)
                order = next((i for i in infos if i.filename.endswith("/byteorder")), None)
                self.swapped = order is not None and archive.read(order).decode() != sys.byteorder
        except InputError:
            raise
        except Exception as exc:  # BadZipFile, OSError, struct.error, ... for a truncated or corrupt file
            problem = f"its zip archive is truncated or damaged ({short(exc)})"
            raise InputError(source, f"not a valid PyTorch checkpoint: {problem}") from None
        self.records = {(info.file_size, info.CRC) for info in infos if "/data/" in info.filename}
        self.verified: set[int] = set()

    def matches(self, tensor) -> bool:
        """Whether the tensor's storage, as mapped, has the size and CRC-32 of a record."""
        storage = tensor.untyped_storage()
        if storage.data_ptr() in self.verified or storage.nbytes() == 0:
            return True
        found = (storage.nbytes(), _storage_crc(tensor, self.swapped)) in self.records
        if found:
            self.verified.add(storage.data_ptr())
        return found


def _check_sizes(infos: list[zipfile.ZipInfo], source: str, max_elements: int) -> None:
    """Refuse the checkpoint when a record declares more than it may inflate to (archives.py):
    storages are memory-mapped where they are stored, as torch.save writes them."""
    for info in infos:
        if "/data/" not in info.filename:
            problem = member_problem(info, MAX_LAYOUT_BYTES, hint=" (names and layout take far less)")
        elif info.compress_type != zipfile.ZIP_STORED:
            problem = member_problem(
                info, max_array_bytes(max_elements), hint="; raise --max-elements to read it"
            )
        else:
            problem = None
        if problem:
            raise InputError(source, f"not read: its record {problem}")


def _check_layout(archive: zipfile.ZipFile, source: str) -> None:
    """Stream the archive's data.pkl to its end, where zipfile compares its CRC-32."""
    layout = next((i for i in archive.infolist() if i.filename.endswith("/data.pkl")), None)
    if layout is None:
        return  # torch.load says what is missing
    try:
        with archive.open(layout) as member:
            while member.read(CRC_CHUNK):
                pass
    except zipfile.BadZipFile:
        raise InputError(
            source,
            f"{layout.filename} (the tensors' names and layout) fails its CRC-32 check: "
            "the file was damaged after it was saved",
        ) from None


def _storage_crc(tensor, swapped: bool) -> int:
    """The CRC-32 of the bytes of the tensor's whole storage as the file holds them: torch swaps a
    checkpoint of the other byte order in memory as it loads, so it is swapped back chunk by chunk."""
    import torch

    data = torch.empty(0, dtype=torch.uint8).set_(tensor.untyped_storage()).numpy()
    width = tensor.element_size() // (2 if tensor.is_complex() else 1)  # torch swaps complex by halves
    crc = 0
    for start in range(0, data.size, CRC_CHUNK):
        chunk = data[start : start + CRC_CHUNK]
        in_file = chunk.view(f"u{width}").byteswap() if swapped and width > 1 else chunk
        crc = zlib.crc32(in_file.data, crc)
    return crc


def _verified_array(checksums: _Checksums, label: str, tensor) -> tuple[np.ndarray, str | None]:
    if not checksums.matches(tensor):
        raise InputError(
            label,
            "its data fails the checkpoint's CRC-32 check: the file was damaged after it was saved",
        )
    return torch_array(tensor)


def _torch_tensors(
    torch, state, source: str, selection: Selection, checksums: _Checksums | None
) -> Iterator[Tensor | Skipped]:
    for name, value in _leaves(state, "", torch.Tensor):
        if isinstance(value, torch.Tensor):
            shape, dtype = tuple(int(d) for d in value.shape), str(value.dtype).removeprefix("torch.")
            read = partial(torch_array, value)
            if checksums is not None:
                read = partial(_verified_array, checksums, member_label(source, name), value)
            yield Tensor(name, shape, read, dtype=dtype)
        else:
            reason = selection.passed_over(name) or f"not a tensor but a Python {type(value).__name__}"
            yield Skipped(member_label(source, name), reason)


def _torch_load(torch, path: str, source: str, zipped: bool):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols it was not written with
            return torch.load(path, weights_only=True, map_location="cpu", mmap=zipped)
    except pickle.UnpicklingError as exc:
        raise InputError(source, unpickling_problem(exc)) from None
    except Exception as exc:  # RuntimeError, EOFError, ValueError, ... for a truncated or corrupt file
        raise InputError(source, f"not a valid PyTorch checkpoint ({short(exc)})") from None


def read_torch(
    stream: IO[bytes], source: str, selection: Selection, zipped: bool = True
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """Every tensor of a PyTorch checkpoint (``zipped``: the zip format, memory-mapped, its CRC-32s
    checked; else a legacy pickle), loaded with weights_only=True only."""
    torch = library("torch", source, "a PyTorch checkpoint", "torch")
    with on_disk(stream) as path:
        checksums = _Checksums(path, source, selection.max_elements) if zipped else None
        state = _torch_load(torch, path, source, zipped)
        tensors = _torch_tensors(torch, state, source, selection, checksums)
        yield from read_tensors(source, tensors, selection)


def not_a_torch_pickle(head: bytes) -> str:
    """Why a file named as a PyTorch checkpoint, neither a zip nor a pickle of protocol 2 or later,
    is not read."""
    if head.startswith(LEGACY_TEXT_MAGIC):
        return (
            "a legacy torch.save file of pickle protocol 0 or 1, which torch.load(weights_only=True) "
            "cannot read; save it again with torch.save to check it"
        )
    return (
        "not a readable PyTorch checkpoint: neither a zip checkpoint (what torch.save writes) "
        "nor a legacy torch.save pickle"
    )


def read_torch_pickle(
    stream: IO[bytes], source: str, selection: Selection
) -> Iterator[LoadedArray | InputError | Skipped | Described]:
    """A legacy (pre-zip) PyTorch checkpoint, or any pickle of protocol 2 or later: torch's
    weights-only loader refuses whatever is not plain tensors. Other content is said not to be one."""
    head = stream.read(len(LEGACY_TEXT_MAGIC))
    stream.seek(0)
    if not is_pickle(head):
        yield InputError(source, not_a_torch_pickle(head))
        return
    yield from read_torch(stream, source, selection, zipped=False)
