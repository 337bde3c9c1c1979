"""assess.py through check(): a matrix of exactly known SVD (Hadamard and signed-permutation
factors, dyadic entries), backends that return exactly known gradients, and the verdicts and errors
that the mathematics says they earn (Watson 1992 for the nuclear norm's subdifferential)."""

from __future__ import annotations

import numpy as np
import pytest

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
U = np.kron(H2, H2) / 2  # orthogonal, entries exactly +-1/2
V = np.array([[0.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])


def matrix(values) -> np.ndarray:
    return (U * np.asarray(values, dtype=np.float64)) @ V.T  # exact: dyadic products


def run_with(gradient: np.ndarray, values, name: str = "exact"):
    """check() of matrix(values) with the nuclear norm, by a backend that returns ``gradient``."""

    def compute(stack, loss):
        return np.array([np.asarray(values, dtype=np.float64)]), gradient[None]

    register_backend(name, compute)
    try:
        return check(matrix(values), loss="sum", backends=[name]).results[0]
    finally:
        unregister_backend(name)


@pytest.fixture(scope="module")
def full_rank():
    return [8.0, 4.0, 2.0, 1.0]


def test_the_exact_gradient_is_correct_to_every_justified_digit(full_rank):
    report = run_with(U @ V.T, full_rank)  # d||A||_* = U V^T where A has full rank (Lewis 1995)
    (b,) = report.backends
    assert report.verdict is MatrixVerdict.AGREE
    assert b.verdict is BackendVerdict.CORRECT
    assert b.digits >= b.justified_digits
    assert np.allclose(report.reference.gradient, U @ V.T, rtol=0, atol=1e-14)  # LAPACK's rounding


def test_a_perturbed_gradient_is_wrong_by_exactly_its_perturbation(full_rank):
    e = np.zeros((4, 4))
    e[0, 0], e[3, 2] = 3 * 2.0**-6, 4 * 2.0**-6  # ||e||_F = 5/64
    report = run_with(U @ V.T + e, full_rank)
    (b,) = report.backends
    assert report.verdict is MatrixVerdict.WRONG
    assert b.verdict is BackendVerdict.WRONG
    assert b.error == pytest.approx(5 / 64, rel=1e-12)
    assert b.error_parts is not None  # a wrong gradient's error is split by part of the SVD rule


def test_a_member_of_the_subdifferential_at_a_rank_drop_is_valid():
    values = [4.0, 2.0, 0.0, 0.0]  # rank 2: U_2 V_2^T + U_0 M V_0^T, ||M||_2 <= 1 (Watson 1992)
    member = U[:, :2] @ V[:, :2].T + U[:, 2:] @ np.diag([1.0, -0.5]) @ V[:, 2:].T
    report = run_with(member, values)
    (b,) = report.backends
    assert report.verdict is MatrixVerdict.NON_UNIQUE
    assert b.verdict is BackendVerdict.VALID
    assert np.allclose(report.reference.gradient, U[:, :2] @ V[:, :2].T, atol=1e-15)  # min-norm member


def test_outside_the_subdifferential_the_error_is_the_distance_to_the_set():
    values = [4.0, 2.0, 0.0, 0.0]
    outside = U[:, :2] @ V[:, :2].T + U[:, 2:] @ np.diag([2.0, 0.0]) @ V[:, 2:].T  # ||M||_2 = 2
    report = run_with(outside, values)
    (b,) = report.backends
    assert b.verdict is BackendVerdict.WRONG
    assert b.error == pytest.approx(1.0, rel=1e-12)  # the nearest member has M = diag(1, 0)
