"""A user's cotangents of eigh (``--loss wq``, ``--cotangents``) against the independent oracle
(eigh_oracle.py): exactly built A = Q diag(lam) Q^T, gauge-invariant downstream losses f(w, Q)
evaluated on mpmath eigendecompositions at 50 digits, and their high-precision finite differences.

The cotangents are taken, as svdgrad documents, at the eigenvectors NumPy's eigh returns for A; the
downstream loss f(w, Q) = sum h(w_i) + sum_i d_i Re q_i^H B q_i (B Hermitian) is invariant under
every sign and phase of Q, and under rotations inside a tie where d is constant on it. Its
cotangents are C_w = h'(w), C_Q = 2 B Q diag(d)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import mpmath
import numpy as np
import pytest
from eigh_oracle import finite_difference, hermitian, inner, symmetric, symmetric_direction

from svdgrad_cli import check_eigh
from svdgrad_cli.backends.eigh_backends import EighBackend, installed
from svdgrad_cli.cli import cli
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_reference import eigh_reference
from svdgrad_cli.pipeline.eigh_check import check_matrix
from svdgrad_cli.verdicts import BackendVerdict

SEPARATED = [0.5, 1.0, 2.0, 4.0]
TIED = [0.5, 2.0, 2.0, 4.0]
NEAR = [0.5, 2.0, 2.0 + 2**-30, 4.0]
NOT_JUDGED = {BackendVerdict.UNDEFINED, BackendVerdict.NON_FINITE}


def _mp_eigh(m: mpmath.matrix) -> tuple[list, list]:
    """Ascending eigenvalues and the matching eigenvector columns of an mpmath Hermitian matrix."""
    hermitian_ = any(mpmath.im(m[i, j]) for i in range(m.rows) for j in range(m.cols))
    e, q = (mpmath.eighe if hermitian_ else mpmath.eigsy)(m)
    order = sorted(range(m.rows), key=lambda i: e[i])
    return [e[i] for i in order], [q[:, i] for i in order]


def _weighted(b: np.ndarray, d):
    """f(A) = sum w_i^2 / 2 + sum_i d_i Re q_i^H B q_i on an mpmath matrix (gauge invariant)."""

    def loss(m):
        values, vectors = _mp_eigh(m)
        bm = mpmath.matrix(b.tolist())
        total = mpmath.fsum(x**2 / 2 for x in values)
        return total + mpmath.fsum(
            di * mpmath.re((v.H * bm * v)[0]) for di, v in zip(d, vectors, strict=True)
        )

    return loss


def _problem(build, lam, d, seed=4):
    """(A, B, cotangents) of the weighted loss at NumPy's eigenvectors of A."""
    a, _ = build(lam, seed=3)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 4)) + (1j * rng.standard_normal((4, 4)) if np.iscomplexobj(a) else 0)
    b = (x + x.conj().T) / 2
    w, q = np.linalg.eigh(a)
    return a, b, {"C_w": w.copy(), "C_Q": 2 * b @ q * np.asarray(d, dtype=float)}


def _reference(a, cotangents):
    loss = parse_eigh_loss("wq")
    bound = replace(loss, given=cotangents).bind(a.shape[0], 0, np.iscomplexobj(a))
    return eigh_reference(a, bound)


@pytest.mark.parametrize("build", [symmetric, hermitian])
@pytest.mark.parametrize(
    "lam, d", [(SEPARATED, [1.0, -2.0, 0.5, 3.0]), (TIED, [1.0, -2.0, -2.0, 3.0])], ids=["separated", "tied"]
)
def test_the_gradient_of_a_gauge_invariant_loss_from_its_cotangents_is_the_oracle(build, lam, d):
    """Defined also at the tie, where d is constant on it: the finite differences of f(eigh(A))."""
    a, b, cotangents = _problem(build, lam, d)
    reference = _reference(a, cotangents)
    assert reference.defined and reference.unique, reference.method
    for seed in range(3):
        e = symmetric_direction(4, seed, np.iscomplexobj(a))
        fd = finite_difference(_weighted(b, d), a, e)
        assert math.isclose(inner(reference.gradient, e), fd, rel_tol=1e-10, abs_tol=1e-12)


