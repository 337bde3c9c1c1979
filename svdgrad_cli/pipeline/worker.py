"""The one function that reads and judges a list of files, in this process or in a worker process."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import Entry
from svdgrad_cli.inputs.loading import load_files
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.stream import iter_reports


def check_files(
    files: Sequence[Entry], settings: Settings, max_elements: int, keep_arrays: bool, observer=None
) -> Generator[MatrixReport | Skipped, None, None]:
    """Reports for ``files`` in order, without gradient arrays unless ``keep_arrays``; an ``observer``
    (render/progress.py) hears of each file and stage."""
    on_file, on_stage = (observer.file, observer.stage) if observer else (None, None)
    # a count of each file's matrices (its headers read twice) only for a progress line on show
    on_count = observer.counted if getattr(observer, "active", False) else None
    s = settings
    items = load_files(
        files, s.dtype, max_elements, on_file, s.select, s.skip, s.reshape, on_count, s.max_matrices
    )
    for report in iter_reports(items, settings, on_stage):
        yield report if keep_arrays or isinstance(report, Skipped) else report.without_arrays()
