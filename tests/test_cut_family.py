"""The family of ``svdgrad sweep --vary cut`` (sweep_model.Cut, families.logit_points and across_cut):
the requested ratio s_{K+1} / s_K built to eight bits from exact 0 to exact 1, the kept values
untouched, the discarded ones in proportion, and the stored matrices' spectra checked with an
independent mpmath SVD."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from svdgrad_cli import Settings
from svdgrad_cli.errors import UsageError
from svdgrad_cli.pipeline.run import resolve_settings
from svdgrad_cli.pipeline.sweep import SweepSpec, build_family

BITS = 2.0**-8  # requested values are quantised to eight significant bits


def family(at=3, loss="proj:3", shape=(8, 8), points=9, dtype="float64"):
    settings = resolve_settings(Settings(loss=loss, dtype=dtype, backends=("autograd",)))
    return build_family(SweepSpec("cut", at, points, shape), settings)


def test_points_run_from_exact_zero_to_exact_one_evenly_in_the_logit():
    xs = [m.requested for m in family(points=9).members]
    assert xs[0] == 0 and xs[-1] == 1 and xs[4] == 0.5
    t = [np.log10(x / (1 - x)) for x in xs[1:-1]]
    assert np.allclose(np.diff(t), t[1] - t[0], atol=1e-3)  # evenly spaced in log10(x / (1 - x))
    assert t[0] == pytest.approx(-13, abs=1e-3)  # about 10 times the zero level of 8x8 float64
    assert np.allclose(np.add(xs, xs[::-1]), 1.0, atol=1e-15)  # symmetric about 1/2
    assert [m.requested for m in family(points=2).members] == [0.0, 1.0]
    assert family(points=5, dtype="float32").members[1].requested == pytest.approx(1e-5, rel=1e-3)


@pytest.mark.parametrize(("at", "shape"), [(3, (8, 8)), (1, (6, 5)), (4, (5, 7))])
def test_the_kept_values_stay_and_the_discarded_ones_follow_the_ratio(at, shape):
    made = family(at=at, shape=shape, loss="sum")
    base = made.base
    for member in made.members:
        s, x = member.values, member.requested
        assert np.array_equal(s[:at], base[:at])
        assert np.all(np.diff(s) <= 0)
        ratio = s[at] / s[at - 1]
        if x <= 0.5:
            assert abs(ratio - x) <= BITS * x
        else:
            assert abs((1 - ratio) - (1 - x)) <= BITS * (1 - x)
        profile = base[at:] / base[at]
        assert np.allclose(s[at:], s[at] * profile, rtol=BITS, atol=0)
    assert np.all(made.members[0].values[at:] == 0) and made.members[-1].values[at] == base[at - 1]


def test_stored_matrices_have_the_built_spectrum():
    made = family(points=7)
    for member in made.members:
        stored = made.stored(member)
        with mpmath.workdps(50):
            values = mpmath.svd_r(mpmath.matrix(stored.tolist()), compute_uv=False)
            truth = sorted((values[i] for i in range(len(values))), reverse=True)
        for got, want in zip(truth, member.values, strict=True):
            if member.exact:
                assert abs(got - mpmath.mpf(float(want))) <= mpmath.mpf(10) ** -40
            else:
                assert abs(float(got) - want) <= 64 * 8 * 2.0**-52
        assert made.vary.of(member.values, 3, 1.0) == pytest.approx(member.requested, rel=BITS, abs=0)


def test_k_comes_from_the_loss_else_from_at():
    assert family(at=None, loss="polar:3").at == 3
    assert family(at=2, loss="polar:3").at == 2
    with pytest.raises(UsageError, match="--vary cut needs --at K < 8"):
        family(at=None, loss="sum")
    with pytest.raises(UsageError, match="--vary cut needs --at K < 8"):
        family(at=None, loss="proj:8")  # nothing below the cut
    with pytest.raises(UsageError, match=r"--at 8: K must be 1 to 7"):
        family(at=8, loss="sum")


def test_a_cut_sweep_names_its_points_by_the_ratio():
    made = family(points=5)
    cut = made.vary
    assert [made.label(m).split(" @ ")[1] for m in made.members] == [
        "s_4/s_3 0", "s_4/s_3 1e-13", "s_4/s_3 0.5", "s_4/s_3 1-1e-13", "s_4/s_3 1",
    ]  # fmt: skip
    assert [cut.axis_value(m.requested) for m in made.members] == ["-∞", "-13", "0", "13", "∞"]
