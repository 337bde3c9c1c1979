"""``--decomposition eigh`` honours the options that decide a verdict or the exit code, refuses the
ones it cannot honour, and fails closed on bad answers and unrepresentable losses."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import EIGH_EXACT as EXACT

from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_reference import eigh_reference
from svdgrad_cli.pipeline.eigh_check import check_matrix


@pytest.fixture
def identity(eigh_exact_plugin, tmp_path):
    """eye.npy beside EXACT (conftest.eigh_exact_plugin): I, the gradient of eigsum and of eig:k off ties."""
    np.save(tmp_path / "eye.npy", np.eye(3))
    return str(tmp_path / "eye.npy")


def _check(runner, *args):
    return runner.invoke(cli, ["check", "--decomposition", "eigh", "-b", EXACT, *args])


def test_fail_on_and_fail_only_on_decide_the_exit_code(runner, identity):
    # eig:2 of I has no gradient (a single eigenvalue at a triple tie): undefined, not a finding
    assert _check(runner, identity, "--loss", "eig:2").exit_code == 0
    assert _check(runner, identity, "--loss", "eig:2", "--fail-on", "undefined").exit_code == 1
    assert _check(runner, identity, "--loss", "eig:2", "--fail-only-on", "undefined").exit_code == 1


class _Answering:
    name = "answering"

    def __init__(self, gradient):
        self.gradient = gradient

    def compute(self, stack, loss):
        return np.linalg.eigvalsh(stack), self.gradient[None], None


def test_rtol_and_atol_replace_the_budget():
    a = np.diag([1.0, 2.0, 3.0])
    off = np.eye(3) * 1.01  # relative error 0.01 in the gradient of eigsum (I)
    loss = parse_eigh_loss("eigsum").bind(3, 0, False)
    tight = check_matrix(a, "A", loss, [_Answering(off)]).results[0]
    loose = check_matrix(a, "A", loss, [_Answering(off)], tolerances=(None, 0.05, 0.0)).results[0]
    assert tight.verdict.value == "wrong" and loose.verdict.value == "correct"
    assert loose.budget == pytest.approx(0.05)


def test_a_sweep_whose_loss_does_not_fit_the_shape_is_a_usage_error(runner, identity):
    args = ["sweep", "--decomposition", "eigh", "-b", EXACT, "--points", "3", "--shape", "4x4"]
    result = runner.invoke(cli, [*args, "--loss", "eig:99"])
    assert result.exit_code == 2
    assert "needs at least 99 eigenvalues" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("spec", ["eig:²", "topk:2.0", "eig:-1", "eig:"])
def test_k_must_be_ascii_digits(runner, identity, spec):
    result = _check(runner, identity, "--loss", spec)
    assert result.exit_code == 2 and "K must be a whole number" in result.output


def test_torch_lowrank_options_must_be_ascii_digits(runner, identity):
    result = runner.invoke(cli, ["check", "-b", "torch_lowrank:q=²", identity])
    assert result.exit_code == 2 and "whole numbers" in result.output


@pytest.mark.parametrize(
    "extra",
    [
        ["--jobs", "2"],
        ["--plot", "pics"],
        ["--save-repro", "repro"],
        ["--zero-tol", "1e-3"],
        ["--dup-tol", "1e-3"],
        ["--full-matrices"],
        ["--directions", "d.npz"],
    ],
)
def test_options_eigh_cannot_honour_are_refused_in_one_line(runner, identity, extra):
    np.savez("d.npz", E=np.eye(3))
    result = _check(runner, identity, *extra)
    assert result.exit_code == 2, result.output
    assert f"--decomposition eigh: {extra[0]}" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("extra", [["--full-matrices"]])
def test_sweep_refuses_what_it_cannot_honour(runner, identity, extra):
    args = ["sweep", "--decomposition", "eigh", "-b", EXACT, "--points", "2", "--shape", "4x4", *extra]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and f"--decomposition eigh: {extra[0]}" in result.output


class _Returning:
    """A backend returning (values, gradients, vectors) as given, with the exact gradient of vec."""

    name = "returning"

    def __init__(self, **parts):
        self.parts = parts

    def compute(self, stack, loss):
        w, q = np.linalg.eigh(stack)
        parts = {"values": w, "gradients": np.zeros_like(stack) + 5.0, "vectors": q, **self.parts}
        return parts["values"], parts["gradients"], parts["vectors"]


@pytest.mark.parametrize(
    "parts",
    [
        {"values": np.array([["a"] * 3])},
        {"values": np.ones((1, 3), dtype=bool)},
        {"gradients": np.zeros((1, 3, 3), dtype=object)},
        {"vectors": np.eye(3)[None, :, :2]},
    ],
)
def test_an_answer_that_is_not_numbers_of_its_shape_fails_that_backend_only(parts):
    a = np.diag([1.0, 2.0, 3.0])
    loss = parse_eigh_loss("eigsum").bind(3, 0, False)
    report = check_matrix(a, "A", loss, [_Returning(**parts), _Answering(np.eye(3))])
    assert [r.verdict.value for r in report.results] == ["failed", "correct"]
    assert "returned" in report.results[0].message


def test_a_nan_residual_is_not_an_accurate_eigendecomposition():
    a = np.diag([1.0, 2.0, 3.0])
    loss = parse_eigh_loss("eigsum").bind(3, 0, False)
    nan_vectors = np.full((1, 3, 3), np.nan)
    result = check_matrix(a, "A", loss, [_Returning(vectors=nan_vectors)]).results[0]
    assert result.verdict.value == "wrong"
    assert "eigendecomposition is off" in result.forward and "residual nan" in result.forward


def test_the_expm_reference_across_a_wide_spread_matches_mpmath():
    import mpmath

    mpmath.mp.dps = 60
    w = [-800.0, -1.0, -900.0]  # e^w_i - e^w_j: e^-800 under e^-1, each gap far beyond 709
    loss = parse_eigh_loss("expm").bind(3, 0, False)
    reference = eigh_reference(np.diag(w), loss)
    c = loss.weight_matrix()
    for i in range(3):
        for j in range(3):
            a, b = mpmath.mpf(w[i]), mpmath.mpf(w[j])
            gamma = mpmath.exp(a) if i == j else (mpmath.exp(a) - mpmath.exp(b)) / (a - b)
            exact = float(gamma * mpmath.mpf(float(c[i, j])))
            assert reference.gradient[i, j] == pytest.approx(exact, rel=1e-13, abs=1e-300)


def test_an_expm_that_overflows_float64_is_blamed_on_no_backend():
    nan = _Returning(gradients=np.full((1, 3, 3), np.inf))
    loss = parse_eigh_loss("expm").bind(3, 0, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from e^720
        report = check_matrix(np.diag([720.0, 1.0, 2.0]), "A", loss, [nan])
    assert not report.defined and "overflows float64" in report.reference
    assert report.results[0].verdict.value == "indeterminate"
