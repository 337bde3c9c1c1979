"""``-o FILE`` written whole or not at all: into a temporary file beside it, renamed over it at the end.

The report goes into a hidden temporary file in FILE's directory (created with the permissions a new
FILE would get); ``commit`` flushes it, fsyncs it and renames it onto FILE (``os.replace``, atomic on
POSIX), so FILE is at every moment the previous file or the complete new report, never empty or half
written, whatever stops the run. Leaving the ``with`` block without ``commit`` (Ctrl-C, SIGTERM, an
error) removes the temporary file. A FILE that exists and is not a regular file (``/dev/stdout``,
a FIFO, a device) cannot be replaced: it is written directly, as before. A symbolic link is followed,
so the file it points to is replaced, not the link.
"""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import suppress
from typing import TextIO

from svdgrad_cli.errors import UsageError
from svdgrad_cli.interrupts import signals_ignored


def _regular_or_new(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


class ReportFile:
    """A context manager: ``write(text)`` as often as needed, ``commit()`` to put the report in place."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.target = os.path.realpath(path)
        self.temporary: str | None = None
        self.handle: TextIO | None = None

    def _refused(self, exc: OSError) -> UsageError:
        return UsageError(f"-o {self.path}: cannot write it ({exc.strerror or exc})")

    def _open_temporary(self):
        folder, name = os.path.split(self.target)
        for _ in range(100):
            candidate = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
            try:
                descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            self.temporary = candidate
            with suppress(OSError):  # a replaced file keeps its mode
                os.chmod(descriptor, stat.S_IMODE(os.stat(self.target).st_mode))
            return os.fdopen(descriptor, "w", encoding="utf-8")
        raise FileExistsError(f"no free temporary name beside {self.target}")

    def __enter__(self) -> ReportFile:
        try:
            if _regular_or_new(self.target):
                self.handle = self._open_temporary()
            else:
                self.handle = open(self.target, "w", encoding="utf-8")
        except OSError as exc:
            raise self._refused(exc) from None
        return self

    def _open_handle(self) -> TextIO:
        if self.handle is None:
            raise ValueError(f"{self.target}: the report file is not open")
        return self.handle

    def write(self, text: str) -> None:
        """Write and flush (a streamed jsonl is on disk as it goes, for the rename to publish)."""
        try:
            handle = self._open_handle()
            handle.write(text)
            handle.flush()
        except OSError as exc:
            raise self._refused(exc) from None

    def commit(self) -> None:
        """Put the report in place: fsync, close, rename over FILE."""
        handle, self.handle = self._open_handle(), None
        try:
            handle.flush()
            if self.temporary is not None:
                os.fsync(handle.fileno())
            handle.close()
            if self.temporary is not None:
                os.replace(self.temporary, self.target)
                self.temporary = None
        except OSError as exc:
            raise self._refused(exc) from None

    def __exit__(self, *exc_info) -> None:
        if self.temporary is None:  # committed, or written directly
            self._close()
            return
        with signals_ignored():  # a second Ctrl-C must not leave the temporary file behind
            self._close()
            with suppress(OSError):
                os.unlink(self.temporary)
            self.temporary = None

    def _close(self) -> None:
        if self.handle is not None:
            with suppress(OSError):
                self.handle.close()
            self.handle = None
