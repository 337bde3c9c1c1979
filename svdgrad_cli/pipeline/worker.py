"""The one function that reads and judges a list of files, in this process or in a worker process."""

from __future__ import annotations

from collections.abc import Iterator

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.loading import load_files
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.stream import iter_reports


def check_files(
    files: list[str | InputError], settings: Settings, max_elements: int, keep_arrays: bool
) -> Iterator[MatrixReport]:
    """Reports for ``files`` in order, without gradient arrays unless ``keep_arrays``."""
    for report in iter_reports(load_files(files, settings.dtype, max_elements), settings):
        yield report if keep_arrays or isinstance(report, Skipped) else report.without_arrays()
