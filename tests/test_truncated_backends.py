"""Backends that return the top k < min(m, n) triplets (examples/backends/truncated.py and
jax_truncated.py): judged on losses of the top k' <= k triplets against the exact gradient of the
truncated map, ``unsupported`` (one line) on a loss that needs more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli import assert_gradients_ok, check, register_backend, unregister_backend
from svdgrad_cli.explain_parts import parts_sentence
from tests.truncated_oracle import exact_matrix

ROOT = Path(__file__).parent.parent
NAIVE = "torch:examples.backends.truncated:naive"
CORRECTED = "torch:examples.backends.truncated:corrected"
JAX_CORRECTED = "jax:examples.backends.jax_truncated:corrected"
HALVING = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625]  # s_4 / s_3 = 0.5
ZERO_TAIL = [8, 4, 2, 0, 0, 0, 0, 0]
TIED_AT_CUT = [8, 4, 2, 2, 0.5, 0.25, 0.125, 0.0625]
STACK = np.stack([exact_matrix(v) for v in (HALVING, ZERO_TAIL, TIED_AT_CUT)])


@pytest.fixture(autouse=True)
def from_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # examples.backends resolves from the current directory, as python -m


def verdicts(loss: str, backends) -> list[dict[str, str]]:
    report = check(STACK, loss=loss, backends=backends)
    return [{b.name: b.verdict for b in r.backends} for r in report.results]


def test_naive_adjoint_is_wrong_with_a_discarded_tail_and_correct_without_one():
    halving, zero_tail, tied = verdicts("proj:2", [NAIVE, CORRECTED])
    assert halving == {"truncated.naive": "wrong", "truncated.corrected": "correct"}
    assert zero_tail == {"truncated.naive": "correct", "truncated.corrected": "correct"}
    assert tied == {"truncated.naive": "wrong", "truncated.corrected": "correct"}  # proj:2 is defined


@pytest.mark.parametrize("loss", ["proj:3", "polar:3"])
def test_a_cut_inside_a_multiplet_is_undefined_for_losses_of_the_third_vector(loss):
    halving, zero_tail, tied = verdicts(loss, [NAIVE, CORRECTED])
    assert halving == {"truncated.naive": "wrong", "truncated.corrected": "correct"}
    assert zero_tail == {"truncated.naive": "correct", "truncated.corrected": "correct"}
    assert set(tied.values()) == {"undefined"}


def test_assert_gradients_ok_accepts_a_truncated_plugin():
    assert_gradients_ok(JAX_CORRECTED, STACK[:2], loss="polar:3")
    assert_gradients_ok(CORRECTED, STACK[:2], loss="recon:3")
    with pytest.raises(AssertionError, match=r"truncated\.naive is wrong"):
        assert_gradients_ok(NAIVE, STACK[:1], loss="proj:2")


@pytest.mark.parametrize(("loss", "hint"), [("polar", "polar:3"), ("sum", "topk:3"), ("proj:4", "proj:3")])
def test_a_loss_needing_more_triplets_is_unsupported_with_one_line(loss, hint):
    result = check(STACK[:1], loss=loss, backends=[NAIVE]).results[0].backends[0]
    assert result.verdict == "unsupported"
    assert "returns 3 of 8 singular triplets" in result.message and hint in result.message
    assert "\n" not in result.message


def test_the_python_contract_may_return_the_top_k_values():
    def top_two(stack, loss):  # the gradient of sv:1 and sv:2, from two triplets
        u, s, vh = np.linalg.svd(stack)
        w = loss.weights(2)[:2]
        return s[:, :2], (u[:, :, :2] * w) @ vh[:, :2, :]

    register_backend("top_two", top_two)
    try:
        assert verdicts("sv:2", ["top_two"])[0] == {"top_two": "correct"}
        assert verdicts("topk:3", ["top_two"])[0] == {"top_two": "unsupported"}
    finally:
        unregister_backend("top_two")


def test_blame_names_the_dropped_truncation_coupling_and_its_size():
    naive, corrected = check(STACK[:1], loss="polar:3", backends=[NAIVE, CORRECTED]).results[0].backends
    cut = naive.error_parts.truncation
    assert cut.cut == 3 and cut.truncation > 0.99 * cut.total  # all of ΔG is kept-discarded
    assert cut.dropped == pytest.approx(naive.error, rel=1e-6)  # ΔG is the dropped term itself
    assert corrected.error_parts is None  # correct: nothing to blame
    assert "drops the truncation coupling" in parts_sentence(naive.error_parts)


def test_a_wrong_adjoint_that_keeps_the_coupling_is_not_blamed_on_truncation():
    def scaled(stack, loss):  # the exact gradient of proj:2 off by 10%: wrong, but not by truncation
        from svdgrad_cli.numerics.reference import build_reference

        g = np.stack([1.1 * build_reference(a, loss, 1e-12, check=False)[0].gradient for a in stack])
        return np.linalg.svd(stack, compute_uv=False)[:, :3], g

    register_backend("scaled", scaled)
    try:
        result = check(STACK[:1], loss="proj:2", backends=["scaled"]).results[0].backends[0]
    finally:
        unregister_backend("scaled")
    assert result.verdict == "wrong" and result.error_parts.truncation.dropped is None
    assert "drops the truncation coupling" not in parts_sentence(result.error_parts)


def test_json_carries_the_split_at_the_cut_and_the_subspace_error(runner, tmp_path):
    import json

    from svdgrad_cli.cli import cli

    np.save(tmp_path / "a.npy", STACK[0])
    arguments = ["check", str(tmp_path / "a.npy"), "--loss", "proj:2", "-b", NAIVE, "-f", "json"]
    result = runner.invoke(cli, arguments)
    backend = json.loads(result.stdout)["results"][0]["backends"]["truncated.naive"]
    cut = backend["error_parts"]["truncation"]
    assert cut["cut"] == 3 and cut["dropped"] == pytest.approx(backend["error"], rel=1e-6)
    assert backend["forward"]["subspace"] < 1e-13 and backend["forward"]["residual"] is None


@pytest.mark.parametrize(
    ("loss", "low", "high"), [("proj:2", 0.1, 0.3), ("proj:3", 0.1, 0.3), ("polar:3", 0.1, 0.3)]
)
def test_the_naive_error_svdgrad_reports_is_the_true_one(loss, low, high):
    """At s_4 / s_3 = 0.5 the naive adjoint's gradient, computed here with torch, is off from a
    50-digit finite difference of the truncated loss by 18-22%: what svdgrad reports, and wrong."""
    from svdgrad_cli.numerics.losses import parse_loss
    from tests.truncated_oracle import example_gradient, truncated_gradient

    a = STACK[0]
    bound = parse_loss(loss).bind(a.shape, 0)
    truth = truncated_gradient(bound.kind, bound.order, a, bound.arrays["C"])
    naive = example_gradient("naive", bound.kind, bound.order, a, bound.arrays["C"])
    true_error = np.linalg.norm(naive - truth) / np.linalg.norm(truth)
    result = check(STACK[:1], loss=loss, backends=[NAIVE]).results[0]
    assert result.backends[0].verdict == "wrong" and low < true_error < high
    assert result.backends[0].error / result.reference.gradient_norm == pytest.approx(true_error, rel=1e-9)
