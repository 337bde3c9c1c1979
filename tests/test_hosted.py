"""Built-in backends in worker processes started at once (backends/hosted.py): the same answers as
the mathematics, only the named frameworks started, and a worker that fails, dies or hangs is a
result, never a crash or a hang."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from svdgrad_cli import check
from svdgrad_cli.backends import registry
from svdgrad_cli.backends.hosted import FrameworkWorker

ROOT = Path(__file__).parent.parent


def hadamard_matrix() -> tuple[np.ndarray, np.ndarray]:
    """A = U diag(4, 3, 2, 1) V^T with dyadic orthogonal U, V (Hadamard / 2, a signed permutation),
    exact in float64, and the gradient of sum(s) at A: U V^T (distinct positive s: Lewis 1995)."""
    h = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=float) / 2
    v = np.array([[0, 1, 0, 0], [0, 0, 0, -1], [1, 0, 0, 0], [0, 0, 1, 0]], dtype=float)
    return (h * [4.0, 3.0, 2.0, 1.0]) @ v.T, h @ v.T


def test_every_default_backend_answers_from_its_worker_with_the_closed_form(hosted):
    a, gradient = hadamard_matrix()
    report = check(a)
    assert set(hosted) == {name for name in registry.BUILTIN if registry.is_available(name)}
    assert all(isinstance(registry.load_backend(name), FrameworkWorker) for name in hosted)
    for result in report.results[0].backends:
        assert result.status == "ok", result.message
        np.testing.assert_allclose(result.gradient, gradient, atol=1e-13)
        np.testing.assert_allclose(result.singular_values, [4, 3, 2, 1], atol=1e-13)


def test_a_named_backend_starts_only_its_own_worker_and_imports_no_framework_here():
    """-b autograd: one worker, and this process imports no framework (a fresh interpreter)."""
    code = (
        "import sys, json, numpy as np\n"
        "from svdgrad_cli import check\n"
        "from svdgrad_cli.backends import registry\n"
        "r = check(np.diag([3.0, 2.0, 1.0]), backends=['autograd'])\n"
        "g = r.results[0].backends[0].gradient\n"
        "frameworks = [m for m in ('autograd', 'tensorflow', 'torch', 'jax') if m in sys.modules]\n"
        "print(json.dumps([sorted(registry._hosted), frameworks, g.tolist()]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    workers, frameworks, gradient = json.loads(done.stdout)
    assert workers == ["autograd"]
    assert frameworks == []
    np.testing.assert_array_equal(gradient, np.eye(3))  # U V^T = I at a positive diagonal


def test_a_framework_that_cannot_be_imported_fails_every_call_with_why(hosted, tmp_path, monkeypatch):
    broken = tmp_path / "autograd"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('this autograd is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the worker imports with this process's path
    report = check(np.stack([np.eye(3), 2 * np.eye(3)]), backends=["autograd"])
    for matrix in report.results:
        (result,) = matrix.backends
        assert result.verdict == "failed"
        assert "this autograd is broken" in result.message


def test_an_idle_worker_that_died_is_started_again_for_the_next_run(hosted):
    a, gradient = hadamard_matrix()
    check(a, backends=["autograd"])
    process = hosted["autograd"].running()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (result,) = check(a, backends=["autograd"]).results[0].backends
    assert result.status == "ok", result.message
    np.testing.assert_allclose(result.gradient, gradient, atol=1e-13)
    assert hosted["autograd"].running() is not process


def test_a_call_over_the_timeout_kills_its_worker_and_the_next_run_has_a_new_one(hosted):
    """A 400x400 SVD and its gradient cannot answer within a millisecond."""
    check(np.eye(2), backends=["autograd"])  # the worker is loaded: the timeout counts the call only
    process = hosted["autograd"].running()
    a = np.random.default_rng(0).standard_normal((400, 400))
    (result,) = check(a, backends=["autograd"], timeout=0.001).results[0].backends
    assert result.verdict == "failed"
    assert result.message.startswith("timed out after 0.001 s: killed")
    assert process.poll() is not None  # killed, not abandoned
    (again,) = check(np.eye(2), backends=["autograd"]).results[0].backends
    np.testing.assert_array_equal(again.gradient, np.eye(2))


def test_one_float64_svd_of_a_matrix_serves_its_reference_spectrum_and_warnings(hosted, monkeypatch):
    """A clean 300x300 check makes exactly one SVD in this process (the backend's are its worker's):
    the reference, the spectrum and the warnings share it."""
    calls = []
    svd = np.linalg.svd
    monkeypatch.setattr(np.linalg, "svd", lambda *args, **kw: calls.append(args[0].shape) or svd(*args, **kw))
    a = np.random.default_rng(3).standard_normal((300, 300))
    report = check(a, backends=["autograd"])
    assert report.results[0].verdict == "agree"
    assert report.results[0].warnings == ()
    assert calls == [(1, 300, 300)]
