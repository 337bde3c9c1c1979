"""Budgets from the conditioning of the true gradient (issue 9): the reproducers, the three outcomes,
indeterminate float32, the reference's own uncertainty, forward-SVD checks and --cotangents.

Matrices are built from exactly orthogonal dyadic factors, so their singular values are known exactly.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import truth_oracle as oracle
from helpers import with_singular_values

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.budget import UNDETERMINED
from svdgrad_cli.numerics.conditioning import spectral_hessian_norm
from svdgrad_cli.numerics.dilation import polar_hessian, projector_hessian
from svdgrad_cli.numerics.forward import check_forward
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.numerics.svd import thin_svd

H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H4 = np.kron(H2, H2) / 2
V4 = (np.eye(4)[[2, 0, 3, 1]] * np.array([1.0, -1.0, 1.0, 1.0])) @ H4
FRAMEWORKS = ["autograd", "tensorflow", "torch", "jax"]


def exact(values) -> np.ndarray:
    """H4 diag(values) V4^T: singular values exactly ``values`` (every product is exact in binary)."""
    return H4 @ np.diag(values) @ V4.T


def judged(a, loss, backends=FRAMEWORKS, **options):
    result = check(a, loss=loss, backends=backends, **options).results[0]
    return result, {b.name: b for b in result.backends}


class Fixed:
    """A registered backend returning ``gradient_of(a)`` for every matrix (and the true values)."""

    def __init__(self, name: str, gradient_of):
        self.name, self.gradient_of = name, gradient_of

    def __enter__(self):
        def compute(stack, loss):
            values = np.linalg.svd(stack.astype(np.float64), compute_uv=False).astype(stack.dtype)
            return values, np.stack([self.gradient_of(a) for a in stack]).astype(stack.dtype)

        register_backend(self.name, compute)
        return self.name

    def __exit__(self, *exc):
        unregister_backend(self.name)


def test_reproducer_1_polar_at_a_near_tie_is_wrong_for_every_framework():
    """The true polar gradient has no 1/gap term; the frameworks' rules divide rounding by 2^-46."""
    result, by_name = judged(exact([2, 1 + 2**-46, 1, 0.5]), "polar")
    gradient_norm = result.reference.gradient_norm
    for name in FRAMEWORKS:
        assert by_name[name].verdict == "wrong"
        assert by_name[name].error / gradient_norm > 1e-3  # far beyond sqrt(eps) = 1.5e-8
    assert result.reference.condition < 10  # perfectly conditioned
    assert result.verdict == "wrong"
    assert "frameworks' reverse-mode rules have 1/(s_i - s_j) terms" in result.explanation


@pytest.mark.parametrize("loss", ["polar", "recon", "proj:2", "sum", "sv:1"])
def test_reproducer_2_the_relative_budget_does_not_depend_on_scale(loss):
    a = exact([2, 1.5, 1, 0.5])
    relative = []
    for k in (-100, -60, 0, 60, 100):
        result, by_name = judged(np.ldexp(a, k), loss, ["autograd"])
        relative.append(by_name["autograd"].budget / result.reference.gradient_norm)
    np.testing.assert_allclose(relative, relative[0], rtol=1e-12)


def test_reproducer_3_an_ill_conditioned_projector_is_judged_by_its_true_sensitivity():
    """proj:2 across a gap of 2^-40: the gradient grows like 1/gap and moves like 1/gap^2."""
    _, by_name = judged(exact([2, 1 + 2**-40, 1, 0.5]), "proj:2")
    assert by_name["tensorflow"].verdict == "wrong"  # its safe reciprocal drops the whole 1/gap term
    for name in ("autograd", "torch", "jax"):
        assert by_name[name].verdict == "correct"
    assert 1 < by_name["torch"].justified_digits < 4  # the data justify only a few digits here


