"""Progress on stderr for runs longer than about a second, on a terminal only (never in a CI log).

It shows what is running now (loading a file, a backend's call on a batch, the reference), the file
count with an estimate of the time left, and the matrices done. It appears after SHOW_AFTER seconds
on a timer, so a single long matrix (a 3000x3000 SVD takes minutes) is not a blank screen.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from svdgrad_cli.model import source_file
from svdgrad_cli.render.terminal import terminal_text

SHOW_AFTER = 1.0  # seconds


class RunProgress:
    """Receives the run's events (``file``, ``stage``, ``matrix``) and draws them once the run is slow.

    Files load ahead of the matrices being judged (batches gather across files), so the bar and its
    time left follow the files whose matrices are done: reports come in input order, so a matrix of
    the k-th file means the k - 1 before it are finished.
    """

    def __init__(self, files: int, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.active = enabled and self.console.is_terminal
        self.files = files
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            BarColumn(bar_width=12),
            TextColumn("file {task.fields[current]}/{task.total:.0f}"),
            TextColumn("[dim]{task.fields[inside]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            expand=True,  # the description takes the room left, so the counts and times are never cut
        )
        self.task = self.progress.add_task("starting", total=max(files, 1), inside="0 done", current=1)
        self.timer = threading.Timer(SHOW_AFTER, self._show)
        self.shown = False
        self.started = time.monotonic()
        self.order: dict[str, int] = {}  # each file's place in the run, as it starts loading
        self.current: str | None = None  # the file being read (its tensors are announced as file:name)
        self.totals: dict[int, int] = {}  # matrices in the file of each place, counted from its headers
        self.judging, self.done_in_file, self.done = 0, 0, 0  # the file judged now; matrices done

    def _show(self) -> None:
        if self.active and not self.shown:
            self.shown = True
            self.progress.start()

    def file(self, path: str) -> None:
        """A file starts loading, or a tensor of the current file (``file:name``)."""
        if self.current is None or not path.startswith(self.current + ":"):
            self.current = path
            self.order.setdefault(path, len(self.order))
        self.progress.update(self.task, description=f"loading {escape(terminal_text(path))}")

    def counted(self, path: str, matrices: int) -> None:
        """A file holds this many matrices (from its headers): the bar and time left move inside it."""
        self.totals[self.order.setdefault(path, len(self.order))] = matrices

    def stage(self, what: str) -> None:
        self.progress.update(self.task, description=escape(terminal_text(what)))

    def _place(self, source: str) -> int:
        """The place of the file a matrix's source names (``file``, ``file:member``; a file name may
        hold colons); files never announced (worker processes load them) are numbered as they come."""
        parts = source.split(":")
        for end in range(1, len(parts) + 1):
            place = self.order.get(":".join(parts[:end]))
            if place is not None:
                return place
        return self.order.setdefault(source_file(source) or source, len(self.order))

    def matrix(self, source: str) -> None:
        """A matrix is judged: the files before its file are done, and of its file the share of its
        matrices judged so far where the file's count is known."""
        place = self._place(source)
        if place != self.judging:
            self.judging, self.done_in_file = place, 0
        self.done_in_file += 1
        self.done += 1
        total = self.totals.get(place)
        share = min(self.done_in_file / total, 1.0) if total else 0.0
        inside = f"matrix {self.done_in_file:,}/{total:,}" if total else f"{self.done:,} done"
        self.progress.update(self.task, completed=place + share, current=place + 1, inside=inside)

    def __enter__(self) -> RunProgress:
        if self.active:
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        if self.shown:
            self.progress.stop()
