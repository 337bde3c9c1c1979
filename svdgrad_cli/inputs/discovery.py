"""Which files a run reads: paths as given, directories walked in sorted order, filters applied.

Directories are searched recursively unless ``recursive`` is False. Inside a directory a file is read
when its name matches one of ``globs`` (default: the known matrix suffixes) and none of ``excludes``;
the other files are skipped and counted, never silently dropped. Patterns are matched against the
name and against the path relative to the directory given. Symlinked directories are followed once:
a directory already visited (same device and inode) is skipped, so link loops end. The
walk keeps its own stack, so no depth is too deep. A symbolic link that leads nowhere (a loop of
links, a missing target) is an input error naming it, when it is named or matches the globs.
Only regular files are read from directories (a FIFO would block the run); files named explicitly are
always attempted, whatever their suffix or kind.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.parts import ShardFile

# A file to read (whole, or a shard's part of it), or an input error in its place.
Entry = str | ShardFile | InputError

MATRIX_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".h5", ".keras")
DEFAULT_GLOBS = tuple(f"*{suffix}" for suffix in MATRIX_SUFFIXES + CHECKPOINT_SUFFIXES)


@dataclass
class FileList:
    """The files to read (or errors in their place), in order, and the files passed over."""

    entries: list[Entry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def link_problem(path: str) -> str:
    """Why ``path`` cannot be followed: a loop of symbolic links, a link to nothing, or not there."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links (too many levels to follow)"
        if os.path.islink(path) and exc.errno == errno.ENOENT:
            return "a symbolic link whose target does not exist"
        if exc.errno != errno.ENOENT:
            return f"cannot open it ({exc.strerror or exc})"
    return "no such file or directory"


def _match(name: str, relative: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern that matches the name or the relative path, case-insensitively."""
    name, relative = name.lower(), relative.lower()
    return next((p for p in patterns if fnmatch(name, p.lower()) or fnmatch(relative, p.lower())), None)


class _Walk:
    """One directory argument walked in sorted order, each folder entered once."""

    def __init__(self, root: Path, recursive: bool, globs, excludes, out: FileList) -> None:
        self.root, self.recursive, self.globs, self.excludes, self.out = root, recursive, globs, excludes, out
        self.seen: set[tuple[int, int]] = set()

    def _listing(self, folder: Path) -> list[os.DirEntry] | None:
        """The folder's entries by name; None if it was visited before (a link loop) or cannot be read."""
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in self.seen:
                reason = "a directory already visited (a loop of links), not entered again"
                self.out.skipped.append(Skipped(str(folder), reason))
                return None
            self.seen.add((info.st_dev, info.st_ino))
            return sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            problem = f"cannot list this directory ({exc.strerror or exc})"
            self.out.entries.append(InputError(str(folder), problem))
            return None

    def _take(self, entry: os.DirEntry) -> Path | None:
        """File the entry as read or skipped; return it when it is a folder to enter."""
        relative = os.path.relpath(entry.path, self.root)
        excluded = _match(entry.name, relative, self.excludes)
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()  # both follow links
        except OSError:  # ELOOP: a loop of links
            is_dir = is_file = False
        if excluded:
            what = "directory excluded" if is_dir else "excluded"  # a directory: once, not its files
            self.out.skipped.append(Skipped(entry.path, f"{what} by --exclude {excluded}"))
            return None
        if is_dir:
            if not self.recursive:
                self.out.skipped.append(Skipped(entry.path, "a directory, not entered (--no-recursive)"))
            return Path(entry.path)
        matched = _match(entry.name, relative, self.globs)
        if matched and entry.is_symlink() and not os.path.exists(entry.path):
            self.out.entries.append(InputError(entry.path, link_problem(entry.path)))
        elif not is_file:  # never a FIFO or a device
            self.out.skipped.append(Skipped(entry.path, "not a regular file"))
        elif matched:
            self.out.entries.append(entry.path)
        elif self.globs == DEFAULT_GLOBS:  # no --glob given: the name is not one svdgrad reads
            suffixes = ", ".join(MATRIX_SUFFIXES + CHECKPOINT_SUFFIXES)
            self.out.skipped.append(
                Skipped(entry.path, f"not a matrix or checkpoint file by its suffix ({suffixes})")
            )
        else:
            self.out.skipped.append(Skipped(entry.path, f"matches no --glob ({', '.join(self.globs)})"))
        return None

    def visit(self, root: Path) -> None:
        """Depth first, each folder's own files before its subfolders', on a stack of its own."""
        pending = [root]
        while pending:
            folder = pending.pop()
            subfolders = [sub for entry in self._listing(folder) or [] if (sub := self._take(entry))]
            if self.recursive:
                pending.extend(reversed(subfolders))


def _walk(root: Path, recursive: bool, globs, excludes, out: FileList) -> None:
    found_before = len(out.entries)
    _Walk(root, recursive, globs, excludes, out).visit(root)
    if len(out.entries) == found_before:
        wanted = ", ".join(globs)
        out.entries.append(InputError(str(root), f"no matrix files ({wanted}) in this directory"))


def collect_files(
    paths: list[str], recursive: bool = True, globs: tuple[str, ...] = (), excludes: tuple[str, ...] = ()
) -> FileList:
    """Expand ``paths`` (files, directories, ``-``) into the files a run reads, in order."""
    out = FileList()
    for i, path in enumerate(paths):
        if path == "-" and "-" in paths[:i]:
            out.entries.append(
                InputError(path, "standard input given again: it is read once, at the first '-'")
            )
        elif path == "-" or os.path.isfile(path):
            out.entries.append(path)
        elif os.path.isdir(path):
            _walk(Path(path), recursive, tuple(globs) or DEFAULT_GLOBS, tuple(excludes), out)
        elif os.path.exists(path):
            out.entries.append(path)  # a device or pipe: attempted, copied aside within a bound (streams.py)
        else:
            out.entries.append(InputError(path, link_problem(path)))
    return out
