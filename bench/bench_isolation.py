"""What isolating a plug-in costs (issue 21): a NumPy-only ``python:`` plug-in called in this process
(register_backend with the function) against the same function in its worker process (the spec).

- a run over 200 small matrices of 200 shapes (one call each, as a run of many shapes makes them),
  judged as ``svdgrad check`` judges them, isolated / in-process, and the overhead per matrix;
- the pipe's round trip of one call on an 8x8 matrix (200 calls in a worker's life, less its start
  and end and the function's own time);
- the start of a worker (a fresh interpreter, NumPy, the plug-in's import) and its end.

Each in wall seconds and in CPU seconds (this process's and its ended children's): on a busy machine
a round trip also waits for the scheduler to run the other side, which the CPU time leaves out.

    python bench/bench_isolation.py [--quick]

The targets are budgets against regressions: isolation costs most, relatively, on the cheapest
plug-in there is (a NumPy SVD of a tiny matrix, about 0.3 ms a call).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import report

PLUGIN = """
import numpy as np


def nuclear(stack, loss):
    u, s, vt = np.linalg.svd(stack, full_matrices=False)
    return s, (u * loss.weights(s.shape[-1])[..., None, :]) @ vt
"""
SHAPES = [(m, n) for m in range(3, 23) for n in range(3, 13)]  # 200 shapes: 200 calls


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (workers, once closed)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _measure(function, repeat: int) -> tuple[float, float]:
    """(least wall seconds, least CPU seconds) of ``function()`` over ``repeat`` runs (the least, as
    timeit advises: the others measure the machine's other work). The CPU time is what it costs on
    an idle machine, where the wall time of a round trip also waits for the scheduler."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    return min(walls), min(cpus)


def _write(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "isolation_plugin.py").write_text(PLUGIN)
    rng = np.random.default_rng(0)
    files = []
    for m, n in SHAPES:
        files.append(str(folder / f"a{m}x{n}.npy"))
        np.save(files[-1], rng.standard_normal((m, n)))
    return files


def plugin_isolation(folder: Path, repeat: int) -> None:
    """Print the ratios of the module docstring (the plug-in is written into ``folder``)."""
    from svdgrad_cli import Settings, check_paths, register_backend
    from svdgrad_cli.backends import registry
    from svdgrad_cli.backends.isolation import Recipe, WorkerBackend
    from svdgrad_cli.numerics.losses import parse_loss

    files = _write(folder)
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    import isolation_plugin

    register_backend("inproc", isolation_plugin.nuclear)
    spec = "python:isolation_plugin:nuclear"

    def run(backend: str):
        return lambda: check_paths(files, Settings(backends=(backend,)))

    print(f"plug-in isolation; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    run(spec)()  # warm: NumPy's and svdgrad's imports, the files in the page cache, the worker
    (inproc, inproc_cpu), (isolated, isolated_cpu) = (
        _measure(run("inproc"), repeat),
        _measure(run(spec), repeat),
    )
    report("200 matrices, python: plug-in, isolated/in", isolated, inproc, 4.0)
    report("  the same in CPU seconds", isolated_cpu, inproc_cpu, 4.0)
    per_matrix = (isolated - inproc) / len(SHAPES) * 1e3
    per_matrix_cpu = (isolated_cpu - inproc_cpu) / len(SHAPES) * 1e3
    print(f"{'  overhead per matrix, wall / CPU':<44} {per_matrix:8.2f} ms / {per_matrix_cpu:.2f} ms")

    stack, loss, calls = np.random.default_rng(1).standard_normal((1, 8, 8)), parse_loss("sum"), 200
    local = registry.load_backend("inproc")

    def lifetime(count: int):
        def live() -> None:
            worker = WorkerBackend(Recipe("spec", spec))
            for _ in range(count):
                worker.compute(stack, loss)
            worker.close()

        return live

    bare, bare_cpu = _measure(lambda: [local.compute(stack, loss) for _ in range(calls)], repeat)
    empty, empty_cpu = _measure(lifetime(0), repeat)
    busy, busy_cpu = _measure(lifetime(calls), repeat)
    trip, trip_cpu = (busy - empty - bare) / calls * 1e6, (busy_cpu - empty_cpu - bare_cpu) / calls * 1e6
    print(f"{'  round trip of one 8x8 call, wall / CPU':<44} {trip:8.0f} us / {trip_cpu:.0f} us")
    print(f"{'  start and end of a worker, wall / CPU':<44} {empty:8.2f} s / {empty_cpu:.2f} s")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        plugin_isolation(Path(tmp), 1 if "--quick" in sys.argv else 7)
