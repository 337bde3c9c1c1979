"""Verdicts of ``--decomposition eigh`` (pipeline/eigh_check.py) against the independent oracle
(eigh_oracle.py): answers whose distance from the mathematics is known are judged as that distance
says, the frameworks' answers are judged as the oracle says they should be, and losses with no
gradient are ``undefined``."""

from __future__ import annotations

import importlib.util

import mpmath
import numpy as np
import pytest
from eigh_oracle import hermitian, matrix_function_gradient, selection_gradient, spectral_gradient, symmetric

from svdgrad_cli.backends.eigh_backends import EIGH_BACKENDS, EighBackend, EighFunctionBackend
from svdgrad_cli.errors import InputError
from svdgrad_cli.numerics.budget import make_budget
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.numerics.eigh_reference import eigh_reference
from svdgrad_cli.pipeline.eigh_check import FLOAT32_NOTE, check_matrix
from svdgrad_cli.verdicts import BackendVerdict as V

TIED = [0.5, 2.0, 2.0, 4.0]
INSTALLED = [name for name in EIGH_BACKENDS if importlib.util.find_spec(name) is not None]


def answering(gradient: np.ndarray, name: str = "fixed") -> EighFunctionBackend:
    """A python: plug-in that returns ``gradient`` for every matrix."""
    return EighFunctionBackend(name, lambda stack, loss: (np.zeros(stack.shape[:2]), gradient[None]))


def verdict_of(a, spec, gradient, dtype=np.float64):
    loss = parse_eigh_loss(spec).bind(a.shape[0], 0)
    report = check_matrix(a.astype(dtype), "A", loss, [answering(gradient)])
    return report.results[0]


def test_answers_at_known_distances_from_the_oracle_are_judged_by_that_distance():
    a, q = symmetric(TIED, seed=1)
    oracle = spectral_gradient(q, TIED, lambda x: 1 / x)  # logdet, unique at the tie
    assert verdict_of(a, "logdet", oracle).verdict is V.CORRECT
    assert verdict_of(a, "logdet", oracle + 1e-3 * np.eye(4)).verdict is V.WRONG
    assert verdict_of(a, "logdet", oracle + 1e-10 * np.eye(4)).verdict is V.INACCURATE
    nan = oracle.copy()
    nan[0, 1] = np.nan
    assert verdict_of(a, "logdet", nan).verdict is V.NON_FINITE


def test_a_lower_triangle_gradient_is_judged_by_its_symmetric_part():
    a, q = symmetric(TIED, seed=1)
    oracle = spectral_gradient(q, TIED, lambda x: 1 / x)
    lower = np.tril(2 * oracle, -1) + np.diag(np.diag(oracle))  # what a one-triangle reader returns
    result = verdict_of(a, "logdet", lower)
    assert result.verdict is V.CORRECT and result.asymmetry > 0.1


def test_members_of_the_subdifferential_at_a_tie_across_the_edge_are_valid():
    a, q = symmetric(TIED, seed=6)
    member = selection_gradient(q, [3]) + np.outer(q[:, 1], q[:, 1])  # an extreme point of topk:2's set
    assert verdict_of(a, "topk:2", member).verdict is V.VALID
    assert verdict_of(a, "topk:2", selection_gradient(q, [1, 2, 3])).verdict is V.WRONG  # trace 3, not 2


@pytest.mark.parametrize("spec", ["proj:2", "vec", "eig:3"])
def test_losses_through_tied_eigenvectors_are_undefined_whatever_a_backend_returns(spec):
    a, _ = symmetric(TIED, seed=1)
    assert verdict_of(a, spec, np.eye(4)).verdict is V.UNDEFINED
    assert verdict_of(a, spec, np.full((4, 4), np.nan)).verdict is V.NON_FINITE


def test_float32_cannot_decide_a_projector_across_a_gap_of_one_ulp_of_float32():
    lam = [1.0, 1.0 + 2.0**-22, 2.0, 4.0]  # a gap float64 resolves and float32 does not
    a, q = symmetric(lam, seed=2)
    loss = parse_eigh_loss("proj:1").bind(4, 0)
    step = lambda x: mpmath.mpf(1) if x < 1.0000001 else mpmath.mpf(0)  # noqa: E731
    oracle = matrix_function_gradient(q, lam, loss.arrays["C"], step, lambda x: mpmath.mpf(0))
    result = check_matrix(a.astype(np.float32), "A", loss, [answering(oracle)]).results[0]
    assert result.verdict is V.INDETERMINATE and result.message == FLOAT32_NOTE
    assert check_matrix(a, "A", loss, [answering(oracle)]).results[0].verdict is V.CORRECT


