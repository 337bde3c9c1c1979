"""Where a run's report goes, decided in one place for every command (check, sweep, merge).

Without ``-o`` the chosen format goes to standard output. ``-o FILE`` is the report file: it gets the
chosen format (json when the format is the table, which is for people), written whole or not at all
(report_file.py), while standard output gets the table. ``-o -`` names standard output as that file,
so it gets exactly what a file would: ``-o - -f json`` writes JSON to standard output whatever the
command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from svdgrad_cli.errors import UsageError
from svdgrad_cli.render import RENDERERS, renderer_class
from svdgrad_cli.report_file import ReportFile

Writer = Callable[[str], None]
TABLE = "table"
TABLE_IN_A_FILE = "json"  # the format a report file gets when the table was asked for


@dataclass(frozen=True)
class OutputPlan:
    """The format written to standard output, and with ``-o FILE`` the file and its format."""

    stdout: str
    file: tuple[str, str] | None = None  # (FILE, its format)


def plan_outputs(output_format: str, output: str | None) -> OutputPlan:
    """The one rule of the module docstring."""
    if output is None:
        return OutputPlan(output_format)
    file_format = TABLE_IN_A_FILE if output_format == TABLE else output_format
    if output == "-":
        return OutputPlan(file_format)
    return OutputPlan(TABLE, (output, file_format))


PLOT_SUFFIXES = (".png", ".svg")  # what a sweep's --plot FILE may be
R = TypeVar("R")  # a report drawn by draw_plot


def require_plot_file(path: str | None) -> None:
    """A sweep's --plot FILE, checked before any work: a directory to go into, a .png or .svg name,
    matplotlib installed."""
    if path is None:
        return
    require_writable(path, "--plot")
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {path}: the file must end in .png or .svg")
    from svdgrad_cli.render.plots import require_matplotlib

    require_matplotlib()


def draw_plot(save: Callable[[R, str], None], report: R, path: str, notify: Writer) -> None:
    """``save(report, path)`` (a sweep's picture), a file that cannot be written said in one line."""
    try:
        save(report, path)
    except OSError as exc:
        raise UsageError(f"--plot {path}: {exc.strerror or exc}") from None
    notify(f"wrote {path}")


def require_writable(path: str | None, option: str) -> None:
    """A file the run will write must have a directory to go into, checked before any work is done."""
    if path is None or path == "-":
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: cannot write into {folder}")


def require_folder(path: str | None, option: str) -> None:
    """A folder the run will write files into (--save-matrices): made now, or a UsageError saying why
    it cannot be, before any work is done."""
    if path is None:
        return
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path}: cannot write into it")


class Outputs:
    """The renderers of a plan, each with where it writes: standard output, and the -o file."""

    def __init__(self, screen: tuple, file: tuple | None = None) -> None:
        self.screen, self.file = screen, file
        self.streamed = False  # whether any item went through the renderers' ``item``

    @classmethod
    def open(
        cls, options, stack: ExitStack, write_stdout: Writer, registry: dict[str, str] = RENDERERS
    ) -> Outputs:
        """The outputs ``options`` (format, -o) ask for, with the renderers of ``registry``; the -o
        file opened in ``stack`` (removed unless finished)."""
        plan = plan_outputs(options.output_format, options.output)
        screen = (renderer_class(plan.stdout, registry)(options), write_stdout)
        if plan.file is None:
            return cls(screen)
        path, file_format = plan.file
        report = stack.enter_context(ReportFile(path))
        return cls(screen, (renderer_class(file_format, registry)(options), report))

    def item(self, item) -> None:
        """One finished item (a matrix's report, a sweep's point) to the streaming formats."""
        self.streamed = True
        renderer, write = self.screen
        write(renderer.item(item))
        if self.file is not None:
            renderer, report = self.file
            report.write(renderer.item(item))

    def _end(self, renderer, report) -> str:
        return renderer.finish(report, streamed=renderer.streaming and self.streamed)

    def finish(self, report) -> None:
        """Each output's end of ``report``: the file's first, renamed into place before the terminal's
        summary says that the run is done."""
        if self.file is not None:
            renderer, handle = self.file
            handle.write(self._end(renderer, report))
            handle.commit()
        renderer, write = self.screen
        write(self._end(renderer, report))
