"""--jobs N: spread the files of a large run over worker processes, keeping the output in order.

Each worker imports the frameworks once and checks whole files, so the cost is one framework import
per worker; results come back in file order, without gradient arrays unless they are wanted.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from multiprocessing import get_context

from svdgrad_cli.errors import InputError
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline.worker import check_files

FILES_PER_TASK = 8


def _check_files(task: tuple[list[str], Settings, int, bool]) -> list[MatrixReport]:
    return list(check_files(*task))


def parallel_reports(
    files: list[str | InputError], settings: Settings, max_elements: int, jobs: int, keep_arrays: bool
) -> Iterator[MatrixReport | InputError]:
    """Reports for each file (InputError entries pass through), in order, from ``jobs`` processes."""
    tasks: list[list[str] | InputError] = []
    for item in files:
        if isinstance(item, InputError) or not tasks or isinstance(tasks[-1], InputError):
            tasks.append(item if isinstance(item, InputError) else [item])
        elif len(tasks[-1]) < FILES_PER_TASK:
            tasks[-1].append(item)
        else:
            tasks.append([item])
    # spawn, not fork: a forked TensorFlow runtime is not safe, and workers import frameworks anyway.
    # Workers ignore Ctrl-C; this process stops them at once when it is interrupted (terminate).
    pool = get_context("spawn").Pool(
        jobs, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)
    )
    try:
        work = [(t, settings, max_elements, keep_arrays) for t in tasks if not isinstance(t, InputError)]
        results = pool.imap(_check_files, work)
        for task in tasks:
            if isinstance(task, InputError):
                yield task
            else:
                yield from next(results)
    finally:
        pool.terminate()
        pool.join()