@pytest.mark.parametrize("build", [symmetric, hermitian])
def test_near_a_tie_an_invariant_cotangent_is_not_divided_by_the_gap(build):
    """w_3 - w_2 = 2^-30 and d_2 = d_3: f is smooth through the near tie, and the reference is its
    gradient to 1e-10, where Giles' term (M_23 - M_32) / (2 (w_3 - w_2)) would add the rounding of
    a zero over the gap (about eps / gap = 2e-7 of ||G||)."""
    d = [1.0, -2.0, -2.0, 3.0]
    a, b, cotangents = _problem(build, NEAR, d)
    reference = _reference(a, cotangents)
    assert reference.defined
    for seed in range(2):
        e = symmetric_direction(4, seed, np.iscomplexobj(a))
        fd = finite_difference(_weighted(b, d), a, e)
        assert math.isclose(inner(reference.gradient, e), fd, rel_tol=1e-10, abs_tol=1e-12)


@pytest.mark.parametrize("lam", [SEPARATED, NEAR, TIED])
def test_the_cotangent_of_a_projector_gives_the_projector_loss_gradient(lam):
    """C_Q = 2 C_s Q diag(1, 1, 1, 0) is the cotangent of proj:3 = <C, Q_3 Q_3^T>: Giles' rule with
    the clusters agrees with the Daleckii-Krein reference of proj:3 (eigh_reference.py's other
    path), across the pair w_2, w_3 separated, near-tied and tied."""
    a, _ = symmetric(lam, seed=3)
    loss = parse_eigh_loss("proj:3").bind(4, 0)
    projector = eigh_reference(a, loss)
    c, q = loss.arrays["C"], np.linalg.eigh(a)[1]
    reference = _reference(a, {"C_Q": (c + c.T) @ q * np.array([1.0, 1.0, 1.0, 0.0])})
    assert reference.defined and projector.defined
    assert np.allclose(reference.gradient, projector.gradient, rtol=0, atol=1e-13)


def test_any_eigenvector_cotangent_of_simple_real_eigenvalues_is_defined():
    """Real signs are discrete: any C_Q is the cotangent at Q of the sign-invariant
    f = sum_i (c_i^T q_i)(q_i^T r_i), r_i NumPy's eigenvectors (its cotangent differs from C_Q along
    each q_i only, which no first-order change of a unit q_i sees)."""
    a, _ = symmetric(SEPARATED, seed=3)
    c = np.random.default_rng(7).standard_normal((4, 4))
    r = np.linalg.eigh(a)[1]
    reference = _reference(a, {"C_Q": c})
    assert reference.defined

    def loss(m):
        _, vectors = _mp_eigh(m)
        cm, rm = mpmath.matrix(c.tolist()), mpmath.matrix(r.tolist())
        return mpmath.fsum((cm[:, i].T * v)[0] * (v.T * rm[:, i])[0] for i, v in enumerate(vectors))

    e = symmetric_direction(4, 5)
    assert math.isclose(inner(reference.gradient, e), finite_difference(loss, a, e), rel_tol=1e-10)


def _rotated_value(a, b, d, angle):
    """f at NumPy's eigenvectors with the tied pair (columns 2, 3) rotated by ``angle``."""
    w, q = np.linalg.eigh(a)
    c, s = math.cos(angle), math.sin(angle)
    q = q.copy()
    q[:, [1, 2]] = q[:, [1, 2]] @ np.array([[c, -s], [s, c]])
    return float(np.sum(w**2) / 2 + sum(di * np.real(q[:, i].conj() @ b @ q[:, i]) for i, di in enumerate(d)))


def test_a_cotangent_that_tells_tied_eigenvectors_apart_is_undefined():
    """d differs across the tie: f changes with the basis chosen inside it (the oracle's rotation),
    so f(eigh(A)) is no function of A, and svdgrad says undefined, naming the cluster."""
    d = [1.0, -2.0, 0.5, 3.0]
    a, b, cotangents = _problem(symmetric, TIED, d)
    assert abs(_rotated_value(a, b, d, 0.3) - _rotated_value(a, b, d, 0.0)) > 1e-3
    reference = _reference(a, cotangents)
    assert not reference.defined and "w_2, w_3 are tied" in reference.method and "basis" in reference.method


@pytest.mark.parametrize("build", [symmetric, hermitian])
def test_a_hermitian_block_inside_a_tie_is_invisible(build):
    """C_Q = R_C X, X Hermitian, is the cotangent at Q = R of f = tr(X R_C^H P_C R_C) / 2, a function
    of the tied pair's projector P_C alone, whose first-order change moves P_C only across C
    (R_C^H dP_C R_C = 0): its gradient is exactly 0, where Giles' rule would divide by the zero gap."""
    a, _ = build(TIED, seed=3)
    r = np.linalg.eigh(a)[1]
    x = (
        np.array([[0.5, 1.0 - 2.0j], [1.0 + 2.0j, -3.0]])
        if np.iscomplexobj(a)
        else np.array([[0.5, 1.0], [1.0, -3.0]])
    )
    c = np.zeros_like(r)
    c[:, 1:3] = r[:, 1:3] @ x
    reference = _reference(a, {"C_Q": c})
    assert reference.defined and float(np.linalg.norm(reference.gradient)) <= 1e-14


