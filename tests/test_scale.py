"""Big matrices and a cold start at their frameworks' own cost (issue 26): arrays cross the worker pipe
bit for bit without copies on the way, a big stack goes to one backend at a time with the same
answers, TensorFlow's worker leaves out what its SVD never uses and answers as TensorFlow does here,
and a worker that cannot load fails the run closed (exit 2, one line)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli import check
from svdgrad_cli.backends import registry, wire
from svdgrad_cli.backends.framework import BUILTIN
from svdgrad_cli.backends.hosted import FrameworkWorker
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.pipeline import stream

ROOT = Path(__file__).parent.parent


def _through_a_pipe(messages: list[tuple[dict, dict[str, np.ndarray]]]) -> list[tuple[dict, dict]]:
    """Each message sent in parts (wire.send) by a thread and received at the other end of a pipe."""
    read_end, write_end = os.pipe()

    def writer():
        for header, arrays in messages:
            wire.send(write_end, header, arrays)
        os.close(write_end)

    thread = threading.Thread(target=writer)
    thread.start()
    reader = wire.Reader(read_end)
    try:
        return [wire.receive(reader, 2**30) for _ in messages]
    finally:
        thread.join()
        os.close(read_end)


def test_arrays_larger_than_the_pipe_cross_it_bit_for_bit_in_every_dtype_and_layout():
    rng = np.random.default_rng(0)
    big = rng.standard_normal((300, 200))  # 480 kB: many pipe buffers
    sent = {
        "float32": big.astype(np.float32),
        "complex128": big + 1j * big[::-1],
        "transposed": big.T,  # not C-contiguous: sent as its C-order copy
        "empty": np.zeros((0, 3)),
    }
    small = {"tiny": np.arange(3.0)}
    # a small message first: the reader's first read takes part of the next one's bytes with it
    received = _through_a_pipe([({"n": 1}, small), ({"n": 2}, sent), ({"n": 3}, small)])
    assert [header["n"] for header, _ in received] == [1, 2, 3]
    for name, array in sent.items():
        got = received[1][1][name]
        assert got.dtype == array.dtype and got.shape == array.shape
        assert got.tobytes() == np.ascontiguousarray(array).tobytes()
    np.testing.assert_array_equal(received[2][1]["tiny"], small["tiny"])


def test_an_answer_sent_in_parts_is_the_message_encode_gives():
    arrays = {"g": np.random.default_rng(1).standard_normal((40, 50)).astype(np.float32)}
    parts = wire.encode_parts({"convention": None}, arrays)
    assert b"".join(bytes(part) for part in parts) == wire.encode({"convention": None}, arrays)


def test_a_big_stack_goes_to_one_backend_at_a_time_with_the_same_answers(hosted, monkeypatch):
    """Above SIDE_BY_SIDE_BYTES nothing is sent ahead; each gradient of sum(s) is still U V^T."""
    sent = []
    monkeypatch.setattr(registry, "send_ahead", lambda *args: sent.append(args))
    rng = np.random.default_rng(2)
    u, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    v, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = (u * [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]) @ v.T
    check(a, backends=["autograd"])
    assert len(sent) == 1  # a small stack: sent ahead (the registry sends to two or more workers)
    monkeypatch.setattr(stream, "SIDE_BY_SIDE_BYTES", a.nbytes)
    report = check(a, backends=["autograd"])
    assert len(sent) == 1
    (result,) = report.results[0].backends
    assert result.status == "ok", result.message
    np.testing.assert_allclose(result.gradient, u @ v.T, atol=1e-13)


@pytest.mark.skipif(not registry.is_available("tensorflow"), reason="TensorFlow is not installed")
def test_tensorflow_in_its_worker_loads_without_jax_and_keras_and_answers_as_here(hosted):
    a = np.random.default_rng(4).standard_normal((1, 6, 4))
    loss = parse_loss("sum")
    worker = FrameworkWorker(BUILTIN["tensorflow"])
    hosted["tensorflow"] = worker
    there = worker.compute(a, loss)
    here = BUILTIN["tensorflow"].compute(a, loss)
    assert np.asarray(there.gradients).tobytes() == np.asarray(here.gradients).tobytes()
    assert np.asarray(there.singular_values).tobytes() == np.asarray(here.singular_values).tobytes()
    process = worker.running()
    if process is not None and os.path.exists(f"/proc/{process.pid}/maps"):  # Linux: what it mapped
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        assert "tensorflow" in maps and "jaxlib" not in maps


def test_a_framework_that_cannot_load_fails_the_cli_run_closed_in_one_line(tmp_path):
    broken = tmp_path / "broken" / "autograd"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('this autograd is broken')\n")
    matrix = tmp_path / "a.npy"
    np.save(matrix, np.diag([3.0, 2.0, 1.0]))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken.parent), str(ROOT)])}
    command = [sys.executable, "-m", "svdgrad_cli", "check", str(matrix), "-b", "autograd"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    shown = done.stdout + done.stderr
    assert "svdgrad: 1 matrix checked (1 error); exit code 2" in shown.splitlines()
    assert "thisautogradisbroken" in "".join(shown.split())  # the reason, in the report's panel


def test_the_reference_is_refined_only_where_the_backends_compute_in_double_precision(hosted):
    """float32: the budget is 10^8 times the unrefined reference's error (refinement.refines), and
    the verdict is the same; float64: refined."""
    rng = np.random.default_rng(5)
    u, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    v, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    a = (u * [5.0, 4.0, 3.0, 2.0, 1.0]) @ v.T
    single = check(a.astype(np.float32), backends=["autograd"], reference="float64").results[0]
    double = check(a, backends=["autograd"], reference="float64").results[0]
    assert single.reference.precision == "float64"
    assert double.reference.precision == "float64 (refined)"
    assert single.verdict == double.verdict == "agree"


def test_the_early_start_starts_only_the_installed_built_ins_named(hosted):
    """check's command line starts workers before svdgrad loads (registry.start_early): only those
    named (a spec or an unknown name is left to resolve_backends), every installed one where none is."""
    registry.start_early(("autograd", "python:json:loads", "nonexistent"))
    assert sorted(hosted) == ["autograd"]
    registry.start_early(())
    assert sorted(hosted) == sorted(name for name in BUILTIN if registry.is_available(name))
