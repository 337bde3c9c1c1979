"""Membership in the (sub/Clarke) gradient sets, on constructed members and non-members."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_orthogonal

from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.membership import distance_to_set
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.numerics.svd import thin_svd

TOL = 1e-10


def setup(values, shape, spec, seed=0):
    """A matrix with these singular values, its thin SVD, spectrum and the loss weights."""
    rng = np.random.default_rng(seed)
    m, n = shape
    u_full = random_orthogonal(m, rng)
    v_full = random_orthogonal(n, rng)
    k = min(shape)
    a = (u_full[:, :k] * np.asarray(values, float)) @ v_full[:, :k].T
    u, s, v = thin_svd(a)
    spectrum = analyse_spectrum(s, shape, zero_tol=1e-12)
    return a, u, v, spectrum, parse_loss(spec).weights(k), u_full, v_full


def rotation(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


@pytest.mark.parametrize("shape", [(5, 5), (7, 5), (5, 7)])
def test_nuclear_norm_members_at_rank_two(shape):
    _, u, v, spectrum, w, u_full, v_full = setup([3, 2, 0, 0, 0], shape, "sum")
    u1, v1 = u[:, :2], v[:, :2]
    # Null spaces of the whole (possibly rectangular) matrix, from the bases the matrix was built in.
    u2, v2 = u_full[:, 2:], v_full[:, 2:]
    rng = np.random.default_rng(1)
    inner = rng.standard_normal((u2.shape[1], v2.shape[1]))
    inner /= np.linalg.norm(inner, 2)
    for scale in (0.0, 0.5, 1.0):
        member = u1 @ v1.T + scale * u2 @ inner @ v2.T
        assert distance_to_set(member, u, v, spectrum, w) < TOL
    too_big = u1 @ v1.T + 1.5 * u2 @ inner @ v2.T
    assert distance_to_set(too_big, u, v, spectrum, w) >= 0.5 - TOL  # ||W||_2 = 1.5 > 1
    leaking = u1 @ v1.T + 0.3 * u1 @ rng.standard_normal((2, v2.shape[1])) @ v2.T
    assert distance_to_set(leaking, u, v, spectrum, w) > 0.1
    assert distance_to_set(2 * u1 @ v1.T, u, v, spectrum, w) > 0.5


def test_any_full_svd_basis_gives_a_nuclear_member():
    """What every framework returns at rank deficiency: U V^T over all k columns, any basis."""
    _a, u, v, spectrum, w, *_ = setup([3, 2, 0, 0], (4, 4), "sum")
    q = random_orthogonal(2, np.random.default_rng(3))
    u_rot, v_rot = u.copy(), v.copy()
    u_rot[:, 2:] = u[:, 2:] @ q
    v_rot[:, 2:] = -v[:, 2:]
    assert distance_to_set(u_rot @ v_rot.T, u, v, spectrum, w) < TOL


def test_ky_fan_members_across_a_tie():
    # s = (3, 2, 2, 1), topk:2: a = 1 value above the cluster C = {2, 3}; tr M = K - a = 1, 0 <= M <= I.
    _, u, v, spectrum, w, *_ = setup([3, 2, 2, 1], (4, 4), "topk:2")
    uc, vc = u[:, 1:3], v[:, 1:3]
    base = np.outer(u[:, 0], v[:, 0])
    for eigs in ([1, 0], [0.5, 0.5], [0.8, 0.2]):
        m = rotation(0.7) @ np.diag(eigs) @ rotation(0.7).T
        assert distance_to_set(base + uc @ m @ vc.T, u, v, spectrum, w) < TOL
    outside = rotation(0.3) @ np.diag([1.2, -0.2]) @ rotation(0.3).T  # trace 1 but not 0 <= M <= I
    assert distance_to_set(base + uc @ outside @ vc.T, u, v, spectrum, w) > 0.1
    wrong_trace = np.diag([1.0, 1.0])
    assert distance_to_set(base + uc @ wrong_trace @ vc.T, u, v, spectrum, w) > 0.5
    skew = np.array([[0.5, 0.3], [-0.3, 0.5]])
    assert distance_to_set(base + uc @ skew @ vc.T, u, v, spectrum, w) > 0.3


def test_clarke_set_of_a_repeated_kth_value():
    # sv:2 on s = (3, 2, 2, 1): U_C M V_C^T with M symmetric PSD, trace 1.
    _, u, v, spectrum, w, *_ = setup([3, 2, 2, 1], (4, 4), "sv:2")
    uc, vc = u[:, 1:3], v[:, 1:3]
    for theta in (0.0, 0.4, 2.0):
        x = rotation(theta)[:, 0]
        assert distance_to_set(uc @ np.outer(x, x) @ vc.T, u, v, spectrum, w) < TOL
    assert distance_to_set(0.5 * uc @ vc.T, u, v, spectrum, w) < TOL
    indefinite = np.diag([1.3, -0.3])
    assert distance_to_set(uc @ indefinite @ vc.T, u, v, spectrum, w) > 0.2
    assert distance_to_set(np.outer(u[:, 0], v[:, 0]), u, v, spectrum, w) > 0.5


def test_unique_gradient_is_the_only_member():
    _, u, v, spectrum, w, *_ = setup([4, 3, 2, 1], (4, 4), "sum")
    assert distance_to_set(u @ v.T, u, v, spectrum, w) < TOL
    flipped = u @ np.diag([1, 1, 1, -1]) @ v.T  # one column's sign flipped
    assert distance_to_set(flipped, u, v, spectrum, w) > 1.0