def test_an_eigenvalue_cotangent_that_differs_across_a_tie_is_undefined():
    a, _ = symmetric(TIED, seed=3)
    reference = _reference(a, {"C_w": np.array([0.0, 1.0, 2.0, 0.0])})
    assert not reference.defined and "C_w differs" in reference.method


def test_an_eigenvalue_cotangent_constant_on_a_tie_is_its_sum_of_projectors():
    """C_w = (0, 1, 1, 0) at the tie: L = w_2 + w_3 = tr(P A), G = q_2 q_2^T + q_3 q_3^T exactly."""
    a, q = symmetric(TIED, seed=3)
    reference = _reference(a, {"C_w": np.array([0.0, 1.0, 1.0, 0.0])})
    assert reference.defined
    assert np.allclose(reference.gradient, q[:, 1:3] @ q[:, 1:3].T, rtol=0, atol=1e-15)


def test_a_phase_dependent_complex_cotangent_is_undefined():
    """Re <C_Q, Q> changes to first order under q_i -> e^{i phi} q_i where Im q_i^H c_i != 0."""
    a, _ = hermitian(SEPARATED, seed=3)
    rng = np.random.default_rng(2)
    c = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    q = np.linalg.eigh(a)[1]
    assert abs(np.real(np.vdot(c[:, 0], 1j * q[:, 0]))) > 1e-3  # d/dphi of Re <c_1, e^{i phi} q_1>
    reference = _reference(a, {"C_Q": c})
    assert not reference.defined and "phase" in reference.method and "w_1" in reference.method


def _gauge_plugin(signs):
    """torch's eigh with its eigenvectors' signs or phases changed: an eigh in another gauge."""
    import torch

    def eigh(x):
        w, q = torch.linalg.eigh(x)
        return w, q * torch.tensor(signs, dtype=q.dtype)

    return EighBackend("regauged", "torch", eigh)


@pytest.mark.skipif(not installed("torch"), reason="torch is not installed")
@pytest.mark.parametrize("build, signs", [(symmetric, [-1, 1, -1, -1]), (hermitian, [1j, -1, -1j, 1])])
def test_every_backend_answers_in_its_own_gauge(build, signs):
    """The same cotangent, an eigh whose eigenvectors differ from NumPy's by signs (phases): its
    gradient is judged correct, because it differentiates the gauge-invariant form of the loss."""
    a, _, cotangents = _problem(build, SEPARATED, [1.0, -2.0, 0.5, 3.0])
    loss = parse_eigh_loss("wq")
    bound = replace(loss, given=cotangents).bind(4, 0, np.iscomplexobj(a))
    report = check_matrix(a, "A", bound, [_gauge_plugin(signs), EighBackend("torch", "torch")])
    assert [r.verdict for r in report.results] == [BackendVerdict.CORRECT] * 2


def test_check_eigh_takes_cotangents_and_tells_undefined_from_judged():
    a, _, cotangents = _problem(symmetric, TIED, [1.0, -2.0, 0.5, 3.0])
    run = check_eigh(a, loss="wq", cotangents=cotangents)
    assert not run.reports[0].defined
    assert all(r.verdict in NOT_JUDGED for r in run.reports[0].results)


def test_check_eigh_refuses_cotangents_the_loss_does_not_have():
    a, _ = symmetric(SEPARATED, seed=3)
    with pytest.raises(UsageError, match="dQ: not weights of loss wq"):
        check_eigh(a, loss="wq", cotangents={"dQ": np.eye(4)})


