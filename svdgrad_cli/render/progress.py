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

SHOW_AFTER = 1.0  # seconds


class RunProgress:
    """Receives the run's events (``file``, ``stage``, ``matrix``) and draws them once the run is slow."""

    def __init__(self, files: int, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.active = enabled and self.console.is_terminal
        self.files = files
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=12),
            TextColumn("file {task.fields[current]}/{task.total:.0f}"),
            TextColumn("[dim]{task.fields[matrices]} done"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=max(files, 1), matrices=0, current=0)
        self.timer = threading.Timer(SHOW_AFTER, self._show)
        self.shown = False
        self.started = time.monotonic()
        self.done_files = 0
        self.current: str | None = None  # the file being read (its tensors are announced as file:name)

    def _show(self) -> None:
        if self.active and not self.shown:
            self.shown = True
            self.progress.start()

    def file(self, path: str) -> None:
        """A file starts loading (the previous one is done), or a tensor of the current file
        (``file:name``)."""
        if self.current is not None and path.startswith(self.current + ":"):
            self.progress.update(self.task, description=f"loading {escape(path)}")
            return
        self.current = path
        self.progress.update(
            self.task,
            completed=self.done_files,
            current=self.done_files + 1,
            description=f"loading {escape(path)}",
        )
        self.done_files += 1

    def stage(self, what: str) -> None:
        self.progress.update(self.task, description=escape(what))

    def matrix(self, label: str) -> None:
        matrices = self.progress.tasks[0].fields["matrices"] + 1
        self.progress.update(self.task, matrices=matrices)

    def __enter__(self) -> RunProgress:
        if self.active:
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        if self.shown:
            self.progress.stop()
