"""The functions that read and judge a list of files, or of arrays, in this process or in a worker
process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import LoadedArray, Skipped
from svdgrad_cli.inputs.loading import load_files, matrices
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.stream import iter_reports


class Arrays(Protocol):
    """Arrays by index, each built or held: a list of LoadedArray, or a sweep's family (sweep.py)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> LoadedArray: ...


def check_files(
    files: list[str | InputError], settings: Settings, max_elements: int, keep_arrays: bool, observer=None
) -> Iterator[MatrixReport | Skipped]:
    """Reports for ``files`` in order, without gradient arrays unless ``keep_arrays``; an ``observer``
    (render/progress.py) hears of each file and stage."""
    on_file, on_stage = (observer.file, observer.stage) if observer else (None, None)
    # a count of each file's matrices (its headers read twice) only for a progress line on show
    on_count = observer.counted if getattr(observer, "active", False) else None
    s = settings
    items = load_files(
        files, s.dtype, max_elements, on_file, s.select, s.skip, s.reshape, on_count, s.max_matrices
    )
    yield from _judged(items, settings, keep_arrays, on_stage)


def check_arrays(
    arrays: Arrays,
    indices: Iterable[int],
    settings: Settings,
    keep_arrays: bool,
    observer=None,
) -> Iterator[MatrixReport | Skipped]:
    """Reports for ``arrays[i]`` of each of ``indices`` in order (each array built as it is reached),
    as ``check_files`` makes them for files; an ``observer`` hears of each array (by its source) and
    stage."""
    on_file, on_stage = (observer.file, observer.stage) if observer else (None, None)

    def items():
        for index in indices:
            loaded = arrays[index]
            if on_file is not None:
                on_file(loaded.source)
            yield from matrices(loaded, settings.dtype)

    yield from _judged(items(), settings, keep_arrays, on_stage)


def _judged(items, settings: Settings, keep_arrays: bool, on_stage) -> Iterator[MatrixReport | Skipped]:
    for report in iter_reports(items, settings, on_stage):
        yield report if keep_arrays or isinstance(report, Skipped) else report.without_arrays()