def test_cotangents_from_a_file_on_the_command_line(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, _, cotangents = _problem(symmetric, TIED, [1.0, -2.0, -2.0, 3.0])
    np.save("tied.npy", a)
    np.savez("cot.npz", **cotangents)
    exact = _reference(a, cotangents).gradient
    np.save("exact.npy", exact)
    (tmp_path / "cot_plugin.py").write_text(
        "import numpy as np\n\ndef exact(stack, loss):\n"
        "    return np.linalg.eigvalsh(stack), np.load('exact.npy')[None]\n"
    )
    args = ["check", "tied.npy", "--decomposition", "eigh", "--loss", "wq", "--cotangents", "cot.npz"]
    result = runner.invoke(cli, [*args, "-b", "python:cot_plugin:exact", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"correct"' in result.stdout


def test_cotangent_files_that_do_not_fit_are_one_line_usage_errors(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, _ = symmetric(SEPARATED, seed=3)
    np.save("a.npy", a)
    np.savez("bad.npz", C_Q=np.eye(3))
    np.savez("other.npz", C=np.eye(4))
    base = ["check", "a.npy", "--decomposition", "eigh", "-b", "python:eigh_oracle:identity_gradient"]
    shape = runner.invoke(cli, [*base, "--loss", "wq", "--cotangents", "bad.npz"])
    assert shape.exit_code == 2 and "cotangent C_Q has shape (3, 3)" in shape.output
    name = runner.invoke(cli, [*base, "--loss", "wq", "--cotangents", "other.npz"])
    assert name.exit_code == 2 and "expected C_w, C_Q" in name.output
    np.savez("complex.npz", C_Q=np.eye(4) * 1j)
    field = runner.invoke(cli, [*base, "--loss", "wq", "--cotangents", "complex.npz"])
    assert field.exit_code == 2 and "cotangent C_Q is complex; the matrices are real" in field.output
    none = runner.invoke(cli, [*base, "--cotangents", "other.npz"])
    assert none.exit_code == 2 and "loss eigsum has no weights" in none.output
    assert "Traceback" not in shape.output + name.output + none.output


def test_a_cotangent_left_out_is_zero_and_eigenvalues_alone_read_no_eigenvectors():
    """Only C_w: the loss is <C_w, w>, evaluated without eigenvectors (eigvalsh, as users do), so
    that a zero C_Q cannot bring the eigenvectors' 0/0 at a tie in; only C_Q: C_w = 0."""
    loss = parse_eigh_loss("wq")
    values = replace(loss, given={"C_w": np.ones(4)}).bind(4, 0)
    assert not values.needs_vectors and "q" not in values.expression.replace("ops.", "")
    vectors = replace(loss, given={"C_Q": np.eye(4)}).bind(4, 0)
    assert vectors.needs_vectors and np.array_equal(vectors.arrays["C_w"], np.zeros(4))
    drawn = loss.bind(4, 0)  # without --cotangents both are drawn from the seed
    assert np.all(drawn.arrays["C_w"] != 0) and np.all(drawn.arrays["C_Q"] != 0)


def test_a_sweep_takes_cotangents(runner, tmp_path, monkeypatch):
    """C_w = (1, 1, 1, 1) is eigsum's cotangent: the exact plug-in (I) is correct at every gap, the
    tie included (an eigenvalue cotangent constant on a tie is defined)."""
    monkeypatch.chdir(tmp_path)
    np.savez("ones.npz", C_w=np.ones(4))
    args = ["sweep", "--decomposition", "eigh", "--vary", "gap", "--shape", "4x4", "--points", "4"]
    args += ["--loss", "wq", "--cotangents", "ones.npz", "-b", "python:eigh_oracle:identity_gradient"]
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count('"correct"') == 4 and "undefined" not in result.stdout


@pytest.mark.parametrize("c_w", [np.full(4, np.nan), np.array(np.inf)])
def test_a_non_finite_cotangent_of_any_shape_is_one_line(runner, tmp_path, c_w):
    """A vector or scalar C_w with NaN/Inf is named in one line, exit 2 (not an internal error)."""
    np.save(tmp_path / "a.npy", np.diag([1.0, 2.0, 3.0, 4.0]))
    np.savez(tmp_path / "c.npz", C_w=c_w, C_Q=np.eye(4))
    args = ["check", str(tmp_path / "a.npy"), "--decomposition", "eigh", "--loss", "wq"]
    result = runner.invoke(cli, [*args, "--cotangents", str(tmp_path / "c.npz"), "-b", "autograd"])
    assert result.exit_code == 2 and "C_w: " in result.stderr and "NaN/Inf" in result.stderr
    assert "internal error" not in result.output


def test_a_tiny_scale_is_no_internal_error_and_the_other_files_are_judged(runner, tmp_path):
    """gap^2 underflows at 2^-540 A: the conditioning is inf (no ZeroDivisionError), so that matrix
    cannot be decided, and the run goes on."""
    a = np.diag([1.0, 2.0, 4.0, 8.0])
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "tiny.npy", a * 2.0**-540)
    args = ["check", str(tmp_path / "a.npy"), str(tmp_path / "tiny.npy"), "--decomposition", "eigh"]
    result = runner.invoke(cli, [*args, "--loss", "wq", "-b", "autograd", "-f", "json"])
    assert "internal error" not in result.output
    verdicts = [r["backends"][0]["verdict"] for r in json.loads(result.stdout)["results"]]
    assert verdicts[0] == "correct" and verdicts[1] in ("correct", "indeterminate")
