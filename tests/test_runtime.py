"""Thread pools per process and the compilation cache (backends/runtime.py). No timings here: speed is
measured in bench/run_all.py against baselines of the same run."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from svdgrad_cli.backends import runtime


@pytest.mark.parametrize(
    ("jobs", "cores", "load", "threads"),
    [(1, 8, 0.0, 8), (2, 8, 0.0, 4), (2, 8, 4.5, 1), (1, 2, 2.0, 1), (3, 2, 0.0, 1), (1, 2, 0.4, 1)],
)
def test_each_process_gets_its_share_of_the_idle_cores(jobs, cores, load, threads):
    assert runtime.threads_per_process(jobs, cores=cores, load=load) == threads


def test_the_users_own_settings_win(monkeypatch):
    ours = {*runtime.THREAD_VARIABLES, "OMP_WAIT_POLICY", "XLA_FLAGS"}
    environment = {k: v for k, v in os.environ.items() if k not in ours}
    monkeypatch.setattr(os, "environ", {**environment, "OMP_NUM_THREADS": "3"})  # this test's own
    monkeypatch.setattr(runtime, "_CHOSEN", set())
    chosen = runtime.configure()
    assert os.environ["OMP_NUM_THREADS"] == "3" and "OMP_NUM_THREADS" not in chosen
    assert chosen["OMP_WAIT_POLICY"] == "PASSIVE"
    assert chosen["OPENBLAS_NUM_THREADS"] == chosen["TF_NUM_INTRAOP_THREADS"]
    monkeypatch.setattr(runtime, "threads_per_process", lambda jobs: 8 // jobs)  # eight idle cores
    workers = runtime.worker_environment(4)
    assert workers["OPENBLAS_NUM_THREADS"] == "2" and "OMP_NUM_THREADS" not in workers  # the user's stays


def test_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "environ", dict(os.environ))  # configure() below changes it
    monkeypatch.delenv(runtime.CACHE_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert runtime.cache_directory() == tmp_path / "svdgrad"
    monkeypatch.setenv(runtime.CACHE_VARIABLE, str(tmp_path / "mine"))
    assert runtime.cache_directory() == tmp_path / "mine"
    runtime.configure(cache=False)
    assert runtime.cache_directory() is None


@pytest.mark.parametrize("command", ["check", "sweep"])
@pytest.mark.parametrize("flag", ["--cache", "--no-cache"])
def test_jax_compilations_are_kept_for_the_next_run_unless_told_not_to(tmp_path, flag, command):
    pytest.importorskip("jax")
    np.save(tmp_path / "a.npy", np.diag([3.0, 2.0, 1.0]))
    env = {**os.environ, runtime.CACHE_VARIABLE: str(tmp_path / "cache")}
    what = [str(tmp_path / "a.npy")] if command == "check" else ["--points", "2", "--shape", "3x3"]
    command = [sys.executable, "-m", "svdgrad_cli", command, *what, "-b", "jax", "-q", flag]
    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    kept = list((tmp_path / "cache").rglob("*"))
    assert bool(kept) == (flag == "--cache")
