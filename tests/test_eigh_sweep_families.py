"""The families of ``svdgrad sweep --decomposition eigh`` beyond the built-in real one: complex
Hermitian (an exactly unitary dyadic Q), a user's matrix (``--from``), and ``--save-matrices``.
Eigenvalues are checked with mpmath's Hermitian eigensolver at 50 digits, independent of the code."""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest
from helpers import EIGH_EXACT as EXACT

from svdgrad_cli.cli import cli
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.families import dyadic_unitary
from svdgrad_cli.pipeline.eigh_sweep import built_in_base, eigh_family, users_base


def _eigenvalues(a: np.ndarray) -> list[mpmath.mpf]:
    with mpmath.workdps(50):
        m = mpmath.matrix([[mpmath.mpc(complex(x)) for x in row] for row in a])
        return sorted(mpmath.eighe(m, eigvals_only=True))


@pytest.mark.parametrize("n", [4, 6, 8, 13])
def test_the_dyadic_unitary_factor_is_exactly_unitary_and_genuinely_complex(n):
    q, layers = dyadic_unitary(n, np.random.default_rng(n))
    assert np.array_equal(q.conj().T @ q, np.eye(n))  # exact in binary, not to a tolerance
    scaled = q * 2.0**layers
    for part in (scaled.real, scaled.imag):
        assert np.array_equal(part, np.round(part))  # dyadic: multiples of 2^-L
    assert np.count_nonzero(q.imag) >= n  # not a real matrix with phases that cancel in Q diag(w) Q^H


def test_a_complex_gap_family_is_hermitian_not_real_and_closes_the_pair():
    base = built_in_base(8, seed=3, dtype="complex128")
    points = list(eigh_family("gap", 4, 5, base))
    for x, loaded in points:
        a = loaded.array
        assert a.dtype == np.complex128 and np.array_equal(a, a.conj().T)
        assert np.abs(a.imag).max() > 0.01  # no diagonal similarity makes it real: Q mixes phases
        w = _eigenvalues(a)
        assert float(w[4] - w[3]) == pytest.approx(x / 8, abs=4e-16)  # d = 1/8 for n = 8
    assert points[-1][0] == 0.0


def test_from_a_users_matrix_starts_at_it_and_closes_its_own_gap():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 6))
    a = x + x.T
    base = users_base(a, "a.npy", 2)
    points = list(eigh_family("gap", 2, 4, base))
    assert np.allclose(points[0][1].array, a, rtol=0, atol=1e-14 * np.abs(a).max())
    exact = sorted(np.linalg.eigvalsh(a))
    for x_gap, loaded in points:
        w = _eigenvalues(loaded.array)
        assert float(w[2] - w[1]) == pytest.approx(x_gap * (exact[2] - exact[1]), abs=1e-14)
        assert [float(v) for v in (w[0], w[3], w[4], w[5])] == pytest.approx(
            [exact[0], exact[3], exact[4], exact[5]], abs=1e-14
        )  # only w_{K+1} moves


def test_from_a_tied_pair_is_refused():
    a = np.diag([1.0, 2.0, 2.0, 3.0])
    with pytest.raises(UsageError, match="w_2 = w_3 already"):
        users_base(a, "tie.npy", 2)


def test_sweep_from_a_file_saves_the_points_it_judged(runner, eigh_exact_plugin, tmp_path):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))
    np.save(tmp_path / "h.npy", z + z.conj().T)
    args = ["sweep", "--decomposition", "eigh", "--from", "h.npy", "--points", "4", "--format", "json"]
    result = runner.invoke(cli, [*args, "--save-matrices", "pts", "-b", EXACT])
    assert result.exit_code == 0, result.output
    saved = sorted((tmp_path / "pts").glob("*.npy"))
    assert saved[0].name == "001-gap-1.00e+00.npy" and len(saved) == 4
    reports = json.loads(result.stdout)["results"]
    assert [r["dtype"] for r in reports] == ["complex128"] * 4
    for path, report in zip(saved, reports, strict=True):
        w = _eigenvalues(np.load(path))
        assert [float(v) for v in w] == pytest.approx(report["eigenvalues"], abs=1e-13)
    assert all(r["backends"][0]["verdict"] == "correct" for r in reports)  # I is eigsum's gradient


def test_sweep_from_a_matrix_that_is_not_symmetric_is_one_line_or_symmetrised(
    runner, eigh_exact_plugin, tmp_path
):
    np.save(tmp_path / "ns.npy", np.arange(16.0).reshape(4, 4))
    args = ["sweep", "--decomposition", "eigh", "--from", "ns.npy", "--points", "3", "-b", EXACT]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and "--from ns.npy: not symmetric" in result.stderr
    assert "Traceback" not in result.output
    assert runner.invoke(cli, [*args, "--symmetrize"]).exit_code == 0


@pytest.mark.parametrize("decomposition", [[], ["--decomposition", "eigh"]])
def test_a_save_matrices_folder_that_cannot_be_made_is_one_line(runner, eigh_exact_plugin, decomposition):
    args = ["sweep", *decomposition, "--points", "2", "-b", EXACT if decomposition else "autograd"]
    result = runner.invoke(cli, [*args, "--save-matrices", "/proc/no/such/folder"])
    assert result.exit_code == 2 and "--save-matrices /proc/no/such/folder: " in result.stderr
    assert "internal error" not in result.output
