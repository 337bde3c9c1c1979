"""Bring your own SVD (issue 12): backends from specs and entry points, judged like the built-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import with_singular_values

from svdgrad_cli import assert_gradients_ok, check, register_backend, unregister_backend
from svdgrad_cli.cli import cli

ROOT = Path(__file__).parent.parent
EXAMPLES = {
    "torch": "torch:examples.backends.broadened:svd",
    "jax": "jax:examples.backends.jax_broadened:svd",
    "tensorflow": "tensorflow:examples.backends.tf_cutoff:svd",
    "autograd": "autograd:examples.backends.autograd_plain:svd",
}
H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H4 = np.kron(H2, H2) / 2
V4 = (np.eye(4)[[2, 0, 3, 1]] * np.array([1.0, -1.0, 1.0, 1.0])) @ H4


def exact(values) -> np.ndarray:
    return H4 @ np.diag(values) @ V4.T


@pytest.fixture(autouse=True)
def from_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # examples.backends resolves from the current directory, as python -m


@pytest.mark.parametrize("framework", list(EXAMPLES))
@pytest.mark.parametrize("shape", [(5, 5), (6, 4), (4, 6)])
def test_each_frameworks_spec_is_judged_like_a_builtin(framework, shape):
    a = with_singular_values([5.0, 4.0, 3.0, 2.0, 1.0][: min(shape)], shape, seed=3)
    for loss in ("sum", "recon"):
        result = check(a, loss=loss, backends=[EXAMPLES[framework], framework]).results[0]
        verdicts = {b.name: b.verdict for b in result.backends}
        short = EXAMPLES[framework].split(":")[1].rsplit(".", 1)[1] + ".svd"  # e.g. broadened.svd
        assert verdicts == {short: "correct", framework: "correct"}, (loss, verdicts)
        assert result.backends[0].origin == f"spec {EXAMPLES[framework]}"


def test_broadening_is_wrong_at_a_near_tie_and_its_bias_is_reported_as_digits_lost():
    """Lorentzian broadening eps = 1e-12 on 1/(s_j^2 - s_i^2), proj:2 across the gap s_2 - s_3."""
    spec = "broadened=" + EXAMPLES["torch"]
    near = check(exact([2, 1 + 1e-7, 1, 0.5]), loss="proj:2", backends=[spec]).results[0].backends[0]
    assert near.verdict == "wrong" and near.digits < 1  # the term shrinks to about 4%
    apart = check(exact([2, 1.1, 1, 0.5]), loss="proj:2", backends=[spec, "torch"]).results[0].backends
    assert apart[0].verdict == "inaccurate" and apart[1].verdict == "correct"
    assert 9.5 < apart[0].digits < 11.5 < apart[0].justified_digits  # bias eps / gap^2 ~ 2.5e-11
    single = check(exact([2, 1.1, 1, 0.5]).astype(np.float32), loss="proj:2", backends=[spec]).results[0]
    assert single.backends[0].verdict == "correct"  # float32's budget is larger than the bias


@pytest.mark.parametrize("fmt", ["json", "jsonl", "junit", "github", "markdown", "table"])
def test_a_named_spec_appears_in_every_format(runner, tmp_path, fmt):
    np.save(tmp_path / "near.npy", exact([2, 1 + 1e-7, 1, 0.5]))
    args = ["check", str(tmp_path / "near.npy"), "--loss", "proj:2", "-b", f"lorentz={EXAMPLES['torch']}"]
    result = runner.invoke(cli, [*args, "-b", "autograd", "-f", fmt])
    assert result.exit_code == 1, result.output
    assert "lorentz" in result.stdout


def test_the_python_contract_and_register_backend_with_a_spec(tmp_path, monkeypatch):
    (tmp_path / "my_backend.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def compute(stack, loss):
                u, s, vt = np.linalg.svd(stack, full_matrices=False)
                return s, (u * loss.weights(s.shape[-1])[..., None, :]) @ vt
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    a = with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1)
    result = check(a, backends=["mine=python:my_backend:compute"]).results[0]
    assert [(b.name, b.verdict) for b in result.backends] == [("mine", "correct")]
    monkeypatch.chdir(ROOT)
    register_backend("lorentz", EXAMPLES["torch"])
    try:
        assert check(a, backends=["lorentz"]).results[0].backends[0].verdict == "correct"
    finally:
        unregister_backend("lorentz")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tf:x:y", "unknown framework 'tf'"),
        (
            "torch:examples.backends.nowhere:svd",
            "cannot import examples.backends.nowhere (ModuleNotFoundError: No module named "
            "'examples.backends.nowhere'); run from the directory that holds it, or add that directory to "
            "PYTHONPATH",
        ),
        ("torch:examples.backends.broadened:nothing", "has no 'nothing'"),
        ("torch:examples.backends.broadened:EPSILON", "is not callable"),
        ("torch:examples.backends.broadened:broadened_inverse", "cannot be called as broadened_inverse("),
        ("python:examples.backends.broadened:svd", "cannot be called as svd(stack, loss)"),
        ("torch:examples.backends.broadened:svd:w", "expected [NAME=]torch:MODULE:FUNCTION[:v|:vh]"),
        ("name=", "after NAME= comes a spec"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2(runner, tmp_path, spec, message):
    np.save(tmp_path / "a.npy", np.eye(3))
    result = runner.invoke(cli, ["check", str(tmp_path / "a.npy"), "-b", spec])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_module_whose_import_fails_shows_the_errors_first_line(runner, tmp_path, monkeypatch):
    (tmp_path / "broken_backend.py").write_text('raise RuntimeError("needs a GPU\\nsecond line")\n')
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", np.eye(3))
    result = runner.invoke(cli, ["check", "a.npy", "-b", "torch:broken_backend:svd"])
    assert result.exit_code == 2
    assert "cannot import broken_backend (RuntimeError: needs a GPU)" in result.stderr


def test_a_plugin_that_fails_at_run_time_is_failed_while_the_others_run(tmp_path, monkeypatch):
    (tmp_path / "odd_backends.py").write_text(
        textwrap.dedent(
            """
            import time
            import torch

            def no_convergence(a):
                raise ValueError("SVD did not converge")

            def wrong_values(a):
                u, s, vh = torch.linalg.svd(a, full_matrices=False)
                return u, s[..., :1], vh

            def sleepy(stack, loss):
                time.sleep(30)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    a = with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1)
    specs = ["raises=torch:odd_backends:no_convergence", "values=torch:odd_backends:wrong_values", "autograd"]
    result = check(a, loss="polar", backends=specs).results[0]
    by_name = {b.name: b for b in result.backends}
    assert by_name["raises"].verdict == "failed" and "did not converge" in by_name["raises"].message
    # one singular value is a truncated SVD (tests/test_truncated_backends.py): polar needs all three
    assert by_name["values"].verdict == "unsupported" and "returns 1 of 3" in by_name["values"].message
    assert by_name["autograd"].verdict == "correct"
    slow = check(a, backends=["sleepy=python:odd_backends:sleepy", "autograd"], timeout=0.5).results[0]
    assert {b.name: b.verdict for b in slow.backends} == {"sleepy": "failed", "autograd": "correct"}
    assert slow.backends[0].message == "timed out after 0.5 s: killed"  # its worker process was
    assert slow.backends[0].trace[-1].endswith("odd_backends.py:13 in sleepy")  # where it was then


