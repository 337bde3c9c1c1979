"""A progress line on stderr for long runs; silent when stderr is not a terminal."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

SHOW_AFTER = 4  # matrices; shorter runs finish before a bar would help


@contextmanager
def progress_on_stderr(enabled: bool = True):
    """Yield ``advance(label)``; the bar appears once SHOW_AFTER matrices are done, on a terminal."""
    console = Console(stderr=True)
    active = enabled and console.is_terminal
    progress = Progress(
        SpinnerColumn(),
        TextColumn("checked {task.completed} matrices"),
        TextColumn("[dim]{task.fields[label]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = None
    done = 0

    def advance(label: str) -> None:
        nonlocal task, done
        done += 1
        if not active or done < SHOW_AFTER:
            return
        if task is None:
            progress.start()
            task = progress.add_task("check", total=None, completed=done - 1, label="")
        progress.update(task, advance=1, label=label)

    try:
        yield advance
    finally:
        if task is not None:
            progress.stop()
