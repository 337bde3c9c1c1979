"""--save-repro: stand-alone scripts that reproduce a finding with the framework alone."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import with_singular_values

from svdgrad_cli.backends import registry
from svdgrad_cli.cli import cli
from svdgrad_cli.numerics.losses import SPECTRAL_KINDS, VECTOR_KINDS, WITH_ORDER, parse_loss
from svdgrad_cli.pipeline.run import check
from svdgrad_cli.repro import NOTHING_TO_REPRODUCE, claim, file_stem, framework_code, write_reproducers
from svdgrad_cli.verdicts import BackendVerdict

FRAMEWORKS = ("autograd", "tensorflow", "torch", "jax")
# Every loss of losses.py, with an order where it takes one.
LOSSES = [kind + (":2" if kind in WITH_ORDER else "") for kind in (*SPECTRAL_KINDS, *VECTOR_KINDS)]
NOTHING = "svdgrad: " + NOTHING_TO_REPRODUCE


def run_script(script, cwd=None) -> str:
    """Run a script as a user would: ``python NAME`` beside it, or ``python PATH`` from ``cwd``."""
    path = script.name if cwd is None else str(script)
    out = subprocess.run([sys.executable, path], cwd=cwd or script.parent, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def said(judged: dict) -> str:
    """The line a script prints for what svdgrad said, from the JSON report."""
    if judged["verdict"] == "non-finite":
        return "svdgrad said: non-finite, 16 of 16 entries NaN/Inf"
    digits = (
        f"{max(judged['digits'], 0.0):.1f} of {judged['justified_digits']:.1f} justified digits"  # none < 0
    )
    error = f"error {judged['error']:.2e}, budget {judged['budget']:.2e}"
    return f"svdgrad said: {judged['verdict']}, {error} ({digits})"


def this_run(error: float, non_finite: int = 0) -> str:
    return f"this run: error {error:.2e} from the reference gradient; {non_finite} non-finite entries"


def backends(*names: str) -> list[str]:
    return [option for name in names for option in ("-b", name)]


def check_json(runner, paths, *options):
    result = runner.invoke(cli, ["check", *map(str, paths), "-f", "json", *map(str, options)])
    assert result.exit_code in (0, 1), result.output
    return result, json.loads(result.stdout)["results"]


@pytest.fixture(scope="module")
def tie_polar(tmp_path_factory):
    """polar at diag(3, 2, 2, 1), every framework in one run: TensorFlow's safe reciprocal drops the
    whole tie term (finite and wrong); autograd, torch and jax divide by the zero gap (NaN)."""
    tmp = tmp_path_factory.mktemp("tie_polar")
    np.save(tmp / "tie.npy", np.diag([3.0, 2.0, 2.0, 1.0]))
    options = ["--loss", "polar", *backends(*FRAMEWORKS), "--save-repro", tmp / "repro"]
    result, results = check_json(CliRunner(), [tmp / "tie.npy"], *options)
    return results[0]["backends"], tmp / "repro", result.stderr


@pytest.mark.parametrize("backend", FRAMEWORKS)
def test_every_backends_script_prints_what_svdgrad_said_and_what_it_measures(tie_polar, backend):
    judged, repro, stderr = tie_polar
    assert judged[backend]["verdict"] == ("wrong" if backend == "tensorflow" else "non-finite")
    script = repro / f"tie-{backend}.py"
    assert f"wrote reproducer {script}" in stderr
    text = script.read_text()
    assert "import svdgrad" not in text and "eval(" not in text  # numpy and the framework only, no ops
    output = run_script(script).splitlines()
    assert output[-2] == said(judged[backend])
    if backend == "tensorflow":
        assert output[-1] == this_run(judged[backend]["error"])
    else:
        assert output[-1] == "this run: error nan from the reference gradient; 16 non-finite entries"


@pytest.mark.parametrize("backend", FRAMEWORKS)
def test_each_script_describes_its_own_backends_finding(tie_polar, backend):
    judged, repro, _ = tie_polar
    doc = " ".join(ast.get_docstring(ast.parse((repro / f"tie-{backend}.py").read_text())).split())
    assert f"{backend} {registry.installed_version(backend)}" in doc
    assert f"loss polar, {repro.parent / 'tie.npy'}: {judged[backend]['verdict']}." in doc
    assert not [other for other in FRAMEWORKS if other != backend and other in doc]
    if backend == "tensorflow":
        finding = judged[backend]
        assert f"{finding['error']:.3g}, budget {finding['budget']:.3g}" in doc
        assert (
            f"{finding['digits']:.1f} correct digits where the data justify {finding['justified_digits']:.1f}"
            in doc
        )
        assert f"{10 ** -finding['digits']:.2g} relative error" in doc  # error / ||G|| = 10 ** -digits
    else:
        assert "16 of 16 entries NaN/Inf" in doc


def test_scripts_run_from_any_directory(runner, tmp_path):
    np.save(tmp_path / "tie.npy", np.diag([1.0, 1.0, 2.0, 3.0]))
    repro = tmp_path / "out" / "repro"
    check_json(runner, [tmp_path / "tie.npy"], "--loss", "recon", "-b", "autograd", "--save-repro", repro)
    (script,) = repro.glob("*.py")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, path in ((tmp_path, script.relative_to(tmp_path)), (elsewhere, script)):
        out = subprocess.run([sys.executable, str(path)], cwd=cwd, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.endswith("16 non-finite entries\n")


def test_a_wrong_polar_gradient_is_reproduced_with_its_error(runner, tmp_path):
    np.save(tmp_path / "near_tie.npy", with_singular_values([3.0, 2.0, 2.0, 1.0], (4, 4), seed=1))
    options = ["--loss", "polar", "-b", "autograd", "--save-repro", tmp_path / "repro"]
    _, results = check_json(runner, [tmp_path / "near_tie.npy"], *options)
    judged = results[0]["backends"]["autograd"]
    if judged["verdict"] != "wrong":
        pytest.skip(f"this autograd build lands on the right gradient here ({judged['verdict']})")
    (script,) = (tmp_path / "repro").glob("*.py")
    output = run_script(script).splitlines()
    assert output[-2:] == [said(judged), this_run(judged["error"])]


def test_an_inaccurate_backend_is_reproduced(runner, tmp_path):
    """float32 with a budget far below float32's rounding: digits lost, not wrong."""
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (4, 3), seed=0))
    options = ["--loss", "polar", "-b", "autograd", "--dtype", "float32", "--rtol", "1e-12", "--atol", "0"]
    _, results = check_json(runner, [tmp_path / "a.npy"], *options, "--save-repro", tmp_path / "repro")
    judged = results[0]["backends"]["autograd"]
    assert judged["verdict"] == "inaccurate"
    output = run_script(tmp_path / "repro" / "a-autograd.py").splitlines()
    assert output[-2] == said(judged)
    assert output[-1].startswith(f"this run: error {judged['error']:.2e} ")