def test_asymmetric_input_is_refused_with_its_asymmetry_or_symmetrized():
    a = np.array([[1.0, 2.0], [2.5, 3.0]])
    with pytest.raises(InputError, match=r"not symmetric: \|\|A - A\^T\|\|_F / \|\|A\|\|_F = 0\.1"):
        check_matrix(a, "A", parse_eigh_loss("eigsum"), [answering(np.eye(2))])
    report = check_matrix(a, "A", parse_eigh_loss("eigsum"), [answering(np.eye(2))], symmetrize=True)
    assert report.results[0].verdict is V.CORRECT and report.symmetrized > 0.1


def _truth(gradient: np.ndarray, oracle: np.ndarray, a: np.ndarray, spec: str) -> set[V]:
    """The verdicts the mathematics allows for a gradient, from its distance to the oracle."""
    if not np.all(np.isfinite(gradient)):
        return {V.NON_FINITE}
    loss = parse_eigh_loss(spec).bind(4, 0, np.iscomplexobj(a))
    budget = make_budget(eigh_reference(a, loss), a.shape, a.dtype)
    error = np.linalg.norm((gradient + gradient.conj().T) / 2 - oracle)
    if error <= 0.5 * budget.allowed:
        return {V.CORRECT}
    return {V.CORRECT, V.INACCURATE} if error <= 2 * budget.allowed else {V.INACCURATE, V.WRONG}


@pytest.mark.parametrize("name", INSTALLED)
@pytest.mark.parametrize("spec", ["entropy", "logdet", "eigsum", "expm"])
def test_frameworks_at_an_exact_tie_are_judged_as_the_oracle_says(name, spec):
    """tr f(A) and <C, exp(A)> at a double eigenvalue: correct for a framework whose answer is the
    divided-difference one, non-finite or wrong otherwise (which one each framework is, is not
    asserted: rounding at exact ties differs by version)."""
    a, q = symmetric(TIED, seed=1)
    loss = parse_eigh_loss(spec).bind(4, 0)
    backend = EighBackend(name, name)
    gradient = backend.compute(a[None], loss)[1][0]
    derivatives = {"entropy": lambda x: -(mpmath.log(x) + 1), "logdet": lambda x: 1 / x}
    if spec == "expm":
        oracle = matrix_function_gradient(q, TIED, loss.arrays["C"], mpmath.exp, mpmath.exp)
    else:
        oracle = spectral_gradient(q, TIED, derivatives.get(spec, lambda x: mpmath.mpf(1)))
    verdict = check_matrix(a, "A", loss, [backend]).results[0].verdict
    assert verdict in _truth(gradient, oracle, a, spec)


def test_jax_10527_matrix_reproduces_the_disagreement_and_says_which_answer_is_right():
    """A = x x^T, x = (1, 2, 3): eigenvalues (0, 0, 14). The issue's loss reads the eigenvectors of
    the double eigenvalue 0, so it has no derivative: JAX's JVP and finite differences disagree by
    orders of magnitude, and svdgrad calls such a loss (vec) undefined; losses that do not split the
    tie (the top eigenvalue, the projector onto the two lowest) have a gradient, x x^T / 14 for the
    top one, and the frameworks give it."""
    x = np.array([1.0, 2.0, 3.0])
    a = np.outer(x, x)
    assert verdict_of(a, "vec", np.eye(3)).verdict is V.UNDEFINED
    top = a / 14.0  # q_3 q_3^T with q_3 = x / |x|
    assert verdict_of(a, "topk:1", top).verdict is V.CORRECT
    backends = [EighBackend(name, name) for name in INSTALLED]
    report = check_matrix(a, "A", parse_eigh_loss("topk:1"), backends)
    assert all(r.verdict is V.CORRECT for r in report.results)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def fn(v):
        return jnp.linalg.eigh(v[:, None] * v[None, :])[1] @ v

    tangent = jnp.array([1.0, 0.0, 0.0])
    _, jvp = jax.jvp(fn, (jnp.asarray(x),), (tangent,))
    h = 1e-6
    fd = (fn(jnp.asarray(x) + h * tangent) - fn(jnp.asarray(x) - h * tangent)) / (2 * h)
    assert np.linalg.norm(np.asarray(jvp) - np.asarray(fd)) > 10 * np.linalg.norm(np.asarray(jvp))


