"""Issue 20's reporting half against an independent 60-digit oracle (truth_oracle.py): errors that are
true or honest bounds, a finite-difference self-check that is sound, a reference that fails it
certifying nothing, and the tie rule at its exact boundary.

Matrices are built from exactly orthogonal dyadic factors (Hadamard H16 = kron(H2, H2, H2, H2) / 4 and a
signed permutation of it), so the stored float64 matrix is A itself and the oracle's eigendecomposition
of A A^T gives its true gradient. At a relative gap of 2^-40 that proj:8 separates, LAPACK's U turns by
about eps / gap = 1e-4 inside the pair: a backend that computes the same SVD and the same closed form
as the float64 reference matches it to every digit and is as far from the truth as the reference.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import truth_oracle as oracle

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.cli import cli
from svdgrad_cli.numerics import reference as reference_module
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.numerics.verification import verify_reference
from svdgrad_cli.pipeline.findings import near_duplicates

H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H16 = np.kron(np.kron(H2, H2), np.kron(H2, H2)) / 4  # exactly orthogonal: entries +-1/4
PERMUTATION = [3, 9, 0, 14, 7, 1, 12, 5, 10, 2, 15, 6, 8, 13, 4, 11]
SIGNED = np.eye(16)[PERMUTATION] * np.where(np.arange(16) % 3, 1, -1)
V16 = SIGNED @ H16
K = 8
GAP = 2.0**-40  # s_K - s_K+1, relative to s_1 = 2: about 4.5e-13


def near_tie() -> np.ndarray:
    """16x16, s = 2 - i/16 with s_9 = s_8 - 2^-40: every entry a sum of multiples of 2^-44 below 2,
    so A is exact in float64."""
    s = 2.0 - np.arange(16) / 16
    s[K] = s[K - 1] - GAP
    a = (H16 * s) @ V16.T
    assert np.array_equal((H16.T @ a @ V16).diagonal(), s)  # exact: the factors are A's own
    return a


def shared_rounding(stack: np.ndarray, loss) -> tuple[np.ndarray, np.ndarray]:
    """A backend that computes what the float64 reference computes: LAPACK's SVD, then Kato's
    first-order projector perturbation (written here, not svdgrad's formula):
    G = sum_{i <= K < j} Y_ij / (s_i^2 - s_j^2) (s_j u_i v_j^T + s_i u_j v_i^T), Y = U^T (C + C^T) U."""
    c = loss.arrays["C"]
    values, gradients = [], []
    for a in stack.astype(np.float64):
        u, s, vh = np.linalg.svd(a)
        y = u.T @ (c + c.T) @ u
        top, rest = slice(0, loss.order), slice(loss.order, None)
        scale = y[top, rest] / (s[top, None] ** 2 - s[None, rest] ** 2)
        g = u[:, top] @ (scale * s[None, rest]) @ vh[rest] + u[:, rest] @ (scale.T * s[None, top]) @ vh[top]
        values.append(s)
        gradients.append(g)
    return np.array(values), np.array(gradients)


@pytest.fixture
def shared():
    register_backend("shared-rounding", shared_rounding)
    yield "shared-rounding"
    unregister_backend("shared-rounding")


def _truth(a: np.ndarray, c: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """(||g - G||_F, ||G||_F) with G the oracle's 60-digit gradient of proj:K."""
    exact = oracle.gradient(a, f"proj:{K}", c)
    return oracle.distance(g, exact), oracle.frobenius(exact)


def test_the_kato_backend_is_the_true_gradient_where_rounding_cannot_reach():
    """The test backend's formula against the oracle at a wide gap (its errors are rounding only)."""
    a = (H16 * (2.0 - np.arange(16) / 16)) @ V16.T
    loss = parse_loss(f"proj:{K}").bind(a.shape, 0)
    g = shared_rounding(a[None], loss)[1][0]
    error, norm = _truth(a, loss.arrays["C"], g)
    assert error < 1e-13 * norm


@pytest.fixture
def lapack_factors(monkeypatch):
    """The float64 reference on LAPACK's factors, unrefined (as for complex input and exact ties)."""
    monkeypatch.setattr(reference_module, "refine_scaled", lambda a, svd: None)


def test_the_refined_reference_measures_the_true_error_itself(shared):
    """--reference float64: refined factors (refinement.py) share none of LAPACK's rounding, so the
    difference from them is the backend's true error, to 1e-6, without mpmath (here within two of
    the refined reference's own uncertainty, so shown as a bound, which holds)."""
    a = near_tie()
    result = check(a, loss=f"proj:{K}", backends=[shared], seed=0, reference="float64").results[0]
    b = result.backends[0]
    error, norm = _truth(a, result.loss_weights["C"], b.gradient)
    assert result.reference.refined
    assert np.linalg.norm(b.gradient - result.reference.gradient) == pytest.approx(error, rel=1e-6)
    assert error <= b.error and b.digits <= -np.log10(error / norm)


def test_a_backend_sharing_the_float64_references_rounding_gets_a_true_bound(shared, lapack_factors):
    """--reference float64 on LAPACK's factors: the backend matches the reference far more closely
    than either matches the truth, so the difference is no error: the report gives a bound that holds."""
    a = near_tie()
    result = check(a, loss=f"proj:{K}", backends=[shared], seed=0, reference="float64").results[0]
    b = result.backends[0]
    error, norm = _truth(a, result.loss_weights["C"], b.gradient)
    difference = np.linalg.norm(b.gradient - result.reference.gradient)
    assert error > 30 * difference  # the mechanism: shared rounding, not accuracy (measured: 61x)
    assert b.error_is_bound and b.verdict == "correct"
    assert error <= b.error  # the bound holds
    assert b.digits <= -np.log10(error / norm)  # and the digits claimed are at most the true ones
    # what the old report said (the difference as the error): 4.7 digits where 2.9 are true
    assert -np.log10(difference / norm) > -np.log10(error / norm) + 1.5


def test_the_mpmath_reference_measures_that_error_automatically(shared, lapack_factors):
    """By default the loose bound (the float64 reference resolves ~3 digits here) calls mpmath: the
    error reported is the backend's true error."""
    a = near_tie()
    result = check(a, loss=f"proj:{K}", backends=[shared], seed=0).results[0]
    b = result.backends[0]
    error, norm = _truth(a, result.loss_weights["C"], b.gradient)
    assert result.reference.precision.startswith("mpmath") and not b.error_is_bound
    assert b.error == pytest.approx(error, rel=1e-6)
    assert b.digits == pytest.approx(-np.log10(error / norm), abs=1e-4)


# --- the finite-difference self-check ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["polar", f"proj:{K}", "sum", "recon"])
def test_the_self_check_is_the_same_at_every_power_of_two(name):
    """The check runs on 2^-e A: pass, relative error and relative tolerance equal at 2^-200 A, A and
    2^200 A (the tolerance was 1e16 x ||G|| at 2^100 A for polar and proj, so it passed anything)."""
    base = (H16 * (2.0 - np.arange(16) / 16)) @ V16.T
    seen = []
    for e in (-200, 0, 200):
        a = np.ldexp(base, e)
        reference, *_ = build_reference(a, parse_loss(name).bind(a.shape, 0), 1e-14, seed=3)
        fd, norm = reference.finite_difference, reference.gradient_norm
        seen.append((fd["passed"], fd["max_error"] / norm, fd["tolerance"] / norm))
    assert all(s == seen[1] for s in seen), seen
    assert seen[1][0] and seen[1][2] < 1e-6


# An 8x8 with tiny values that float32's tolerance (8 * 2^-23 = 2^-20 of s_1) counts as zero, while
# the step of the one-sided check, sqrt(eps64) * s_1 = 2^-26, is smaller than all of them: the loss is
# differentiable along the step, with a gradient the set's minimum-norm member leaves out.
H8 = np.kron(np.kron(H2, H2), H2) / np.sqrt(8)
S_TINY = np.array([1.0, 0.5, 0.25, 0.125, 2.0**-21, 2.0**-22, 2.0**-23, 2.0**-24])
ZERO_TOL = 2.0**-20


def _tiny_values_case():
    rng = np.random.default_rng(8)
    v, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    a = (H8 * S_TINY) @ v.T
    u_exact, s_exact, vh_exact = (oracle.to_float(x) for x in oracle.mp.svd_r(oracle.to_mp(a)))
    return a, u_exact, s_exact.ravel(), vh_exact.T


@pytest.mark.parametrize("name", ["sum", "topk:6"])
def test_the_one_sided_check_passes_every_member_of_the_declared_set(name):
    """The oracle (60-digit SVD, exact clusters) says the reference is in the gradient set of the
    matrix with the tiny values zeroed, the set svdgrad declares; the check must then pass, for every
    seed of its directions (before the fix it failed here: it compared with L(A), which counts them)."""
    a, u, s, v = _tiny_values_case()
    loss = parse_loss(name)
    structured = np.where(s <= ZERO_TOL * s[0], 0.0, s)
    for seed in range(12):
        reference, *_ = build_reference(a, loss, ZERO_TOL, seed=seed)
        assert not reference.unique
        assert oracle.spectral_set_violation(reference.gradient, u, structured, v, loss.weights(8)) < 1e-12
        assert reference.finite_difference["passed"], (seed, reference.finite_difference)


@pytest.mark.parametrize("wrong", ["zero", "negated", "double", "larger"])
def test_the_one_sided_check_still_fails_what_is_not_in_the_set(wrong):
    """Gradients the oracle rejects are failed by the check: the fix does not make it vacuous (every
    one here moves <G, A> off L(A); a non-member that does not is seen only along the directions
    where it breaks the support inequality, as before the fix)."""
    a, u, s, v = _tiny_values_case()
    loss = parse_loss("sum")
    reference, *_ = build_reference(a, loss, ZERO_TOL, seed=0, check=False)
    g = {
        "zero": np.zeros_like(a),
        "negated": -reference.gradient,
        "double": 2 * reference.gradient,
        "larger": reference.gradient + 0.5 * np.outer(u[:, 0], v[:, 0]),
    }[wrong]
    structured = np.where(s <= ZERO_TOL * s[0], 0.0, s)
    assert oracle.spectral_set_violation(g, u, structured, v, loss.weights(8)) > 0.1
    spectrum = analyse_spectrum(s, a.shape, ZERO_TOL)
    checked = verify_reference(replace(reference, gradient=g, gradient_norm=None), a, loss, spectrum, 0)
    assert checked.failed_check


# --- a reference that fails its own check ---------------------------------------------------------------


def exact_spectral(stack: np.ndarray, loss) -> tuple[np.ndarray, np.ndarray]:
    """A backend returning the minimum-norm member U diag(w averaged) V^T from NumPy's SVD."""
    values, gradients = [], []
    for a in stack.astype(np.float64):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        values.append(s)
        gradients.append((u * loss.weights(len(s))) @ vh)
    return np.array(values), np.array(gradients)


@pytest.fixture
def broken_float64(monkeypatch):
    """The float64 reference's closed form made wrong by 10% (mpmath's is left alone)."""
    real = reference_module.spectral_gradient
    monkeypatch.setattr(reference_module, "spectral_gradient", lambda u, v, w: 1.1 * real(u, v, w))
    register_backend("exact-spectral", exact_spectral)
    yield "exact-spectral"
    unregister_backend("exact-spectral")


def test_a_reference_failing_its_check_is_replaced_by_mpmath_where_that_passes(broken_float64):
    a = (H8 * np.array([4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.75, 0.5])) @ H8.T[::-1]
    result = check(a, loss="sv:2", backends=[broken_float64], seed=0).results[0]
    assert result.reference.precision.startswith("mpmath")
    assert "float64 reference failed this check" in result.reference.method
    assert not result.reference.failed_check and result.backends[0].verdict == "correct"
    exact = oracle.gradient(a, "sv:2")
    assert oracle.distance(result.reference.gradient, exact) < 1e-14


def test_a_reference_failing_its_check_certifies_nothing(broken_float64, runner, tmp_path):
    """A gradient set (no mpmath reference for it): every backend is indeterminate, with the reason,
    in the table and in JSON; svdgrad could not check the matrix, so the run exits 2, not 0."""
    a = (H8 * np.array([4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.0, 0.0])) @ H8.T[::-1]  # rank 6: a set
    result = check(a, loss="sum", backends=[broken_float64], seed=0).results[0]
    assert result.verdict == "indeterminate" and result.reference.failed_check
    assert all(b.verdict == "indeterminate" and "failed its own" in b.message for b in result.backends)
    assert "certifies nothing" in result.explanation
    assert any(w.code == "reference-check" for w in result.warnings)
    np.save(tmp_path / "a.npy", a)
    args = ["check", str(tmp_path / "a.npy"), "--loss", "sum", "--backend", broken_float64, "--seed", "0"]
    shown = runner.invoke(cli, args, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert shown.exit_code == 2 and "indeterminate" in shown.output and "certifies nothing" in shown.output
    assert (
        runner.invoke(cli, [*args, "--fail-only-on", "never"]).exit_code == 2
    )  # a tool error, not a finding
    as_json = runner.invoke(cli, [*args, "-f", "json"])
    record = json.loads(as_json.stdout)["results"][0]
    assert as_json.exit_code == 2
    assert record["verdict"] == "indeterminate"
    assert "failed its own" in record["backends"][broken_float64]["message"]


@pytest.mark.parametrize(("gap", "tied"), [(0.25, True), (0.25 + 2.0**-50, False)])
def test_the_tie_rule_includes_its_boundary(gap, tied):
    """README: neighbours at most zero_tol * s_1 apart are tied. Dyadic values, so the gap is exact:
    s_1 = 1, zero_tol = 1/4; a value at exactly zero_tol * s_1 is zero."""
    values = np.array([1.0, 1.0 - gap, 0.25])
    spectrum = analyse_spectrum(values, (3, 3), 0.25)
    assert (spectrum.clusters == ((0, 1),)) is tied
    assert spectrum.zeros == (2,)
    findings = near_duplicates(spectrum, parse_loss("sv:1"), 0.25)
    assert bool(findings) is tied  # the near-duplicate rule has the same boundary


@pytest.mark.parametrize(
    ("fmt", "marks"),
    [
        ("table", ["<=", ">=", "<= error, >= digits: the difference"]),
        ("json", ['"error_is_bound": true']),
        ("markdown", ["\\<=", "within that reference's own error"]),
        ("html", ["&lt;=", "&gt;=", "within that reference&#x27;s own error"]),
    ],
)
def test_a_bound_says_so_in_every_format(shared, runner, tmp_path, fmt, marks):
    """--reference float64 at the near tie: the bound is printed as one, with the reason."""
    np.save(tmp_path / "a.npy", near_tie())
    args = ["check", str(tmp_path / "a.npy"), "--loss", f"proj:{K}", "--backend", shared, "--seed", "0"]
    result = runner.invoke(cli, [*args, "--reference", "float64", "-f", fmt], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    for mark in marks:
        assert mark in result.stdout, (mark, result.stdout[-2000:])
    if fmt == "table":
        assert all(len(line) <= 80 for line in result.stdout.splitlines())