@pytest.mark.parametrize("loss", LOSSES)
def test_every_losses_script_computes_the_gradient_svdgrad_computed(tmp_path, loss, capsys):
    """The loss written out in each framework's own calls gives svdgrad's backend's gradient: every
    backend is made a finding and each generated script is executed in this process."""
    report = check(
        with_singular_values([3.0, 2.0, 0.5], (4, 3), seed=2), loss=loss, backends=FRAMEWORKS
    ).results[0]
    findings = tuple(replace(b, verdict=BackendVerdict.WRONG) for b in report.backends)
    reference = replace(report.reference, gradient=np.zeros((4, 3)))  # uv has none: any array will do
    scripts = write_reproducers(
        replace(report, backends=findings, reference=reference), loss, tmp_path, {}, False
    )
    assert [s.name for s in scripts] == [f"array-{name}.py" for name in FRAMEWORKS]
    for script, backend in zip(scripts, report.backends, strict=True):
        namespace = {"__file__": str(script), "__name__": "__main__"}
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        np.testing.assert_allclose(
            namespace["g"], backend.gradient, rtol=1e-10, atol=1e-14, err_msg=script.name
        )
    assert "this run: error" in capsys.readouterr().out


def test_the_loss_is_plain_framework_code():
    torch_ops = registry.BUILTIN["torch"].module.SCRIPT_OPS
    polar = parse_loss("polar").expression
    assert framework_code(polar, torch_ops) == "torch.sum(C * torch.matmul(u, torch.transpose(v, -1, -2)))"
    recon = framework_code(parse_loss("recon").expression, registry.BUILTIN["jax"].module.SCRIPT_OPS)
    product = "jnp.matmul(u * s[..., None, :], jnp.swapaxes(v, -1, -2))"
    assert recon == f"jnp.sum(jnp.sqrt(jnp.sum({product} ** 2, axis=(-2, -1))))"
    tf = framework_code(parse_loss("sv:2").expression, registry.BUILTIN["tensorflow"].module.SCRIPT_OPS)
    assert tf == "tf.reduce_sum(s[..., :2] * w)"  # no axes: the keyword is dropped; the top K only
    top = framework_code(parse_loss("polar:3").expression, torch_ops)  # a truncated SVD's 3 triplets
    assert top == "torch.sum(C * torch.matmul(u[..., :, :3], torch.transpose(v[..., :, :3], -1, -2)))"


