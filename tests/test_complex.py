"""Complex input: every reference and verdict against an independent 60-digit oracle (complex_oracle.py).

svdgrad's convention is G = dL/dRe A + i dL/dIm A; the oracle computes exactly that by central
differences along the real and the imaginary part of every entry, with no SVD routine. A backend is
judged after its framework's convention is mapped (JAX and autograd conjugate), and the claims below
are about mathematics: a `correct` backend is within its budget of the oracle's gradient, a `wrong`
one beyond it, a `valid` one satisfies the subgradient inequality of the convex loss.
"""

from __future__ import annotations

import json
import subprocess
import sys

import complex_oracle as oracle
import numpy as np
import pytest
from helpers import SEED_FULL_RANK, SEED_RANK2

from svdgrad_cli import check
from svdgrad_cli.cli import cli

BACKENDS = ("autograd", "tensorflow", "torch", "jax")
CONJUGATING = {"autograd", "jax"}
LOSSES = ("sum", "sv:2", "topk:2", "polar", "recon", "proj:1", "proj:2")


def random_complex(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def exact(values, seed: int = 0) -> np.ndarray:
    """F4 diag(values) P^H with F4 the unitary 4x4 DFT and P a permutation with phases in {1, i, -1, -i}:
    the singular values are exactly ``values`` and every entry is exact in binary."""
    p = oracle.phased_permutation(4, seed)
    return oracle.fourier(4) @ np.diag(np.asarray(values, dtype=float)) @ p.conj().T


def truth_for(result, loss: str) -> np.ndarray:
    """The oracle's gradient at the matrix svdgrad checked, with the weights svdgrad drew."""
    return oracle.gradient(result.matrix.astype(np.complex128), loss, result.loss_weights.get("C"))


def assert_verdicts_match_the_truth(result, truth: np.ndarray) -> None:
    """Within budget of the truth where correct, beyond it where wrong or inaccurate: each backend's
    verdict is a true statement about its distance from the oracle (the reference's own error is
    below REFERENCE_FACTOR units of the budget's, so one tenth of the budget is allowed for it)."""
    for b in result.backends:
        if b.verdict in ("correct", "inaccurate", "wrong"):
            error = np.linalg.norm(b.gradient - truth)
            if b.verdict == "correct":
                assert error <= 1.1 * b.budget, (b.name, error, b.budget)
            else:
                assert error >= 0.9 * b.budget, (b.name, error, b.budget)
        elif b.verdict == "non-finite":
            assert not np.all(np.isfinite(b.gradient))


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_random_complex_matrices_every_loss_against_the_oracle(shape, dtype):
    a = random_complex(shape, seed=sum(shape)).astype(dtype)
    for loss in LOSSES:
        result = check(a, loss=loss, backends=BACKENDS).results[0]
        truth = truth_for(result, loss)
        reference = result.reference.gradient
        assert np.linalg.norm(reference - truth) <= 1e-13 * np.linalg.norm(truth), loss
        assert result.reference.finite_difference is None or result.reference.finite_difference["passed"]
        assert {b.name: b.verdict for b in result.backends} == dict.fromkeys(BACKENDS, "correct"), loss
        assert_verdicts_match_the_truth(result, truth)
        for b in result.backends:
            expected = "conjugated" if b.name in CONJUGATING else "as returned"
            assert b.convention.startswith(expected), (b.name, b.convention)


def test_the_conjugating_frameworks_are_named_in_a_note_and_never_wrong_for_it():
    result = check(random_complex((4, 4), 7), loss="polar", backends=BACKENDS).results[0]
    (note,) = [w for w in result.warnings if w.code == "convention"]
    assert note.level == "note"
    assert "autograd, jax return the complex conjugate" in note.message
    assert "tensorflow, torch" in note.message
    assert result.verdict == "agree"


def test_a_real_matrix_has_no_convention_and_no_note():
    a = np.random.default_rng(1).standard_normal((4, 4))
    result = check(a, loss="polar", backends=BACKENDS).results[0]
    assert all(b.convention is None for b in result.backends)
    assert not [w for w in result.warnings if w.code == "convention"]


@pytest.mark.parametrize(
    ("values", "dtype"),
    [([2, 1, 1, 0.5], "complex128"), ([2, 1, 0, 0], "complex128"), ([2, 1, 1, 0], "complex64")],
)
def test_sum_at_a_tie_or_zeros_is_non_unique_and_every_member_is_a_subgradient(values, dtype):
    a = exact(values, seed=1).astype(dtype)
    result = check(a, loss="sum", backends=BACKENDS).results[0]
    if 0 not in values:  # a tie of positive values leaves the nuclear norm differentiable
        assert result.verdict == "agree"
        return
    assert result.verdict == "non-unique"
    assert {b.name: b.verdict for b in result.backends} == dict.fromkeys(BACKENDS, "valid")
    a128 = result.matrix.astype(np.complex128)
    here = oracle.loss_value(a128, "sum")
    rng = np.random.default_rng(3)
    for _ in range(3):  # convexity: L(A + tE) - L(A) >= t Re <G, E> for every subgradient G
        e = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
        t = 1e-3
        change = float(oracle.loss_value(a128 + t * e, "sum") - here)
        for b in result.backends:
            slack = 1e-5 if dtype == "complex64" else 1e-12
            assert change >= t * np.real(np.vdot(b.gradient.astype(np.complex128), e)) - slack * t, b.name


@pytest.mark.parametrize("values", [[2, 1, 1, 0.5], [3, 2, 2, 1]])
@pytest.mark.parametrize("loss", ["polar", "recon", "proj:1"])
def test_unique_losses_at_exact_ties_are_judged_as_for_real_input(values, loss):
    result = check(exact(values, seed=2), loss=loss, backends=BACKENDS).results[0]
    truth = truth_for(result, loss)
    assert result.reference.unique
    assert np.linalg.norm(result.reference.gradient - truth) <= 1e-13 * np.linalg.norm(truth)
    assert_verdicts_match_the_truth(result, truth)


def test_proj_across_an_exact_tie_is_undefined():
    result = check(exact([2, 1, 1, 0.5]), loss="proj:2", backends=("autograd", "jax")).results[0]
    assert not result.reference.defined
    assert "tied" in result.explanation


@pytest.mark.parametrize("gap", [1e-2, 1e-5, 1e-8])
@pytest.mark.parametrize("loss", ["proj:2", "polar"])
def test_the_near_tie_family_against_the_oracle(gap, loss):
    result = check(exact([2, 1 + gap, 1, 0.5], seed=3), loss=loss, backends=BACKENDS).results[0]
    truth = truth_for(result, loss)
    scale = np.linalg.norm(truth)
    assert np.linalg.norm(result.reference.gradient - truth) <= result.backends[0].budget / 10 + 1e-15 * scale
    assert_verdicts_match_the_truth(result, truth)


def test_a_phase_dependent_loss_is_undefined_for_every_backend_with_torchs_message():
    result = check(random_complex((4, 3), 5), loss="uv", backends=BACKENDS).results[0]
    assert result.verdict == "undefined"
    assert {b.name: b.verdict for b in result.backends} == dict.fromkeys(BACKENDS, "undefined")
    assert "phase" in result.explanation
    torch = next(b for b in result.backends if b.name == "torch")
    assert torch.status == "undefined" and "depends on this phase term" in torch.message


def test_complex_versions_of_the_seed_matrices():
    phases = np.exp(1j * np.arange(5))[None, None, :]
    rank2 = check(SEED_RANK2 * phases.astype(np.complex64), backends=BACKENDS).results[0]
    assert rank2.dtype == "complex64"
    assert rank2.verdict == "non-unique"
    assert {b.verdict for b in rank2.backends} == {"valid"}
    full = check(SEED_FULL_RANK.astype(np.complex128) * phases, backends=BACKENDS).results[0]
    assert full.verdict == "agree"
    truth = oracle.gradient(full.matrix, "sum")
    assert np.linalg.norm(full.reference.gradient - truth) <= 1e-13 * np.linalg.norm(truth)


def test_the_json_records_the_mapping_and_complex_arrays_as_pairs(runner, tmp_path):
    a = random_complex((3, 3), 11)
    np.save(tmp_path / "a.npy", a)
    args = ["check", str(tmp_path / "a.npy"), "-f", "json", "--include-arrays", "--loss", "polar"]
    result = runner.invoke(cli, [*args, "-b", "jax", "-b", "torch"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["results"]
    assert report["dtype"] == "complex128"
    assert report["backends"]["jax"]["convention"].startswith("conjugated")
    assert report["backends"]["torch"]["convention"].startswith("as returned")
    gradient = np.array(report["gradients"]["torch"])
    reference = np.array(report["reference_gradient"])
    assert gradient.shape == reference.shape == (3, 3, 2)
    weights = np.array(report["loss_weights"]["C"])
    truth = oracle.gradient(a, "polar", weights[..., 0] + 1j * weights[..., 1])
    np.testing.assert_allclose(reference[..., 0] + 1j * reference[..., 1], truth, atol=1e-13)


def test_complex_text_and_dtype_choices(runner, tmp_path):
    (tmp_path / "a.csv").write_text("1+2j,3-1j\n-3.5e-2j,2\n")
    np.savetxt(tmp_path / "b.txt", random_complex((3, 2), 4))  # NumPy's (re+imj) form
    for name in ("a.csv", "b.txt"):
        result = runner.invoke(cli, ["check", str(tmp_path / name), "-b", "autograd", "-f", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["results"][0]["dtype"] == "complex128"
    refused = runner.invoke(cli, ["check", str(tmp_path / "a.csv"), "--dtype", "float64"])
    assert refused.exit_code == 2
    assert "complex input cannot be checked as float64" in refused.output
    np.save(tmp_path / "real.npy", np.eye(3) + np.triu(np.ones((3, 3))))
    widened = runner.invoke(cli, ["check", str(tmp_path / "real.npy"), "--dtype", "complex64", "-f", "json"])
    (report,) = json.loads(widened.stdout)["results"]
    assert report["dtype"] == "complex64" and report["verdict"] == "agree"


def test_a_complex_reproducer_maps_the_convention_as_svdgrad_did(runner, tmp_path):
    np.save(tmp_path / "near.npy", exact([2, 1 + 1e-9, 1, 0.5], seed=3))
    args = ["check", str(tmp_path / "near.npy"), "--loss", "polar", "-b", "jax", "-b", "tensorflow"]
    assert runner.invoke(cli, [*args, "--save-repro", str(tmp_path / "repro")]).exit_code == 1
    for script in sorted((tmp_path / "repro").glob("*.py")):
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd="/")
        assert out.returncode == 0, out.stderr
        said, measured = out.stdout.strip().splitlines()[-2:]
        error = float(said.split("error ")[1].split(",")[0])
        assert float(measured.split("error ")[1].split(" ")[0]) == pytest.approx(error, rel=1e-2), script.name


def test_complex_tensors_in_checkpoints(runner, tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    weight = random_complex((4, 3), 12)
    torch.save({"layer": {"weight": torch.from_numpy(weight)}}, tmp_path / "model.pt")
    safetensors_numpy.save_file({"layer.weight": weight.astype(np.complex64)}, tmp_path / "model.safetensors")
    result = runner.invoke(cli, ["check", str(tmp_path), "--loss", "polar", "-b", "torch", "-f", "json"])
    assert result.exit_code == 0, result.output
    reports = {r["source"].split("/")[-1]: r for r in json.loads(result.stdout)["results"]}
    assert reports["model.pt:layer.weight"]["dtype"] == "complex128"
    assert reports["model.safetensors:layer.weight"]["dtype"] == "complex64"
    assert {r["verdict"] for r in reports.values()} == {"agree"}


def test_complex_cotangents_are_used_as_given_and_refused_for_real_matrices(runner, tmp_path):
    a = random_complex((3, 3), 21)
    c = random_complex((3, 3), 22)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "real.npy", a.real)
    np.savez(tmp_path / "c.npz", C=c)
    args = ["--loss", "polar", "--cotangents", str(tmp_path / "c.npz"), "-b", "torch"]
    result = runner.invoke(cli, ["check", str(tmp_path / "a.npy"), *args, "-f", "json", "--include-arrays"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["results"]
    weights = np.array(report["loss_weights"]["C"])
    np.testing.assert_array_equal(weights[..., 0] + 1j * weights[..., 1], c)
    reference = np.array(report["reference_gradient"])
    truth = oracle.gradient(a, "polar", c)
    np.testing.assert_allclose(reference[..., 0] + 1j * reference[..., 1], truth, atol=1e-13)
    refused = runner.invoke(cli, ["check", str(tmp_path / "real.npy"), *args])
    assert refused.exit_code == 2
    assert "cotangent C is complex; the matrices are real" in refused.output


def test_the_difference_picture_of_a_complex_gradient_is_of_its_modulus():
    pytest.importorskip("matplotlib")
    from svdgrad_cli.render.matrix_plots import difference_figure

    result = check(random_complex((4, 4), 23), loss="polar", backends=("torch",)).results[0]
    figure = difference_figure(result)
    (image,) = figure.axes[0].images
    largest = float(np.nanmax(image.get_array()))
    assert largest == pytest.approx(np.max(np.abs(result.backends[0].gradient - result.reference.gradient)))
