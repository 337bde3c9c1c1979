"""The seed post's tables are our first regression test (../shared/seed)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    SEED_FULL_RANK,
    SEED_FULL_RANK_GRADIENT,
    SEED_FULL_RANK_VALUES,
    SEED_RANK2,
    SEED_RANK2_TF_GRADIENT,
)

from svdgrad_cli import check


@pytest.fixture(scope="module")
def full_rank():
    return check(SEED_FULL_RANK).results[0]


@pytest.fixture(scope="module")
def rank2():
    return check(SEED_RANK2).results[0]


def test_full_rank_gradients_match_the_posts_table(full_rank):
    assert [b.name for b in full_rank.backends] == ["autograd", "tensorflow", "torch", "jax"]
    for backend in full_rank.backends:
        np.testing.assert_allclose(backend.gradient, SEED_FULL_RANK_GRADIENT, atol=5e-5)
        np.testing.assert_allclose(backend.singular_values, SEED_FULL_RANK_VALUES, atol=5e-5)
    np.testing.assert_allclose(full_rank.reference.singular_values, SEED_FULL_RANK_VALUES, atol=5e-5)


def test_full_rank_agrees_within_the_float32_budget(full_rank):
    assert full_rank.verdict == "agree"
    assert full_rank.dtype == "float32"
    assert full_rank.index == ()  # a stack of one is the matrix itself
    for backend in full_rank.backends:
        assert backend.verdict == "correct"
        assert backend.error <= backend.budget


def test_rank2_is_non_unique_and_both_backends_are_valid(rank2):
    assert rank2.verdict == "non-unique"
    assert {b.name: b.verdict for b in rank2.backends} == dict.fromkeys(
        ["autograd", "tensorflow", "torch", "jax"], "valid"
    )
    assert rank2.reference.rank == 2
    assert not rank2.reference.unique


def test_rank2_backends_really_differ(rank2):
    # The post's whole point: the two frameworks return different gradients here.
    assert rank2.max_abs_diff > 0.1


def test_rank2_tensorflow_reproduces_the_posts_table(rank2):
    tf = next(b for b in rank2.backends if b.name == "tensorflow")
    np.testing.assert_allclose(tf.gradient, SEED_RANK2_TF_GRADIENT, atol=5e-4)


def test_rank2_minimum_norm_subgradient_has_norm_sqrt2_and_backends_sqrt5(rank2):
    assert np.linalg.norm(rank2.reference.gradient) == pytest.approx(np.sqrt(2), rel=1e-6)
    for backend in rank2.backends:
        assert np.linalg.norm(backend.gradient) == pytest.approx(np.sqrt(5), rel=1e-5)


def test_rank2_warns_that_values_3_to_5_are_zero(rank2):
    near_zero = [w for w in rank2.warnings if w.code == "near-zero"]
    assert len(near_zero) == 1
    assert near_zero[0].indices == (3, 4, 5)
    assert "not unique" in near_zero[0].message
