"""The Hessian-vector products behind every budget (numerics/dilation.py), and the root-mean-square
sensitivity (conditioning.py), against finite differences of the closed-form gradient, for real and
complex input: DG[E] = (G(A + hE) - G(A - hE)) / 2h + O(h^2)."""

from __future__ import annotations

import numpy as np
import pytest

from svdgrad_cli.numerics.conditioning import spectral_hessian_rms, vector_hessian_rms
from svdgrad_cli.numerics.dilation import polar_hessian, projector_hessian
from svdgrad_cli.numerics.gradients import polar_gradient, projector_gradient
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.reference import build_reference
from svdgrad_cli.numerics.spectrum import analyse_spectrum
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


def _jacobian_by_differences(a: np.ndarray, loss) -> np.ndarray:
    """The real Jacobian of the float64 reference gradient, by central differences along every real (and
    imaginary) unit direction."""
    h, columns = 1e-6, []
    for unit in (1, 1j) if np.iscomplexobj(a) else (1,):
        for i in range(a.size):
            e = unit * np.eye(a.size)[i].reshape(a.shape)
            plus = build_reference(a + h * e, loss, 1e-12, check=False)[0].gradient
            minus = build_reference(a - h * e, loss, 1e-12, check=False)[0].gradient
            d = (plus - minus) / (2 * h)
            columns.append(np.concatenate([d.real.ravel(), d.imag.ravel()]))
    return np.array(columns).T


@pytest.mark.parametrize("on_complex", [False, True])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("name", ["sum", "sv:2", "topk:2", "polar", "proj:2", "recon"])
def test_rms_sensitivity_is_the_frobenius_norm_of_the_jacobian_over_sqrt_dim(name, shape, on_complex):
    """||DG||_F / sqrt(dim) (conditioning.py: closed form for losses of s, every unit direction for polar
    and proj:K at these sizes, exact for recon) against central differences of the gradient."""
    rng = np.random.default_rng(sum(shape) + on_complex)
    a = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if on_complex else 0)
    loss = parse_loss(name).bind(shape, 0, on_complex=on_complex)
    u, s, v = thin_svd(a)
    spectrum = analyse_spectrum(s, shape, 1e-12)
    if loss.needs_vectors:
        rms = vector_hessian_rms(loss, u, s, v, spectrum, 0)
    else:
        rms = spectral_hessian_rms(s, loss.weights(len(s)), spectrum, phases=on_complex)
    jacobian = _jacobian_by_differences(a, loss)
    assert rms == pytest.approx(np.linalg.norm(jacobian) / np.sqrt(jacobian.shape[1]), rel=1e-6)


def test_rms_sensitivity_of_a_larger_matrix_is_hutchinsons_estimate_within_a_factor_of_two():
    """Above 64 entries, four Gaussian probes: unbiased for ||DG||_F^2 / dim, and on a 10x8 matrix
    (80 directions, none dominant) within a factor of two of the exact figure."""
    rng = np.random.default_rng(10)
    a = rng.standard_normal((10, 8))
    loss = parse_loss("proj:2").bind(a.shape, 0)
    u, s, v = thin_svd(a)
    hessian = projector_hessian(u, s, v, loss.arrays["C"], 2)
    exact = np.sqrt(np.mean([np.linalg.norm(hessian.apply(e)) ** 2 for e in np.eye(80).reshape(80, 10, 8)]))
    estimate = vector_hessian_rms(loss, u, s, v, analyse_spectrum(s, a.shape, 1e-12), 0)
    assert exact / 2 <= estimate <= 2 * exact