def test_the_broadened_plugin_example_is_judged_against_the_oracle():
    """examples/backends/eigh_broadened.py through the plug-in contract: exact where the loss reads no
    eigenvector gap (eigsum), and judged as the oracle says for <C, exp(A)> at an exact tie, where
    broadening drops the divided difference e^w of the tied pair."""
    pytest.importorskip("torch")
    from svdgrad_cli.backends.eigh_backends import eigh_backend

    backend = eigh_backend("torch:examples.backends.eigh_broadened:eigh")
    a, q = symmetric(TIED, seed=1)
    assert check_matrix(a, "A", parse_eigh_loss("eigsum"), [backend]).results[0].verdict is V.CORRECT
    loss = parse_eigh_loss("expm").bind(4, 0)
    oracle = matrix_function_gradient(q, TIED, loss.arrays["C"], mpmath.exp, mpmath.exp)
    gradient = backend.compute(a[None], loss)[1][0]
    verdict = check_matrix(a, "A", loss, [backend]).results[0].verdict
    assert verdict in _truth(gradient, oracle, a, "expm")


@pytest.mark.parametrize("name", INSTALLED)
@pytest.mark.parametrize("spec", ["logdet", "expm"])
def test_frameworks_at_a_hermitian_tie_are_judged_as_the_oracle_says(name, spec):
    """Complex Hermitian input, each framework's gradient read in svdgrad's convention (field.py)."""
    a, q = hermitian(TIED, seed=2)
    loss = parse_eigh_loss(spec).bind(4, 0, on_complex=True)
    backend = EighBackend(name, name)
    gradient = backend.compute(a[None], loss)[1][0]
    if spec == "expm":
        oracle = matrix_function_gradient(q, TIED, loss.arrays["C"], mpmath.exp, mpmath.exp)
    else:
        oracle = spectral_gradient(q, TIED, lambda x: 1 / x)
    verdict = check_matrix(a, "A", loss, [backend]).results[0].verdict
    assert verdict in _truth(gradient, oracle, a, spec)


def test_hermitian_input_is_refused_with_its_asymmetry_and_vec_is_undefined_at_its_tie():
    a = np.array([[1.0, 2.0 + 1j], [2.0 + 1j, 3.0]])  # symmetric, not Hermitian
    with pytest.raises(InputError, match=r"not Hermitian: \|\|A - A\^H\|\|_F"):
        check_matrix(a, "A", parse_eigh_loss("eigsum"), [answering(np.eye(2))])
    h, _ = hermitian(TIED, seed=2)
    loss = parse_eigh_loss("vec").bind(4, 0, on_complex=True)
    assert check_matrix(h, "A", loss, [answering(np.eye(4) + 0j)]).results[0].verdict is V.UNDEFINED


def test_a_finding_says_whether_the_eigendecomposition_or_the_backward_pass_is_off():
    a, q = symmetric(TIED, seed=1)
    oracle = spectral_gradient(q, TIED, lambda x: 1 / x)
    w = np.array(TIED)

    def plugin(values, vectors):
        return EighFunctionBackend(
            "p", lambda stack, loss: (values[None], (oracle + 1e-3)[None], vectors[None])
        )

    loss = parse_eigh_loss("logdet")
    exact = check_matrix(a, "A", loss, [plugin(w, q)]).results[0]
    assert exact.verdict is V.WRONG and exact.forward.endswith("its backward pass is off")
    off = check_matrix(a, "A", loss, [plugin(w + 1e-6, q)]).results[0]
    assert off.verdict is V.WRONG and off.forward.startswith(
        "its eigendecomposition is off (eigenvalue error 2.5e-07"
    )
    right = check_matrix(a, "A", loss, [answering(oracle)]).results[0]
    assert right.verdict is V.CORRECT and right.forward == ""


def test_a_plugin_that_answers_complex_gradients_for_a_real_matrix_failed():
    a, _ = symmetric(TIED, seed=1)
    result = check_matrix(a, "A", parse_eigh_loss("eigsum"), [answering(np.eye(4) + 1j)]).results[0]
    assert result.verdict is V.FAILED and "complex gradients" in result.message
