"""Plug-ins that bring their own forward-mode or second-order rule (issue 25), judged in --mode jvp
and hvp against oracles independent of svdgrad: the nuclear norm's directional derivative and the
derivative of its gradient, the polar factor A (A^T A)^(-1/2), by central differences at 60 digits
in mpmath (no SVD in the second). A backend without a path of the mode is ``unsupported`` (one
line), never ``failed``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mode_oracle import nuclear_jvp, polar_jvp

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.backends import plugins
from svdgrad_cli.backends.modes import mode_paths, run_path
from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.verdicts import BackendVerdict as V

ROOT = Path(__file__).parent.parent
JVP_RULE = "jax:examples.backends.jax_jvp:svd"
WRONG_HVP = "torch:examples.backends.torch_wrong_hvp:svd"
HVP_ERROR = 0.5  # what examples/backends/torch_wrong_hvp.py adds to every H(A)[E], times E


@pytest.fixture(autouse=True)
def _root(monkeypatch):
    monkeypatch.chdir(ROOT)  # examples.backends resolves from the current directory, as python -m


def _paths(spec_text: str, mode: str):
    backend = plugins.spec_backend(plugins.parse_spec(spec_text))
    return mode_paths(backend, parse_loss("sum").bind((4, 4), 0), mode, np.float64, 4)


A = np.random.default_rng(3).standard_normal((4, 4))
E = np.random.default_rng(4).standard_normal((4, 4))


def test_a_custom_jvp_rule_is_the_derivative_the_oracle_gives():
    (jvp,) = _paths(JVP_RULE, "jvp").values()
    assert float(run_path(jvp, A, E)) == pytest.approx(nuclear_jvp(A, E), rel=1e-12)
    oracle = polar_jvp(A, E)
    for path in _paths(JVP_RULE, "hvp").values():  # JAX differentiates the rule itself
        assert np.linalg.norm(run_path(path, A, E) - oracle) <= 1e-12 * np.linalg.norm(oracle)


def test_the_deliberately_wrong_hvp_is_off_by_its_known_error():
    paths = _paths(WRONG_HVP, "hvp")
    off = run_path(paths["reverse-over-reverse"], A, E) - polar_jvp(A, E)
    assert np.allclose(off, HVP_ERROR * E, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_plugin_with_a_jvp_rule_is_correct_in_both_modes(dtype):
    for mode in ("jvp", "hvp"):
        a = np.random.default_rng(6).standard_normal((6, 6))
        run = check(a, mode=mode, dtype=dtype, backends=[JVP_RULE])
        verdicts = {(r.path, r.verdict) for report in run.reports for _, r in report.rows()}
        assert {v for _, v in verdicts} == {V.CORRECT}, verdicts
        assert run.exit_code == 0


def test_a_wrong_second_order_is_wrong_and_a_missing_forward_mode_unsupported():
    run = check(A, mode="hvp", backends=[WRONG_HVP])
    rows = [r for report in run.reports for _, r in report.rows()]
    assert {r.path: r.verdict for r in rows} == {
        "reverse-over-reverse": V.WRONG,  # double backward through its backward pass
        "forward-over-reverse": V.UNSUPPORTED,  # no jvp staticmethod: torch has no forward mode
    }
    assert run.exit_code == 1
    assert all(r.relative_error > 1e3 * r.budget for r in rows if r.verdict == V.WRONG)
    gradients = check(A, backends=[WRONG_HVP])  # its first order is right
    assert gradients.exit_code == 0


def test_a_backend_without_the_mode_is_unsupported_in_one_line(runner, tmp_path):
    register_backend("gradients_only", lambda stack, loss: (np.linalg.svd(stack, compute_uv=False), stack))
    try:
        run = check(A, mode="jvp", backends=["gradients_only", "jax"])
    finally:
        unregister_backend("gradients_only")
    rows = [r for report in run.reports for _, r in report.rows() if r.backend == "gradients_only"]
    assert rows and all(r.verdict == V.UNSUPPORTED for r in rows)
    assert "gives gradients only: no jvp path" in rows[0].message
    path = tmp_path / "a.npy"
    np.save(path, A)
    result = runner.invoke(cli, ["check", str(path), "--mode", "jvp", "-b", WRONG_HVP, "-b", "jax"])
    assert result.exit_code == 0, result.output
    assert result.output.count("You must implement the jvp function") == 1  # once, not per direction
    alone = runner.invoke(cli, ["check", str(path), "--mode", "jvp", "-b", WRONG_HVP])
    assert alone.exit_code == 2  # nothing was judged: fail closed


@pytest.mark.parametrize(
    "spec",
    [
        "jax:examples.backends.jax_broadened:svd",  # a jax.custom_vjp: JAX has no forward mode of it
        "torch:examples.backends.broadened:svd",  # forward(ctx, ...): torch.func cannot transform it
    ],
)
def test_a_backward_only_plugin_has_no_forward_mode_unsupported_never_failed(spec):
    run = check(A, mode="jvp", backends=[spec])
    assert {r.verdict for report in run.reports for _, r in report.rows()} == {V.UNSUPPORTED}
    assert run.exit_code == 2  # nothing was judged