@pytest.mark.parametrize(
    "expression",
    [
        "ops.logdet(u)",  # an op no template spells
        "ops.sum(u, keepdims=True)",  # a keyword other than axes
        "ops.sum(u.T)",  # an attribute other than ops.<op>
        "__import__('os')",  # a call of anything but ops
        "ops.sum(u) / 2",  # an operator outside the grammar
        "ops.sum(ops)",  # ops other than as ops.<op>(...)
        "[ops.sum(u)][0]",
    ],
)
def test_anything_outside_the_loss_grammar_is_refused(expression):
    with pytest.raises(ValueError):
        framework_code(expression, registry.BUILTIN["torch"].module.SCRIPT_OPS)


@pytest.mark.parametrize(
    ("source", "index", "stem"),
    [
        ("data/stack_rep.npy", (1,), "stack_rep-1-torch"),
        ("stack_rep.npy", (2, 3), "stack_rep-2-3-torch"),
        ("dir/file.npz:member", (), "file-member-torch"),
        ("file.npz:group/m", (0,), "file-group_m-0-torch"),
        ("-", (), "stdin-torch"),
        ("-:member", (), "stdin-member-torch"),
        ("my matrix (1).csv", (), "my_matrix_1-torch"),
        ("-dash.npy", (), "dash-torch"),  # never a name python reads as an option
        ("<array>", (), "array-torch"),
        ("ü.npy", (), "matrix-torch"),
    ],
)
def test_file_stems_name_the_file_member_and_index(source, index, stem):
    report = check(np.eye(2), backends=["autograd"]).results[0]
    assert file_stem(replace(report, source=source, index=index), "torch") == stem


def test_a_stem_taken_in_the_run_gets_a_number():
    taken: set[str] = set()
    assert [claim(s, taken) for s in ("tie-torch", "tie-torch", "Tie-torch", "tie-jax")] == [
        "tie-torch",
        "tie-torch-2",
        "Tie-torch-3",  # one file on a case-insensitive file system
        "tie-jax",
    ]


def test_reproducers_of_one_run_never_overwrite_each_other(tmp_path):
    report = check(np.diag([3.0, 2.0, 2.0, 1.0]), loss="recon", backends=["autograd"]).results[0]
    taken: set[str] = set()
    first = write_reproducers(report, "recon", tmp_path, {}, False, taken)
    second = write_reproducers(report, "recon", tmp_path, {}, False, taken)
    assert [p.name for p in first + second] == ["array-autograd.py", "array-autograd-2.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "array-autograd-2.npz",
        "array-autograd-2.py",
        "array-autograd.npz",
        "array-autograd.py",
    ]


def test_stack_members_and_archive_members_name_their_scripts(runner, tmp_path):
    np.save(tmp_path / "stack_rep.npy", np.stack([np.diag([3.0, 2.0, 2.0, 1.0])] * 2))
    np.savez(tmp_path / "file.npz", member=np.diag([1.0, 1.0, 2.0]))
    repro = tmp_path / "repro"
    paths = [tmp_path / "stack_rep.npy", tmp_path / "file.npz"]
    check_json(runner, paths, "--loss", "recon", "-b", "autograd", "--save-repro", repro)
    scripts = ["file-member-autograd.py", "stack_rep-0-autograd.py", "stack_rep-1-autograd.py"]
    assert sorted(p.name for p in repro.glob("*.py")) == scripts


def test_two_files_of_one_name_get_two_scripts(runner, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "tie.npy", np.diag([3.0, 2.0, 2.0, 1.0]))
    repro = tmp_path / "repro"
    paths = [tmp_path / "a", tmp_path / "b"]
    check_json(runner, paths, "--loss", "recon", "-b", "autograd", "--save-repro", repro)
    assert sorted(p.name for p in repro.glob("*.py")) == ["tie-autograd-2.py", "tie-autograd.py"]


def test_nothing_is_written_when_every_backend_is_right(runner, tmp_path):
    np.save(tmp_path / "fine.npy", np.diag([3.0, 2.0, 1.0]))
    repro = tmp_path / "repro"
    result = runner.invoke(
        cli,
        [
            "check",
            str(tmp_path / "fine.npy"),
            "--loss",
            "polar",
            "-b",
            "autograd",
            "--save-repro",
            str(repro),
        ],
    )
    assert result.exit_code == 0
    assert not repro.exists()


def test_a_run_with_nothing_to_reproduce_says_so(runner, tmp_path):
    np.save(tmp_path / "fine.npy", np.diag([3.0, 2.0, 1.0]))
    args = ["check", str(tmp_path / "fine.npy"), "--loss", "polar", "-b", "autograd", "-q"]
    result = runner.invoke(cli, [*args, "--save-repro", str(tmp_path / "repro")])
    assert result.exit_code == runner.invoke(cli, args).exit_code == 0
    assert NOTHING in result.stderr.splitlines()
