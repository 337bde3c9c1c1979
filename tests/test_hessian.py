"""The Hessian-vector products behind every budget (numerics/dilation.py) against finite differences of
the closed-form gradient, for real and complex input: DG[E] = (G(A + hE) - G(A - hE)) / 2h + O(h^2)."""

from __future__ import annotations

import numpy as np
import pytest

from svdgrad_cli.numerics.dilation import polar_hessian, projector_hessian
from svdgrad_cli.numerics.gradients import polar_gradient, projector_gradient
from svdgrad_cli.numerics.svd import thin_svd


def gradient(kind: str, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    u, s, v = thin_svd(a)
    if kind == "polar":
        return polar_gradient(u, s, v, c, np.zeros(len(s), dtype=bool))
    return projector_gradient(u, s, v, c, 2)


@pytest.mark.parametrize("on_complex", [False, True])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("kind", ["polar", "proj"])
def test_hessian_vector_products_are_the_derivative_of_the_gradient(kind, shape, on_complex):
    rng = np.random.default_rng(sum(shape))

    def draw(size):
        return rng.standard_normal(size) + (1j * rng.standard_normal(size) if on_complex else 0)

    a, e = draw(shape), draw(shape)
    c = draw(shape if kind == "polar" else (shape[0], shape[0]))
    u, s, v = thin_svd(a)
    if kind == "polar":
        hessian = polar_hessian(u, s, v, c, np.zeros(len(s), dtype=bool))
    else:
        hessian = projector_hessian(u, s, v, c, 2)
    h = 1e-5
    secant = (gradient(kind, a + h * e, c) - gradient(kind, a - h * e, c)) / (2 * h)
    assert np.linalg.norm(hessian.apply(e) - secant) <= 1e-7 * np.linalg.norm(secant)
    # ||DG||_2 of the real-linear map E -> DG[E]: its matrix on the real (and imaginary) unit directions
    units = [
        u * np.eye(a.size)[i].reshape(shape) for u in ((1, 1j) if on_complex else (1,)) for i in range(a.size)
    ]
    columns = [hessian.apply(unit) for unit in units]
    jacobian = np.array([np.concatenate([d.real.ravel(), d.imag.ravel()]) for d in columns]).T
    exact = np.linalg.norm(jacobian, 2)
    estimate = hessian.norm(np.random.default_rng(0))
    assert 0.7 * exact <= estimate <= 1.0000001 * exact  # power iteration: from below, within 30%
