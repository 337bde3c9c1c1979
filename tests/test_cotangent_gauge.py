"""The user's cotangents of the SVD (``--loss uv --cotangents``): ``undefined`` where the gradient
turns with a pair's sign or phase, else the derivative of a gauge-invariant loss (uv_oracle.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from uv_oracle import complex_loss, directional_derivative, exact_matrix, flipped_value, real_loss

from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference

VALUES = [4.0, 2.0, 1.0, 0.5]


def thin_svd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return u, s, np.conj(vh).T


def reference_with(a, c_u, c_v):
    loss = parse_loss("uv").bind(a.shape, 0, {"C_U": c_u, "C_V": c_v}, np.iscomplexobj(a))
    return build_reference(a, loss, zero_tol=1e-12)[0]


def directions(shape, count, complex_=False):
    rng = np.random.default_rng(7)
    e = rng.standard_normal((count, *shape))
    return e + 1j * rng.standard_normal((count, *shape)) if complex_ else e


def off_pair(rng, x):
    """Random columns orthogonal to the columns of x, each to its own."""
    y = rng.standard_normal(x.shape)
    return y - x * np.sum(x * y, axis=0)


def test_the_reported_uv_case_is_a_verdict_not_an_internal_error(runner, tmp_path):
    """C_U = U, C_V = -V (sign-balanced, along each pair): was 'internal error: KeyError: 'C''."""
    a = exact_matrix(VALUES, 1)
    u, _, v = thin_svd(a)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "c.npz", C_U=u, C_V=-v)
    arguments = ["--loss", "uv", "--cotangents", str(tmp_path / "c.npz"), "-b", "torch"]
    result = runner.invoke(
        cli, ["check", str(tmp_path / "a.npy"), *arguments, "-f", "json", "--include-arrays"]
    )
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.stderr
    checked = json.loads(result.stdout)["results"][0]
    assert checked["reference"]["defined"] and checked["backends"]["torch"]["verdict"] == "correct"
    # not the reconstruction loss's A / ||A||_F: the loss |u_i . r_u| - |v_i . r_v| is stationary
    gradient = np.array(checked["reference_gradient"])
    for e in directions(a.shape, 2):
        fd = directional_derivative(lambda x: real_loss(x, u, v, [1.0] * 4, [-1.0] * 4), a, e)
        assert abs(fd) < 1e-14 and abs(np.sum(gradient * e)) < 1e-14


def test_a_cotangent_whose_value_flips_with_a_pair_is_undefined():
    a = exact_matrix(VALUES, 2)
    rng = np.random.default_rng(3)
    c_u, c_v = rng.standard_normal((8, 4)), rng.standard_normal((4, 4))
    value, flipped = flipped_value(a, c_u, c_v, 0)
    assert abs(value - flipped) > 0.1  # the loss itself is not a function of A
    reference = reference_with(a, c_u, c_v)
    assert not reference.defined and reference.gradient is None
    assert "sign-dependent" in reference.set_description and "(s_1-s_4)" in reference.set_description


def test_a_sign_balanced_cotangent_is_not_invariance_and_is_undefined():
    """<C_U[:, i], u_i> + <C_V[:, i], v_i> = 0 at A, so the flip keeps the value there; at A + tE it
    does not, and the gradient of the branch turns with the sign."""
    a = exact_matrix(VALUES, 3)
    u, _, v = thin_svd(a)
    rng = np.random.default_rng(4)
    c_u, c_v = u + off_pair(rng, u), -v + off_pair(rng, v)
    value, flipped = flipped_value(a, c_u, c_v, 1)
    assert flipped == pytest.approx(value, abs=1e-12)
    moved = a + 1e-3 * directions(a.shape, 1)[0]
    value, flipped = flipped_value(moved, c_u, c_v, 1)
    assert abs(value - flipped) > 1e-5
    reference = reference_with(a, c_u, c_v)
    assert not reference.defined
    assert "sign-dependent" in reference.set_description and "(s_1-s_4)" in reference.set_description


def test_a_cotangent_along_each_pair_is_the_derivative_of_a_sign_invariant_loss():
    """C_U = U diag(alpha), C_V = V diag(beta) are the cotangents of
    sum alpha_i |r_u,i . u_i| + beta_i |r_v,i . v_i|: stationary at A, whatever alpha + beta."""
    a = exact_matrix(VALUES, 5)
    u, _, v = thin_svd(a)
    alpha, beta = np.array([0.5, -2.0, 1.5, 3.0]), np.array([1.0, 0.25, -1.5, 2.0])
    reference = reference_with(a, u * alpha, v * beta)
    assert reference.defined and reference.unique
    for e in directions(a.shape, 2):
        fd = directional_derivative(lambda x: real_loss(x, u, v, alpha, beta), a, e)
        assert np.sum(reference.gradient * e) == pytest.approx(fd, abs=1e-13)


def test_a_phase_invariant_complex_cotangent_matches_the_oracle():
    """C_U = U diag(kappa), C_V = V diag(conj kappa): the cotangents of
    sum Re(conj(kappa_i) r_u,i^H u_i v_i^H r_v,i), whose gradient is U diag(i Im kappa / s) V^H."""
    a = exact_matrix(VALUES, 6, complex_=True)
    u, _, v = thin_svd(a)
    kappa = np.array([0.3 + 0.7j, -1.2 + 0.2j, 0.5 - 0.9j, 0.1 + 0.4j])
    reference = reference_with(a, u * kappa, v * np.conj(kappa))
    assert reference.defined and np.linalg.norm(reference.gradient) > 0.5
    for e in directions(a.shape, 3, complex_=True):
        fd = directional_derivative(lambda x: complex_loss(x, u, v, kappa), a, e)
        assert np.real(np.vdot(reference.gradient, e)) == pytest.approx(fd, rel=1e-10)


def test_a_phase_dependent_complex_cotangent_is_undefined():
    a = exact_matrix(VALUES, 6, complex_=True)
    u, _, v = thin_svd(a)
    kappa = np.array([0.3 + 0.7j, -1.2, 0.5, 0.1])  # Im(u_1^H c_U + v_1^H c_V) = 0.7
    reference = reference_with(a, u * kappa, np.zeros_like(v))
    assert not reference.defined
    assert "phase" in reference.set_description and "(s_1: Im(" in reference.set_description


def test_a_cotangent_on_a_tie_is_undefined():
    a = exact_matrix([4.0, 2.0, 2.0, 1.0], 8)
    u, _, v = thin_svd(a)
    alpha = np.array([1.0, 1.0, 1.0, 1.0])
    reference = reference_with(a, u * alpha, -v * alpha)
    assert not reference.defined
    assert "s_2, s_3 are tied or zero" in reference.set_description


def test_a_cotangent_left_out_is_zero_not_drawn():
    """A model that reads only U gives only C_U: C_V is zero, not the seed's random weights."""
    a = exact_matrix(VALUES, 9)
    u, _, _ = thin_svd(a)
    loss = parse_loss("uv").bind(a.shape, 0, {"C_U": 2.0 * u})
    assert not np.any(loss.arrays["C_V"])
    reference = build_reference(a, loss, zero_tol=1e-12)[0]
    assert reference.defined and not np.any(reference.gradient)


def test_reference_high_with_uv_is_refused_in_one_line(runner, tmp_path):
    """mpmath's SVD picks other phases than the float64 SVD the cotangents are read at: a high-precision
    reference cannot be honoured, so it is refused rather than silently replaced by float64."""
    from svdgrad_cli.cli import cli

    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(3, 2))
    result = runner.invoke(cli, ["check", str(tmp_path / "a.npy"), "--loss", "uv", "--reference", "high"])
    assert result.exit_code == 2 and "--reference high: --loss uv" in result.stderr
    assert "Traceback" not in result.output
