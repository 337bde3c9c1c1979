"""Which files a run reads: paths as given, directories walked in sorted order, filters applied.

Directories are searched recursively unless ``recursive`` is False. Inside a directory a file is read
when its name matches one of ``globs`` (default: the known matrix suffixes) and none of ``excludes``;
the other files are skipped and counted, never silently dropped. Patterns are matched against the
name and against the path relative to the directory given. Symlinked directories are followed once:
a directory already visited (same device and inode) is not entered again, so link loops end.
Only regular files are read from directories (a FIFO would block the run); files named explicitly are
always attempted, whatever their suffix or kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from svdgrad_cli.errors import InputError

MATRIX_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt")
DEFAULT_GLOBS = tuple(f"*{suffix}" for suffix in MATRIX_SUFFIXES)


@dataclass
class FileList:
    """The files to read (or errors in their place), in order, and the files passed over."""

    entries: list[str | InputError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _matches(name: str, relative: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(name.lower(), p.lower()) or fnmatch(relative.lower(), p.lower()) for p in patterns)


def _walk(root: Path, recursive: bool, globs, excludes, out: FileList) -> None:
    seen: set[tuple[int, int]] = set()
    found_before = len(out.entries)

    def visit(folder: Path) -> None:
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                return
            seen.add((info.st_dev, info.st_ino))
            children = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            out.entries.append(InputError(str(folder), f"cannot list this directory ({exc.strerror or exc})"))
            return
        subfolders = []
        for entry in children:
            relative = os.path.relpath(entry.path, root)
            if _matches(entry.name, relative, excludes):
                if not entry.is_dir():
                    out.skipped.append(entry.path)
                continue
            if entry.is_dir():
                subfolders.append(Path(entry.path))
            elif entry.is_file() and _matches(entry.name, relative, globs):  # never a FIFO or a device
                out.entries.append(entry.path)
            else:
                out.skipped.append(entry.path)
        if recursive:
            for subfolder in subfolders:
                visit(subfolder)

    visit(root)
    if len(out.entries) == found_before:
        wanted = ", ".join(globs)
        out.entries.append(InputError(str(root), f"no matrix files ({wanted}) in this directory"))


def collect_files(
    paths: list[str], recursive: bool = True, globs: tuple[str, ...] = (), excludes: tuple[str, ...] = ()
) -> FileList:
    """Expand ``paths`` (files, directories, ``-``) into the files a run reads, in order."""
    out = FileList()
    for path in paths:
        if path == "-" or os.path.isfile(path):
            out.entries.append(path)
        elif os.path.isdir(path):
            _walk(Path(path), recursive, tuple(globs) or DEFAULT_GLOBS, tuple(excludes), out)
        elif os.path.exists(path):
            out.entries.append(path)  # a device or pipe: attempted, and read into memory
        else:
            out.entries.append(InputError(path, "no such file or directory"))
    return out
