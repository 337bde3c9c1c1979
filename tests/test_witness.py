"""The rounding witness and the single-precision budget it sets (issue 20).

Every truth here is independent of svdgrad: matrices with exactly known spectra between exactly
orthogonal dyadic (Hadamard) factors, whose gradients are dyadic closed forms, or truth_oracle.py's
gradients from numpy's symmetric eigensolver (no SVD).
"""

from __future__ import annotations

import complex_oracle
import numpy as np
import pytest
import truth_oracle as oracle
from helpers import with_singular_values

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.numerics.svd import stack_svd
from svdgrad_cli.numerics.witness import rounding_witness, typical_sensitivity

FRAMEWORKS = ["autograd", "tensorflow", "torch", "jax"]
EPS32 = float(np.finfo(np.float32).eps)


def hadamard(n: int) -> np.ndarray:
    """The n x n Hadamard matrix divided by sqrt(n): exactly orthogonal and dyadic for n = 4^k."""
    h = np.ones((1, 1))
    while len(h) < n:
        h = np.block([[h, h], [h, -h]])
    return h / np.sqrt(n)


def dyadic(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A = H diag(values) P H^T, with P a signed permutation: exact in float32 for dyadic values;
    returns A, U = H and V = H P^T (columns: the exact singular vectors)."""
    n = len(values)
    h = hadamard(n)
    p = np.eye(n)[np.roll(np.arange(n), 3)] * np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
    v = h @ p.T
    return (h * values) @ v.T, h, v


def test_the_witness_of_sv1_is_within_wedins_bound_and_not_zero():
    """16x16, s_i = 2 - i/16 (gap 1/16), float32: the top pair of a backward-stable SVD moves by at
    most sqrt(2) ||E||_2 / gap each (Wedin 1972) with ||E||_2 <= 16 n eps ||A||_2 (a generous p(n));
    G = u_1 v_1^T is known exactly. A float32 SVD does not hit it exactly."""
    values = 2.0 - np.arange(16) / 16
    a, u, v = dyadic(values)
    assert np.array_equal(a.astype(np.float32).astype(np.float64), a)  # exact in float32
    loss = parse_loss("sv:1")
    truth = np.outer(u[:, 0], v[:, 0])
    spectrum = analyse_spectrum(values, a.shape, 16 * 2.0**-52)
    witness = rounding_witness(a.astype(np.float32), loss, truth, spectrum, np.float32)
    bound = 2 * np.sqrt(2) * (16 * 16 * EPS32 * 2.0) / (1 / 16)
    assert EPS32 / 100 < witness < bound


@pytest.mark.parametrize("loss", ["sum", "proj:2", "polar"])
def test_the_witness_scales_exactly_with_the_matrix(loss):
    """2^k A has exactly 2^(k d) times the witness of A (d the gradient's degree)."""
    a = with_singular_values([3.0, 2.0, 1.5, 1.0, 0.5], (7, 5), seed=5).astype(np.float32)
    bound = parse_loss(loss).bind(a.shape, 0)
    truth = oracle.gradient_float64(a, bound.name, getattr(bound, "arrays", {}).get("C"))
    spectrum = analyse_spectrum(np.linalg.svd(a.astype(np.float64), compute_uv=False), a.shape, 1e-12)
    base = rounding_witness(a, bound, truth, spectrum, np.float32)
    degree = bound.gradient_degree
    for k in (-40, 30):
        scaled = np.ldexp(a, k)
        values = np.ldexp(spectrum.values, k)
        witness = rounding_witness(
            scaled, bound, np.ldexp(truth, k * degree), analyse_spectrum(values, a.shape, 1e-12), np.float32
        )
        assert witness == np.ldexp(base, k * degree)


def injected_run(a: np.ndarray, loss: str, size_of):
    """check() with the four frameworks and a backend returning the oracle's gradient plus a random
    error of Frobenius size size_of(frameworks' largest error against the oracle)."""
    bound = parse_loss(loss).bind(a.shape, 0)
    truth = oracle.gradient_float64(a, bound.name, getattr(bound, "arrays", {}).get("C"))
    honest = check(a, loss=loss, backends=FRAMEWORKS).results[0]
    largest = max(np.linalg.norm(b.gradient.astype(np.float64) - truth) for b in honest.backends)
    noise = np.random.default_rng(3).standard_normal(a.shape)

    def compute(stack, loss_):
        values = np.linalg.svd(stack.astype(np.float64), compute_uv=False).astype(stack.dtype)
        wrong = truth + size_of(largest) * noise / np.linalg.norm(noise)
        return values, wrong[None].astype(stack.dtype)

    register_backend("injected-tenfold", compute)
    try:
        injected = check(a, loss=loss, backends=["injected-tenfold"]).results[0].backends[0]
    finally:
        unregister_backend("injected-tenfold")
    return honest, injected


CASES = [  # the worst-direction budget (8 units) called 10x the worst framework correct on the last two
    ("dense 64", lambda: with_singular_values(np.linspace(2.0, 1.0, 64), (64, 64), seed=64), "sv:1"),
    ("power 32", lambda: with_singular_values(1.0 / np.arange(1, 33), (32, 32), seed=32), "proj:1"),
    ("power 64", lambda: with_singular_values(1.0 / np.arange(1, 65), (64, 64), seed=64), "topk:2"),
]


@pytest.mark.parametrize(("name", "make", "loss"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_ten_times_the_worst_framework_is_not_correct_and_the_frameworks_are(name, make, loss):
    """Issue 20's acceptance on float32 matrices like real weights: every framework within the
    budget (correct), and an error ten times the largest of theirs (measured against the oracle) not."""
    a = make().astype(np.float32)
    honest, injected = injected_run(a, loss, lambda largest: 10 * largest)
    for backend in honest.backends:
        assert backend.verdict == "correct", (backend.name, backend.error, backend.budget)
    assert injected.verdict != "correct", (injected.error, injected.budget)


def _typical_by_oracle(a: np.ndarray, loss: str, c) -> float:
    """sqrt(max(m, n)) ||A||_F ||DG||_F / sqrt(mn), with ||DG||_F^2 the sum over every unit direction
    e_ij of ||DG[e_ij]||_F^2, each by a 1e-20 forward difference of truth_oracle.py's 60-digit closed
    form (no SVD, no Hessian formula)."""
    m, n = a.shape
    base = oracle.gradient(a, loss, c)
    step = oracle.mp.mpf("1e-20")
    squares = 0.0
    for i in range(m):
        for j in range(n):
            moved = oracle.to_mp(a)
            moved[i, j] += step
            squares += oracle.frobenius((oracle.gradient(moved, loss, c) - base) / step) ** 2
    return float(np.sqrt(max(m, n)) * np.linalg.norm(a) * np.sqrt(squares / (m * n)))


@pytest.mark.parametrize("loss", ["sum", "sv:1", "polar", "proj:2", "recon"])
def test_the_typical_sensitivity_is_the_oracles_root_mean_square_move(loss):
    """typical_sensitivity against ||DG||_F from the oracle's derivatives along every unit direction
    (6x4: every direction is used by the code too, so the two agree to the difference's accuracy),
    and exactly 2^(k d) times itself for 2^k A."""
    a = with_singular_values([3.0, 2.0, 1.5, 1.0], (6, 4), seed=7)
    bound = parse_loss(loss).bind(a.shape, 0)
    c = getattr(bound, "arrays", {}).get("C")
    svd = stack_svd(a[None])[0]
    spectrum = analyse_spectrum(svd.values, a.shape, 1e-12)
    found = typical_sensitivity(bound, svd, spectrum, 0)
    assert found == pytest.approx(_typical_by_oracle(a, bound.name, c), rel=1e-6)
    for k in (-40, 30):
        scaled = stack_svd(np.ldexp(a, k)[None])[0]
        moved = analyse_spectrum(scaled.values, a.shape, 1e-12)
        assert typical_sensitivity(bound, scaled, moved, 0) == np.ldexp(found, k * bound.gradient_degree)


def test_complex64_ten_times_the_worst_framework_is_not_correct_and_the_frameworks_are():
    """The same acceptance in complex64, against complex_oracle.py's 60-digit central differences:
    6x6, s evenly spaced over [1, 2] between Haar unitary factors, sv:1."""
    rng = np.random.default_rng(66)
    q1, _ = np.linalg.qr(rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6)))
    q2, _ = np.linalg.qr(rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6)))
    a = ((q1 * np.linspace(2.0, 1.0, 6)) @ q2.conj().T).astype(np.complex64)
    truth = complex_oracle.gradient(a.astype(np.complex128), "sv:1")
    honest = check(a, loss="sv:1", backends=FRAMEWORKS).results[0]
    largest = max(np.linalg.norm(b.gradient.astype(np.complex128) - truth) for b in honest.backends)
    for backend in honest.backends:
        assert backend.verdict == "correct", (backend.name, backend.error, backend.budget)
    noise = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
    wrong = truth + 10 * largest * noise / np.linalg.norm(noise)

    def compute(stack, loss_):
        values = np.linalg.svd(stack.astype(np.complex128), compute_uv=False).astype(np.float32)
        return values, wrong[None].astype(stack.dtype)

    register_backend("injected-tenfold-complex", compute)
    try:
        injected = check(a, loss="sv:1", backends=["injected-tenfold-complex"]).results[0].backends[0]
    finally:
        unregister_backend("injected-tenfold-complex")
    assert injected.verdict != "correct", (injected.error, injected.budget)