def test_results_of_the_wrong_kind_fail_and_nan_singular_values_are_non_finite(tmp_path, monkeypatch):
    (tmp_path / "kinds.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import torch

            def texts(stack, loss):
                return np.linalg.svd(stack, compute_uv=False), np.full(stack.shape, "0.5")

            def single(a):  # computes in float32: its singular values say so
                return torch.linalg.svd(a.float(), full_matrices=False)

            def complex_gradient(stack, loss):
                u, s, vh = np.linalg.svd(stack, full_matrices=False)
                return s, (u @ vh).astype(complex)

            def nan_values(stack, loss):
                u, s, vh = np.linalg.svd(stack, full_matrices=False)
                return s * np.nan, u @ vh
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    a = with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1)
    names = ["texts", "single", "complex_gradient", "nan_values"]
    specs = [f"{n}={'torch' if n == 'single' else 'python'}:kinds:{n}" for n in names]
    by_name = {b.name: b for b in check(a, backends=[*specs, "autograd"]).results[0].backends}
    assert by_name["texts"].verdict == "failed" and "dtype <U3" in by_name["texts"].message
    assert (
        by_name["single"].verdict == "failed" and "float32 for a float64 stack" in by_name["single"].message
    )
    assert (
        by_name["complex_gradient"].verdict == "failed"
        and "complex128" in by_name["complex_gradient"].message
    )
    assert by_name["nan_values"].verdict == "non-finite"
    assert by_name["nan_values"].message == "3/3 singular values NaN/Inf"
    assert by_name["autograd"].verdict == "correct"


