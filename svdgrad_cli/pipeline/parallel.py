"""--jobs N: spread the files or arrays of a large run over worker processes, keeping their order.

Each worker imports the frameworks once and checks whole files, so the cost is one framework import
per worker (about 7 s of CPU for all four); results come back in file order, without gradient arrays
unless they are wanted. So workers are used only where they pay: no more of them than there are idle
cores (runtime.py) and files, and none for a run whose input is too small to repay their start-up
(measured: 1,000 small matrices took longer with two workers than with one).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing import get_context

from svdgrad_cli.backends.runtime import threads_per_process, worker_environment
from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import Entry
from svdgrad_cli.inputs.parts import entry_path
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.pipeline.plan import RunPlan
from svdgrad_cli.pipeline.stream import Arrays, check_arrays, check_files

FILES_PER_TASK = 8  # at most; fewer where that leaves a worker idle
TASKS_PER_WORKER = 2
SERIAL_BYTES = 16 * 2**20  # input below this is checked in this process whatever --jobs says


def workers_for(files: Sequence[Entry], jobs: int) -> int:
    """How many worker processes to use for ``files`` with ``--jobs jobs`` (1: none)."""
    paths = [entry_path(f) for f in files if not isinstance(f, InputError)]
    if jobs <= 1 or len(paths) <= 1 or "-" in paths:
        return 1
    size = 0
    for path in paths:
        try:
            size += os.path.getsize(path)
        except OSError:  # reported when it is read
            continue
    return _worth(jobs, len(paths), size)


def workers_for_arrays(arrays: Arrays, jobs: int) -> int:
    """How many worker processes to use for ``arrays`` (their ``nbytes`` in all) with ``--jobs jobs``."""
    if jobs <= 1 or len(arrays) <= 1:
        return 1
    size = getattr(arrays, "nbytes", None)  # known without building them (sweep.FamilyArrays)
    if size is None:
        size = sum(arrays[i].array.nbytes for i in range(len(arrays)))
    return _worth(jobs, len(arrays), size)


def _worth(jobs: int, count: int, size: int) -> int:
    """Workers for ``count`` inputs of ``size`` bytes in all: none below SERIAL_BYTES."""
    if size < SERIAL_BYTES:
        return 1
    return max(1, min(jobs, count, threads_per_process(1)))


def _tasks(files: Sequence[Entry], workers: int) -> list[list[Entry] | InputError]:
    """Consecutive files in tasks of a few each (InputError entries alone), so that every worker
    gets TASKS_PER_WORKER tasks or more."""
    per_task = max(1, min(FILES_PER_TASK, len(files) // (workers * TASKS_PER_WORKER)))
    tasks: list[list[Entry] | InputError] = []
    for item in files:
        if isinstance(item, InputError) or not tasks or isinstance(tasks[-1], InputError):
            tasks.append(item if isinstance(item, InputError) else [item])
        elif len(tasks[-1]) < per_task:
            tasks[-1].append(item)
        else:
            tasks.append([item])
    return tasks


@contextmanager
def environment(variables: dict[str, str]):
    """``variables`` set in os.environ for the duration, then restored."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_files(task: tuple[list[Entry], RunPlan]) -> list[MatrixReport | Skipped]:
    return list(check_files(*task))


def _check_arrays(task: tuple[Arrays, range, RunPlan]) -> list[MatrixReport | Skipped]:
    return list(check_arrays(*task))


@contextmanager
def _pool(jobs: int):
    """``jobs`` worker processes, stopped at once on leaving (Ctrl-C included)."""
    # spawn, not fork: a forked TensorFlow runtime is not safe, and workers import frameworks anyway.
    # Workers ignore Ctrl-C; this process stops them at once when it is interrupted (terminate).
    with environment(worker_environment(jobs)):  # the workers' share of the cores, read as they start
        pool = get_context("spawn").Pool(
            jobs, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)
        )
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def parallel_reports(
    files: Sequence[Entry], plan: RunPlan, jobs: int
) -> Iterator[MatrixReport | Skipped | InputError]:
    """Reports for each file (InputError entries pass through), in order, from ``jobs`` processes."""
    tasks = _tasks(files, jobs)
    with _pool(jobs) as pool:
        work = [(t, plan) for t in tasks if not isinstance(t, InputError)]
        results = pool.imap(_check_files, work)
        for task in tasks:
            if isinstance(task, InputError):
                yield task
            else:
                yield from next(results)


def parallel_array_reports(arrays: Arrays, plan: RunPlan, jobs: int) -> Iterator[MatrixReport | Skipped]:
    """Reports for each of ``arrays``, in order, from ``jobs`` processes that each build their own
    (``arrays[i]``): what travels is ``arrays`` and a range of indices per task."""
    per_task = max(1, min(FILES_PER_TASK, len(arrays) // (jobs * TASKS_PER_WORKER)))
    work = [
        (arrays, range(start, min(start + per_task, len(arrays))), plan)
        for start in range(0, len(arrays), per_task)
    ]
    with _pool(jobs) as pool:
        for reports in pool.imap(_check_arrays, work):
            yield from reports
