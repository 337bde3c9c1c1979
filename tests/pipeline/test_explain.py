"""explain.py: what each verdict means, in sentences that name what the mathematics says."""

from __future__ import annotations

import numpy as np

from svdgrad_cli import check, register_backend, unregister_backend
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.pipeline.explain import FIX_YOUR_OWN, for_python, why_not_unique
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict


def test_why_not_unique_names_tied_values_weighted_differently_and_weighted_zeros():
    spectrum = analyse_spectrum(np.array([3.0, 2.0, 2.0, 0.0]), (4, 4), 1e-12)
    assert why_not_unique(spectrum, np.array([1.0, 1.0, 0.0, 0.0])) == (
        "s_2, s_3 are tied but weighted differently"
    )
    assert why_not_unique(spectrum, np.array([1.0, 1.0, 1.0, 1.0])) == (
        "1 weighted singular value(s) are zero (s_4)"
    )
    assert why_not_unique(spectrum, np.array([1.0, 0.0, 0.0, 0.0])) == ""


def test_advice_in_flags_is_said_as_the_python_call_gives_it():
    text = for_python(f"{FIX_YOUR_OWN} (--dtype float32)", "check(a)")
    assert "check(a) returns the report" in text
    assert "(dtype='float32')" in text
    assert "--dtype" not in text


def test_a_loss_of_u_and_v_at_the_zero_matrix_is_explained_by_its_ball():
    """recon = ||A||_F at A = 0: its subdifferential is the unit Frobenius ball, so a zero gradient is
    a valid member and the set (not a spectral weight vector) explains the non-uniqueness."""

    def zeros(stack, loss):
        return np.zeros(stack.shape[:2]), np.zeros_like(stack)  # s = 0 and G = 0 at A = 0 (3x3)

    register_backend("zeros", zeros)
    try:
        report = check(np.zeros((3, 3)), loss="recon", backends=["zeros"]).results[0]
    finally:
        unregister_backend("zeros")
    assert report.backends[0].verdict is BackendVerdict.VALID
    assert report.verdict is MatrixVerdict.NON_UNIQUE
    assert "not unique here" in report.explanation
    assert "Frobenius ball of radius 1" in report.explanation