def test_v_given_for_vh_on_a_tall_matrix_is_named_and_the_spec_suffix_fixes_it(tmp_path, monkeypatch):
    """On a tall matrix V and V^T are both k x k: the layout cannot tell them apart, the forward check can."""
    (tmp_path / "layouts.py").write_text(
        "import torch\n\n\ndef v_not_vh(a):\n"
        "    u, s, vh = torch.linalg.svd(a, full_matrices=False)\n    return u, s, vh.mT\n"
    )
    monkeypatch.chdir(tmp_path)
    a = with_singular_values([3.0, 2.0, 1.0], (5, 3), seed=4)
    result = check(a, loss="polar", backends=["torch:layouts:v_not_vh"]).results[0]
    assert result.backends[0].verdict == "wrong"
    (finding,) = [f for f in result.warnings if f.code == "forward-svd"]
    assert "declare which with :v or :vh" in finding.message
    declared = check(a, loss="polar", backends=["torch:layouts:v_not_vh:v"]).results[0]
    assert declared.backends[0].verdict == "correct" and not declared.warnings


def test_save_repro_says_why_a_python_plugins_finding_has_no_script(runner, tmp_path, monkeypatch):
    (tmp_path / "doubling.py").write_text(
        "import numpy as np\n\n\ndef wrong(stack, loss):\n"
        "    u, s, vh = np.linalg.svd(stack, full_matrices=False)\n    return s, 2 * u @ vh\n"
    )
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1))
    args = ["check", "a.npy", "-b", "dbl=python:doubling:wrong", "--save-repro", "repro", "-q"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1 and not list((tmp_path / "repro").glob("*.py"))
    assert "no reproducer for dbl: a python: function" in result.stderr
    assert "nothing to reproduce" not in result.stderr


def test_timeout_bounds_the_forward_call_that_explains_a_finding(tmp_path, monkeypatch):
    """Wrong singular values, fast; its SVD with vectors (asked to explain the finding) takes 3 s."""
    (tmp_path / "slow_vectors.py").write_text(
        textwrap.dedent(
            """
            import time
            import torch

            def svd(a, compute_uv=True):
                if not compute_uv:
                    return 1.5 * torch.linalg.svdvals(a)
                time.sleep(3)
                return torch.linalg.svd(a, full_matrices=False)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    a = with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1)
    (result,) = check(a, backends=["torch:slow_vectors:svd"], timeout=1.0).results[0].backends
    assert result.verdict == "wrong"
    assert result.forward.residual is None  # the call with vectors was abandoned after 1 s ...
    (measured,) = check(a, backends=["torch:slow_vectors:svd"]).results[0].backends
    assert measured.forward.residual is not None  # ... and without --timeout measured, 3 s later


def installed_acme(folder, spec: str) -> dict[str, str]:
    """An installed distribution acme-svd (a .dist-info in ``folder``) whose entry point ``acme`` is
    ``spec``; the environment that puts it on the path."""
    package = folder / "acme_svd"
    package.mkdir()
    (package / "__init__.py").write_text(f"SPEC = {spec!r}\n")
    info = folder / "acme_svd-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-svd\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[svdgrad.backends]\nacme = acme_svd:SPEC\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}


def test_entry_points_are_discovered_listed_and_run(tmp_path):
    """An installed distribution (a .dist-info on the path) registering two backends."""
    env = installed_acme(tmp_path, "torch:examples.backends.broadened:svd")
    svdgrad = [sys.executable, "-m", "svdgrad_cli"]
    listing = subprocess.run(
        [*svdgrad, "backends"], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    (acme,) = [line for line in listing.stdout.splitlines() if line.startswith("acme")]
    assert "available" in acme and "entry point acme_svd:SPEC" in acme
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1))
    args = ["check", str(tmp_path / "a.npy"), "-b", "acme", "-f", "json"]
    run = subprocess.run([*svdgrad, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    backend = json.loads(run.stdout)["results"][0]["backends"]["acme"]
    assert backend["verdict"] == "correct" and backend["origin"] == "entry point acme_svd:SPEC"


def test_an_installed_entry_point_runs_only_where_named(tmp_path):
    """Issue 22 item 4: installing a package adds its backend to `svdgrad backends`, not to every
    default run; `backends` in [tool.svdgrad] enables it as -b does."""
    env = installed_acme(tmp_path, "autograd:examples.backends.autograd_plain:svd")
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1))
    check = [sys.executable, "-m", "svdgrad_cli", "check", "a.npy", "-f", "json"]
    default = subprocess.run(check, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "acme" not in json.loads(default.stdout)["results"][0]["backends"]
    listing = [sys.executable, "-m", "svdgrad_cli", "backends"]
    listed = subprocess.run(listing, capture_output=True, text=True, env=env, cwd=tmp_path)
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith("acme ")]
    assert "available" in row and "runs only where named" in row
    (tmp_path / "pyproject.toml").write_text('[tool.svdgrad]\nbackends = ["autograd", "acme"]\n')
    enabled = subprocess.run(check, capture_output=True, text=True, env=env, cwd=tmp_path)
    backends = json.loads(enabled.stdout)["results"][0]["backends"]
    assert set(backends) == {"autograd", "acme"} and backends["acme"]["status"] == "ok", backends


def test_an_entry_point_that_cannot_load_is_listed_broken_and_named_is_a_usage_error(tmp_path):
    """A package registering a module (not a spec, function or backend): with -b it is a usage error;
    a run of the default backends does not include it (an entry point runs only where named)."""
    info = tmp_path / "broken_svd-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-svd\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[svdgrad.backends]\nbroken = json\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1))
    svdgrad = [sys.executable, "-m", "svdgrad_cli", "check", str(tmp_path / "a.npy")]
    run = subprocess.run([*svdgrad, "-f", "json"], capture_output=True, text=True, env=env)
    backends = json.loads(run.stdout)["results"][0]["backends"]
    assert "broken" not in backends and all(b["verdict"] == "correct" for b in backends.values())
    assert run.returncode == 0
    named = subprocess.run([*svdgrad, "-b", "broken"], capture_output=True, text=True, env=env)
    assert named.returncode == 2 and named.stderr.count("\n") == 1 and "neither a spec" in named.stderr
    listing = [sys.executable, "-m", "svdgrad_cli", "backends"]
    listed = subprocess.run(listing, capture_output=True, text=True, env=env)
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith("broken ")]
    assert "broken" in row.split()[1] and "neither a spec" in row and listed.returncode == 0  # not asked
    asked = subprocess.run([*listing, "torch:no_such_module:svd"], capture_output=True, text=True, env=env)
    assert asked.returncode == 2 and "torch:no_such_module:svd broken" in " ".join(asked.stdout.split())


def test_assert_gradients_ok_raises_with_the_explanation():
    good = np.stack([with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=i) for i in range(3)])
    assert_gradients_ok(EXAMPLES["torch"], good, loss="sum")
    with pytest.raises(AssertionError, match=r"is wrong.*plug-in's own"):
        assert_gradients_ok(EXAMPLES["torch"], exact([2, 1 + 1e-7, 1, 0.5]), loss="proj:2")


def test_a_plugins_reproducer_imports_it_and_runs_from_anywhere(runner, tmp_path):
    np.save(tmp_path / "near.npy", exact([2, 1 + 1e-7, 1, 0.5]))
    repro = tmp_path / "repro"
    args = ["check", str(tmp_path / "near.npy"), "--loss", "proj:2", "-b", f"lorentz={EXAMPLES['torch']}"]
    assert runner.invoke(cli, [*args, "--save-repro", str(repro)]).exit_code == 1
    (script,) = repro.glob("*.py")
    assert "from examples.backends.broadened import svd as plugin_svd" in script.read_text()
    doc = " ".join(script.read_text().split())  # the packages to install, not the backend's name
    assert "needs only NumPy and torch and the plug-in's module examples.backends.broadened." in doc
    assert "NumPy and lorentz" not in doc
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    said, measured = out.stdout.strip().splitlines()[-2:]
    error = float(said.split("error ")[1].split(",")[0])
    assert float(measured.split("error ")[1].split(" ")[0]) == pytest.approx(error, rel=1e-2)


def test_two_backends_reported_under_one_name_are_refused(runner, tmp_path):
    np.save(tmp_path / "a.npy", np.eye(3))
    result = runner.invoke(
        cli, ["check", str(tmp_path / "a.npy"), "-b", f"torch={EXAMPLES['torch']}", "-b", "torch"]
    )
    assert result.exit_code == 2
    assert "would both be reported as 'torch'; name one with NAME=SPEC" in result.stderr
    twins = ["-b", EXAMPLES["torch"], "-b", "other=" + EXAMPLES["torch"]]
    assert runner.invoke(cli, ["check", str(tmp_path / "a.npy"), *twins, "-q"]).exit_code == 0
