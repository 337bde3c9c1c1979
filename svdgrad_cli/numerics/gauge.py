"""Gauge: does a loss of U and V have a gradient at this matrix, and if not, which freedom breaks it?

The SVD leaves a freedom (docs/theory.md §4): each pair (u_i, v_i) may flip sign together; inside a
cluster C of equal positive values U_C -> U_C Q, V_C -> V_C Q for any orthogonal Q; inside the zero
cluster Z, U_Z and V_Z rotate independently, and for rectangular A into the rest of the null space. On
complex input (§9) the sign is a phase, (u_i, v_i) -> e^{i phi} (u_i, v_i), and Q is unitary. A loss
has a gradient only if it does not depend on that freedom (Townsend 2016, section on repeated singular
values; Wan and Zhang 2019 for the phase). With the cotangents Ubar, Vbar of losses.py,
dL = Re <Ubar, dU> + Re <Vbar, dV>, a rotation U_C -> U_C exp(t Omega), Omega skew-Hermitian, changes
L by t Re <U_C^H Ubar_C + V_C^H Vbar_C, Omega>, so with K_U = U^H Ubar - Ubar^H U (and K_V alike):

- positive cluster C: invariant to first order iff (K_U + K_V)[C, C] = 0; on complex input this
  includes a cluster of one, whose entry is 2i Im(u_i^H ubar_i + v_i^H vbar_i): the phase test;
- zero cluster Z: K_U[Z, Z] = 0, K_V[Z, Z] = 0, and (I - U U^H) Ubar[:, Z] = 0, (I - V V^H) Vbar[:, Z] = 0;
- signs, a discrete symmetry with no first-order test: L(U D, s, V D) = L(U, s, V), checked directly
  for D flipping each of the first SIGN_PAIRS pairs alone.
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.numerics.field import adjoint, is_complex
from svdgrad_cli.numerics.losses import NUMPY_OPS
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.numerics.spectrum import Spectrum, span

SIGN_PAIRS = 8
# Relative size of a gauge term that counts as zero: the cotangents are computed in float64, and a
# term that should vanish does so to rounding, while a genuine dependence is of the cotangents' size.
GAUGE_RTOL = 1e-8


def sign_problems(
    loss,
    u: np.ndarray,
    s: np.ndarray,
    v: np.ndarray,
    spectrum: Spectrum,
    check_alone: bool,
    known: tuple[int, ...] = (),
) -> list[str]:
    """Sentences naming the sign flips that change the loss value.

    Every pair (u_i, v_i) may flip together; for a zero singular value u_i may also flip alone (a
    reflection of the null-space basis, checked when ``check_alone``). Pairs in ``known`` are
    already named (a complex pair whose phase the loss depends on: a flip is the phase e^(i pi)).
    """
    value = float(loss.evaluate(NUMPY_OPS, u, s, v))

    def changes(flip_u: np.ndarray, flip_v: np.ndarray) -> bool:
        flipped = float(loss.evaluate(NUMPY_OPS, u * flip_u, s, v * flip_v))
        return abs(flipped - value) > GAUGE_RTOL * (1.0 + abs(value))

    paired, alone = [], []
    for i in range(min(len(s), SIGN_PAIRS)):
        flip = np.ones(len(s))
        flip[i] = -1.0
        if i in known:
            continue
        if changes(flip, flip):
            paired.append(i)
        elif check_alone and i in spectrum.zeros and changes(flip, np.ones(len(s))):
            alone.append(i)
    problems = []
    if paired:
        problems.append(
            f"the loss is sign-dependent: it changes when (u_i, v_i) flip sign together, which any SVD "
            f"may do ({span(paired)})"
        )
    if alone:
        problems.append(f"{span(alone)} are zero and the loss depends on the sign of u_i alone")
    return problems


def gauge_problems(
    u: np.ndarray,
    v: np.ndarray,
    u_bar: np.ndarray,
    s_bar: np.ndarray,
    v_bar: np.ndarray,
    spectrum: Spectrum,
) -> tuple[list[str], str | None, tuple[int, ...]]:
    """(a sentence per positive cluster whose basis or phase the loss depends on, the same for the
    null space, and the indices of the simple values whose phase it depends on)."""
    k_u = adjoint(u) @ u_bar - adjoint(u_bar) @ u
    k_v = adjoint(v) @ v_bar - adjoint(v_bar) @ v
    tol = GAUGE_RTOL * (frobenius(u_bar) + frobenius(v_bar) + frobenius(s_bar)) or np.finfo(float).tiny
    problems: list[str] = []
    phases: list[int] = []
    for cluster in spectrum.clusters:
        idx = np.ix_(cluster, cluster)
        if (len(cluster) > 1 or is_complex(u)) and frobenius((k_u + k_v)[idx]) > tol:
            if len(cluster) == 1:
                phases += cluster
                continue
            problems.append(
                f"{span(cluster)} are tied and the loss depends on the basis chosen inside that cluster"
            )
    if phases:
        problems.insert(
            0,
            f"the loss depends on the phase e^(i phi) of (u_i, v_i), which any complex SVD may choose "
            f"({span(phases)})",
        )
    null_space = None
    zeros = list(spectrum.zeros)
    if zeros:
        idx = np.ix_(zeros, zeros)
        outside_u = u_bar[:, zeros] - u @ (adjoint(u) @ u_bar[:, zeros])
        outside_v = v_bar[:, zeros] - v @ (adjoint(v) @ v_bar[:, zeros])
        terms = [k_u[idx], k_v[idx], outside_u, outside_v]
        if any(frobenius(term) > tol for term in terms):
            null_space = f"{span(zeros)} are zero and the loss depends on the basis chosen for the null space"
    return problems, null_space, tuple(phases)
