"""The resources of a run: how many threads each process computes with, and where compilations are cached.

Threads. BLAS, OpenMP and the frameworks' own pools default to one thread per core and spin while
they wait for work. On a machine whose cores are busy (a shared CI runner), or with ``--jobs`` worker
processes that each start such pools, the spinning threads fight for the cores: measured on two cores
under two busy processes, ``-b torch`` on 1,000 small matrices took 10.7 s with the default pools and
2.5 s with one thread. So each process gets its share of the cores it may actually run on
(``os.sched_getaffinity``) that are not already busy (the one-minute load average), at least one, and
waiting threads sleep (OMP_WAIT_POLICY=PASSIVE). The choice is made before NumPy or any framework is
imported, through the environment variables they read at start-up: for this process by configure(),
for ``--jobs`` workers (parallel.py) by worker_environment() as they start. A variable the user has
set is left alone.

Compilations. JAX compiles a program per input shape (about 0.15 s each); its persistent compilation
cache, under the user's cache directory, keeps them across runs (``--no-cache`` disables it).
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

# Environment variables that size the thread pools of OpenBLAS/MKL/OpenMP (NumPy, torch, autograd)
# and of TensorFlow's intra- and inter-op pools, read when each library starts.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
SINGLE_THREADED_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
CACHE_VARIABLE = "SVDGRAD_CACHE_DIR"  # the cache directory; empty: no persistent caches


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; all of them where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def threads_per_process(jobs: int, cores: int | None = None, load: float | None = None) -> int:
    """Each of ``jobs`` processes' share of the cores that are not already busy, at least 1."""
    cores = available_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    idle = max(0.0, cores - load)
    return max(1, int(idle // max(1, jobs)))


_CHOSEN: set[str] = set()  # the variables configure() set, which worker_environment() may resize


def _thread_settings(processes: int) -> dict[str, str]:
    threads = str(threads_per_process(processes))
    wanted = dict.fromkeys(THREAD_VARIABLES, threads)
    wanted["OMP_WAIT_POLICY"] = "PASSIVE"
    if threads == "1":
        wanted["XLA_FLAGS"] = SINGLE_THREADED_XLA
    return wanted


def configure(cache: bool = True, processes: int = 1) -> dict[str, str]:
    """Size this process's thread pools and choose the cache, before NumPy or a framework is
    imported; worker processes get theirs from worker_environment(). ``processes``: how many
    processes compute at once, each with its share (2 for a check whose backends run in worker
    processes of their own, hosted.py, which inherit these settings: this process's reference beside
    one backend's call on a big matrix, each of them on its share of the cores, since a LAPACK call
    whose threads outnumber the free cores slows down several times over). Returns the variables it
    set (the user's own are kept)."""
    chosen = {key: value for key, value in _thread_settings(processes).items() if key not in os.environ}
    if not cache:
        chosen[CACHE_VARIABLE] = ""  # --no-cache wins over the environment
    os.environ.update(chosen)
    _CHOSEN.update(chosen)
    return chosen


def worker_environment(workers: int) -> dict[str, str]:
    """The thread settings of each of ``workers`` processes started now (those configure() chose;
    the user's own stay as they are)."""
    return {key: value for key, value in _thread_settings(workers).items() if key in _CHOSEN}


def cache_directory() -> Path | None:
    """svdgrad's cache directory ($SVDGRAD_CACHE_DIR, else $XDG_CACHE_HOME/svdgrad, else
    ~/.cache/svdgrad), or None where caching is off (SVDGRAD_CACHE_DIR set empty)."""
    chosen = os.environ.get(CACHE_VARIABLE)
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "svdgrad"


RELEASE_BYTES = 2**22  # a stack from this size on leaves freed memory worth handing back


def release_free_memory() -> None:
    """Hand the memory freed so far back to the system (glibc's malloc_trim; elsewhere nothing): the
    allocator keeps freed blocks for reuse, and in a worker process of its own (hosted.py) no other
    framework can reuse what one framework freed after a big call, as it could in one process."""
    import ctypes

    with suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL(None).malloc_trim(0)
