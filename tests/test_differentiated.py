"""The seam of what is differentiated (numerics/differentiated.py): each decomposition and derivative
mode owns the shapes of its answers; a target svdgrad cannot judge is refused in one line; a backend
that does not list a target is ``unsupported`` for it; one that lists it is asked for it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from svdgrad_cli import check
from svdgrad_cli.backends import registry
from svdgrad_cli.backends.protocol import BackendOutput
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET, Decomposition, DerivativeMode, Target
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.options import Settings
from svdgrad_cli.pipeline import assess
from svdgrad_cli.pipeline.calls import run_backend
from svdgrad_cli.pipeline.plan import RunPlan
from svdgrad_cli.verdicts import BackendStatus, BackendVerdict, MatrixStatus

JVP = Target(Decomposition.THIN_SVD, DerivativeMode.JVP)
OTHERS = [
    Target(d, m)
    for d, m in itertools.product(Decomposition, DerivativeMode)
    if Target(d, m) != DEFAULT_TARGET
]


def test_the_thin_svd_returns_min_m_n_values_and_a_gradient_shaped_like_the_stack():
    assert DEFAULT_TARGET.check_output((2, 4, 3), (2, 3), (2, 4, 3)) == 3
    # asked for the thin SVD, a backend may answer with its top k triplets (issue 24: truncated.py)
    assert DEFAULT_TARGET.check_output((2, 4, 3), (2, 2), (2, 4, 3)) == 2
    with pytest.raises(ValueError) as raised:
        DEFAULT_TARGET.check_output((2, 4, 3), (2, 4), (2, 4, 3))
    assert str(raised.value) == (
        "returned singular values of shape (2, 4) and gradients of shape (2, 4, 3) "
        "for a stack of shape (2, 4, 3)"
    )
    for values, gradients in [((3,), (2, 4, 3)), ((1, 3), (2, 4, 3)), ((2, 3), (2, 3, 4)), ((2, 3), (2,))]:
        with pytest.raises(ValueError):
            DEFAULT_TARGET.check_output((2, 4, 3), values, gradients)


def test_a_truncated_svd_has_its_k_read_from_the_values_returned():
    top = Target(Decomposition.TRUNCATED_SVD)
    assert [top.check_output((2, 4, 3), (2, k), (2, 4, 3)) for k in (1, 2)] == [1, 2]
    for k in (0, 3, 4):  # none, or every triplet: not a truncation
        with pytest.raises(ValueError):
            top.check_output((2, 4, 3), (2, k), (2, 4, 3))


def test_eigh_is_of_square_matrices_and_says_eigenvalues():
    eigh = Target(Decomposition.EIGH)
    assert eigh.check_output((2, 3, 3), (2, 3), (2, 3, 3)) == 3
    with pytest.raises(ValueError, match="returned eigenvalues of shape"):
        eigh.check_output((2, 4, 3), (2, 3), (2, 4, 3))


def test_a_jvp_is_one_number_per_matrix_and_an_hvp_one_matrix():
    assert JVP.check_output((2, 4, 3), (2, 3), (2,)) == 3
    with pytest.raises(ValueError, match="directional derivatives of shape"):
        JVP.check_output((2, 4, 3), (2, 3), (2, 4, 3))
    assert Target(mode=DerivativeMode.HVP).check_output((2, 4, 3), (2, 3), (2, 4, 3)) == 3


@pytest.mark.parametrize("target", OTHERS, ids=str)
def test_a_target_svdgrad_cannot_judge_yet_is_a_one_line_usage_error(target):
    with pytest.raises(UsageError) as raised:
        check(np.diag([3.0, 2.0, 1.0]), backends=["autograd"], target=target)
    assert str(raised.value).splitlines() == [
        f"svdgrad cannot judge {target} yet (it judges {DEFAULT_TARGET})"
    ]


def test_the_default_target_is_carried_on_each_report():
    report = check(np.diag([3.0, 2.0, 1.0]), backends=["autograd"])
    assert report.results[0].status is MatrixStatus.CHECKED
    assert report.results[0].target == DEFAULT_TARGET == Target()
    assert str(DEFAULT_TARGET) == "the VJP of the thin SVD"


def test_a_backend_that_does_not_list_a_target_svdgrad_judges_is_unsupported(monkeypatch):
    monkeypatch.setitem(assess.ASSESSMENTS, JVP, assess.MatrixAssessment)  # as if svdgrad judged JVPs
    report = check(np.diag([3.0, 2.0, 1.0]), backends=["autograd"], target=JVP)
    (result,) = report.results[0].backends
    assert (result.status, result.verdict) == (BackendStatus.UNSUPPORTED, BackendVerdict.UNSUPPORTED)
    assert result.message == "autograd does not compute the JVP of the thin SVD"
    assert report.results[0].target == JVP


class _Directional:
    """A backend that computes the JVP of sum(s) along dA = 1 (every entry): trace(U^T 1 V)."""

    name = origin = "directional"
    gives_factors = False
    targets = frozenset({DEFAULT_TARGET, JVP})

    def __init__(self) -> None:
        self.asked: list[Target | None] = []

    def version(self) -> str:
        return "test"

    def compute(self, stack, loss, full_matrices=False, target=None):
        self.asked.append(target)
        u, s, vh = np.linalg.svd(stack, full_matrices=False)
        gradient = u @ vh  # d sum(s) / dA, distinct positive singular values
        derivative = gradient.sum(axis=(-2, -1)) if target == JVP else gradient
        return BackendOutput(s, derivative)


def test_a_backend_that_lists_a_target_is_asked_for_it_and_answers_in_its_shape(monkeypatch):
    backend = _Directional()
    monkeypatch.setitem(registry._custom, backend.name, backend)
    stack = np.stack([np.diag([3.0, 2.0, 1.0]), np.diag([5.0, 4.0, 1.0])])
    loss = parse_loss("sum").bind((3, 3), 0)
    settings = Settings(backends=(backend.name,))
    forward = run_backend(backend.name, stack, loss, RunPlan(settings, JVP))
    reverse = run_backend(backend.name, stack, loss, RunPlan(settings))
    assert backend.asked == [JVP, None]  # the default is asked in the protocol every backend knows
    assert [r.status for r in forward + reverse] == [BackendStatus.OK] * 4
    assert [float(r.gradient) for r in forward] == [3.0, 3.0]  # <I, 1> for diagonal A: trace(1) = 3
    assert all(np.array_equal(r.gradient, np.eye(3)) for r in reverse)


def test_a_reference_precision_that_does_not_exist_is_a_usage_error():
    with pytest.raises(UsageError, match="--reference must be one of auto, float64, high, got 'mpmath'"):
        check(np.eye(2), backends=["autograd"], reference="mpmath")


def test_the_mode_option_offers_exactly_the_derivative_modes():
    from svdgrad_cli.options.check import MODE_CHOICES

    assert tuple(m.value for m in DerivativeMode) == MODE_CHOICES