def test_reproducer_4_a_zero_gradient_is_never_correct_and_noise_is_caught_in_float32():
    rng = np.random.default_rng(12345)
    with Fixed("zeros", np.zeros_like) as zeros:
        for loss, shape in (("polar", (64, 256)), ("recon", (64, 256)), ("proj:4", (96, 96))):
            a = (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(np.float32)
            _, by_name = judged(a, loss, [zeros])
            assert by_name[zeros].verdict == "wrong", loss

    a = rng.standard_normal((256, 256)).astype(np.float32)

    def noisy(x):
        u, _, vt = np.linalg.svd(x.astype(np.float64))
        g = u @ vt
        noise = rng.standard_normal(g.shape)
        return g + 0.02 * np.linalg.norm(g) * noise / np.linalg.norm(noise)

    with Fixed("noisy", noisy) as name:
        _, by_name = judged(a, "sum", [name])
    assert by_name[name].verdict == "wrong"


def test_three_outcomes_by_relative_error():
    """Beyond the budget but within sqrt(eps) is inaccurate; beyond both is wrong (float64)."""
    a = with_singular_values([3.0, 2.0, 1.0, 0.5], (4, 4), seed=1)
    loss = parse_loss("polar").bind(a.shape, 0)
    truth = build_reference(a, loss, 1e-12)[0].gradient
    direction = np.random.default_rng(0).standard_normal(a.shape)
    direction *= np.linalg.norm(truth) / np.linalg.norm(direction)
    with (
        Fixed("off-1e-10", lambda x: truth + 1e-10 * direction),
        Fixed("off-1e-5", lambda x: truth + 1e-5 * direction),
    ):
        _, by_name = judged(a, "polar", ["off-1e-10", "off-1e-5"], seed=0)
    assert by_name["off-1e-10"].verdict == "inaccurate"
    assert by_name["off-1e-10"].digits == pytest.approx(10, abs=0.2)
    assert by_name["off-1e-5"].verdict == "wrong"


def test_indeterminate_where_float32_cannot_resolve_the_gradient():
    """sv:2 at a relative gap of 2^-16 in float32: eps / gap is far over a tenth."""
    a = exact([2, 1 + 2**-16, 1, 0.5]).astype(np.float32)
    result, by_name = judged(a, "sv:2", ["autograd", "tensorflow"])
    assert {b.verdict for b in by_name.values()} <= {"indeterminate", "wrong"}
    assert by_name["autograd"].verdict == "indeterminate"
    assert result.verdict in ("indeterminate", "wrong")
    assert by_name["autograd"].budget >= UNDETERMINED * result.reference.gradient_norm
    with Fixed("zeros", np.zeros_like) as zeros:
        _, zero = judged(a, "sv:2", [zeros])
    assert zero[zeros].verdict != "correct"
    _, by_name64 = judged(a.astype(np.float64), "sv:2", ["autograd"])
    assert by_name64["autograd"].verdict == "correct"  # float64 does determine it


@pytest.mark.parametrize(
    ("dtype", "gap", "advice"),
    [
        (np.float32, 2**-16, "compute in float64 (--dtype float64)"),
        (np.complex64, 2**-16, "compute in complex128 (--dtype complex128)"),
        (np.float64, 2**-46, "no framework computes in more than float64"),
        (np.complex128, 2**-46, "no framework computes in more than complex128"),
    ],
)
def test_the_advice_where_the_data_do_not_determine_the_gradient_names_a_wider_dtype_or_none(
    dtype, gap, advice
):
    """sv:2 at a relative gap far below eps / 0.1 of the dtype, above its tie tolerance."""
    a = exact([2, 1 + gap, 1, 0.5]).astype(dtype)
    result, by_name = judged(a, "sv:2", ["autograd"])
    assert by_name["autograd"].verdict == "indeterminate"
    assert advice in result.explanation
    assert any(advice in finding.message for finding in result.warnings)


def test_an_error_within_the_references_own_uncertainty_asks_mpmath():
    a = exact([2, 1 + 2**-30, 1, 0.5])
    loss = parse_loss("proj:2").bind(a.shape, 0)
    reference = build_reference(a, loss, 1e-15)[0]
    # the budget against the refined float64 reference (against mpmath it leaves out that room)
    budget = check(a, loss="proj:2", backends=["autograd"], reference="float64").results[0].backends[0].budget
    direction = np.random.default_rng(0).standard_normal(a.shape)
    direction /= np.linalg.norm(direction)
    with Fixed("edge", lambda x: reference.gradient + budget * direction) as name:
        auto = check(a, loss="proj:2", backends=[name]).results[0]
        never = check(a, loss="proj:2", backends=[name], reference="float64").results[0]
    assert auto.reference.precision.startswith("mpmath")
    # judged against the exact gradient, which the refined float64 reference matched to 1e-6
    assert auto.backends[0].error == pytest.approx(budget, rel=1e-6)
    assert auto.backends[0].verdict in ("correct", "wrong")  # here the budget exceeds sqrt(eps)
    assert never.reference.precision == "float64 (refined)"
    assert never.backends[0].verdict == "correct"  # the benefit of the doubt, said so
    assert "reference's own error" in never.backends[0].message


def test_reference_high_uses_mpmath_and_agrees_with_float64_where_well_conditioned():
    a = with_singular_values([3.0, 2.0, 1.0], (4, 3), seed=4)
    low = check(a, loss="polar", backends=["autograd"]).results[0].reference
    high = check(a, loss="polar", backends=["autograd"], reference="high").results[0].reference
    assert high.precision.startswith("mpmath")
    np.testing.assert_allclose(high.gradient, low.gradient, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("loss", ["polar", "proj:2"])
def test_hessian_norm_is_the_operator_norm_of_the_exact_hessian(shape, loss):
    """Power iteration on the dilation's Hessian-vector products against the full Hessian matrix,
    itself from central differences of the closed-form gradient."""
    a = np.random.default_rng(2).standard_normal(shape)
    bound = parse_loss(loss).bind(shape, 3)
    u, s, v = thin_svd(a)
    if loss == "polar":
        hessian = polar_hessian(u, s, v, bound.arrays["C"], np.zeros(len(s), dtype=bool))
    else:
        hessian = projector_hessian(u, s, v, bound.arrays["C"], 2)
    m, n = shape
    h = 1e-6
    columns = []
    for p in range(m * n):
        e = np.zeros(m * n)
        e[p] = h
        e = e.reshape(shape)
        plus = build_reference(a + e, bound, 1e-15, check=False)[0].gradient
        minus = build_reference(a - e, bound, 1e-15, check=False)[0].gradient
        columns.append(((plus - minus) / (2 * h)).ravel())
    exact_norm = np.linalg.norm(np.array(columns), 2)
    assert hessian.norm(np.random.default_rng(0)) == pytest.approx(exact_norm, rel=0.3)
    assert hessian.norm(np.random.default_rng(0)) <= exact_norm * 1.001


def test_spectral_hessian_norm_is_the_largest_divided_difference():
    s = np.array([3.0, 2.0, 0.5])
    spectrum = analyse_spectrum(s, (4, 3), 1e-12)
    w = np.array([1.0, 0.0, 0.0])  # sv:1: (w1 - w2) / (s1 - s2) = 1, (w1 + w_j) / (s1 + s_j), w1 / s1
    assert spectral_hessian_norm(s, w, spectrum) == pytest.approx(1 / (3 - 2))
    w = np.ones(3)  # sum: 2 / (s_i + s_j) and 1 / s_i for the rectangular rest
    assert spectral_hessian_norm(s, w, spectrum) == pytest.approx(1 / 0.5)


def test_a_forward_svd_far_from_orthogonal_is_found_and_blamed():
    a = with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=2)
    u, s, v = thin_svd(a)
    honest = check_forward(a, s, s, u, v, 2.2e-16)
    assert honest.accurate
    skewed = u @ np.array([[1, 1e-9, 0], [0, 1, 0], [0, 0, 1]])
    bad = check_forward(a, s, s, skewed, v, 2.2e-16)
    assert not bad.accurate and bad.orthogonality == pytest.approx(np.sqrt(2) * 1e-9, rel=1e-3)
    assert bad.explains(1e-9, 3.0, 1.0, 1.0) and not bad.explains(1.0, 3.0, 1.0, 1.0)


def test_cotangents_from_a_file_are_used(runner, tmp_path):
    a = with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=6)
    np.save(tmp_path / "a.npy", a)
    c = np.arange(9.0).reshape(3, 3)
    np.savez(tmp_path / "c.npz", C=c)
    arguments = ["--loss", "polar", "-b", "autograd", "--cotangents", str(tmp_path / "c.npz")]
    result = runner.invoke(
        cli, ["check", str(tmp_path / "a.npy"), *arguments, "-f", "json", "--include-arrays"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    np.testing.assert_array_equal(doc["results"][0]["loss_weights"]["C"], c)
    assert doc["settings"]["cotangents"] == str(tmp_path / "c.npz")


def test_cotangents_of_the_wrong_shape_or_name_are_errors(runner, tmp_path):
    np.save(tmp_path / "a.npy", np.eye(3))
    np.savez(tmp_path / "small.npz", C=np.ones((2, 2)))
    np.savez(tmp_path / "named.npz", D=np.ones((3, 3)))
    wrong_shape = runner.invoke(
        cli,
        ["check", str(tmp_path / "a.npy"), "--loss", "polar", "--cotangents", str(tmp_path / "small.npz")],
    )
    assert wrong_shape.exit_code == 2
    assert "cotangent C has shape (2, 2); loss polar on a 3x3 matrix needs (3, 3)" in wrong_shape.stderr
    wrong_name = runner.invoke(
        cli,
        ["check", str(tmp_path / "a.npy"), "--loss", "polar", "--cotangents", str(tmp_path / "named.npz")],
    )
    assert wrong_name.exit_code == 2
    assert "is not a weight of this loss; expected C" in wrong_name.stderr


@pytest.mark.parametrize("loss", ["sv:1", "topk:2", "proj:2"])
def test_a_thousandth_injected_on_a_dense_float32_spectrum_is_caught_and_the_frameworks_stay_correct(loss):
    """Issue 20: 128x128, s = linspace(2, 1, 128) between random orthogonal factors, float32. The
    injected gradient is the oracle's (truth_oracle.py's closed forms from numpy's symmetric eigensolver,
    no SVD) plus a random error of relative size 1e-3: not correct (``wrong``: 1e-3 > sqrt(eps)), while
    torch's own result (honest float32 rounding: within 1e-4 of the oracle) stays correct."""
    a = with_singular_values(np.linspace(2.0, 1.0, 128), (128, 128), seed=128).astype(np.float32)
    injected: dict = {}

    def compute(stack, loss_):
        rng = np.random.default_rng(1)
        c = getattr(loss_, "arrays", {}).get("C")
        exact_gradient = oracle.gradient_float64(stack[0], loss_.name, c)
        noise = rng.standard_normal(exact_gradient.shape)
        injected["exact"] = exact_gradient
        wrong = exact_gradient + 1e-3 * np.linalg.norm(exact_gradient) * noise / np.linalg.norm(noise)
        values = np.linalg.svd(stack.astype(np.float64), compute_uv=False)
        return values.astype(stack.dtype), wrong[None].astype(stack.dtype)

    register_backend("injected-thousandth", compute)
    try:
        _, by_name = judged(a, loss, backends=["torch", "injected-thousandth"])
    finally:
        unregister_backend("injected-thousandth")
    norm = np.linalg.norm(injected["exact"])
    honest = np.linalg.norm(by_name["torch"].gradient.astype(np.float64) - injected["exact"]) / norm
    assert honest < 1e-4
    assert by_name["torch"].verdict == "correct", by_name["torch"].budget / norm
    assert by_name["injected-thousandth"].verdict == "wrong", by_name["injected-thousandth"].budget / norm
