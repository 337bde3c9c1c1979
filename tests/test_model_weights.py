"""Checking a model's weights as users keep them (issue 22): a conv kernel is one matrix, the reshape is
named, the .pth and the safetensors of the same weights give the same answer, and --reshape never
changes what a plain array means."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest

from svdgrad_cli.cli import cli


def resnet_like():
    """A ResNet-shaped module, small: a 7x7 stem conv of 64 filters, batch norms (with their integer
    num_batches_tracked), two blocks of 3x3 convs with 1x1 downsample convs, and an fc layer."""
    from torch import nn

    def block(cin: int, cout: int) -> nn.Module:
        return nn.ModuleDict(
            {
                "conv1": nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                "bn1": nn.BatchNorm2d(cout),
                "conv2": nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                "bn2": nn.BatchNorm2d(cout),
                "downsample": nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)),
            }
        )

    layers = OrderedDict(
        conv1=nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        bn1=nn.BatchNorm2d(64),
        layer1=block(64, 8),
        layer2=block(8, 4),
        fc=nn.Linear(4, 10),
    )
    return nn.Sequential(layers)


KERNELS = {  # the torch tensors of 3+ dimensions and the matrix each is checked as (out, in*kh*kw)
    "conv1.weight": ((64, 3, 7, 7), (64, 147)),
    "layer1.conv1.weight": ((8, 64, 3, 3), (8, 576)),
    "layer1.conv2.weight": ((8, 8, 3, 3), (8, 72)),
    "layer1.downsample.0.weight": ((8, 64, 1, 1), (8, 64)),
    "layer2.conv1.weight": ((4, 8, 3, 3), (4, 72)),
    "layer2.conv2.weight": ((4, 4, 3, 3), (4, 36)),
    "layer2.downsample.0.weight": ((4, 8, 1, 1), (4, 8)),
}


@pytest.fixture(scope="module")
def torch_weights(tmp_path_factory):
    """The same weights saved with torch.save (.pth) and as safetensors."""
    import safetensors.torch
    import torch

    torch.manual_seed(0)
    state = resnet_like().state_dict()
    folder = tmp_path_factory.mktemp("resnet")
    torch.save(state, folder / "resnet.pth")
    safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, folder / "resnet.safetensors")
    return folder, state


def check_json(runner, path, *args):
    result = runner.invoke(cli, ["check", str(path), "-b", "autograd", "-f", "json", *args])
    return result.exit_code, json.loads(result.stdout)


def by_tensor(doc) -> dict[str, dict]:
    return {r["source"].split(":", 1)[1]: r for r in doc["results"]}


def test_a_resnets_conv_kernels_are_one_matrix_each_and_pth_and_safetensors_agree(runner, torch_weights):
    folder, state = torch_weights
    code, pth = check_json(runner, folder / "resnet.pth")
    assert code == 0 and pth["settings"]["reshape"] == "auto"
    results = by_tensor(pth)
    assert set(results) == {*KERNELS, "fc.weight"}  # 8 matrices, not 64*3 + 8*64 + ... stacks of kh x kw
    for name, (stored, matrix) in KERNELS.items():
        assert tuple(results[name]["shape"]) == matrix
        assert (
            results[name]["reshaped"] == f"{stored} as {matrix[0]}x{matrix[1]} (rows: first axis by the rest)"
        )
        values = np.linalg.svd(state[name].double().numpy().reshape(matrix), compute_uv=False)
        np.testing.assert_allclose(
            results[name]["reference"]["singular_values"], values, rtol=1e-5
        )  # spectral norm's matrix
    assert results["fc.weight"]["reshaped"] is None and results["fc.weight"]["shape"] == [10, 4]
    skipped = {s["source"].split(":", 1)[1]: s["reason"] for s in pth["skipped"]}
    assert skipped["bn1.num_batches_tracked"] == "a scalar, not a matrix"
    assert "1-D tensor" in skipped["layer1.downsample.1.running_var"]
    code, safe = check_json(runner, folder / "resnet.safetensors")
    assert code == 0
    for name, result in by_tensor(safe).items():  # the same weights: the same answer
        theirs = results[name]
        assert (result["shape"], result["reshaped"], result["verdict"]) == (
            theirs["shape"],
            theirs["reshaped"],
            theirs["verdict"],
        )
        assert result["reference"]["singular_values"] == theirs["reference"]["singular_values"]
    assert set(by_tensor(safe)) == set(results) and safe["summary"]["skipped"] == pth["summary"]["skipped"]


def test_the_reshape_is_named_in_the_panel_and_in_verbose_and_stack_stays_available(runner, torch_weights):
    folder, _ = torch_weights
    path = folder / "resnet.pth"
    args = ["check", str(path), "-b", "autograd", "--select", "conv1.weight", "-v"]
    result = runner.invoke(cli, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "kernel (64, 3, 7, 7) as 64x147 (rows: first axis by the rest)" in result.stdout
    assert (
        f"svdgrad: checked {path}:conv1.weight: 64x147 float32, agree; kernel (64, 3, 7, 7) as 64x147"
        in result.stderr
    )
    code, doc = check_json(runner, path, "--select", "layer2.downsample.0.weight", "--reshape", "stack")
    assert code == 0 and doc["summary"]["matrices"] == 4 * 8  # the kh x kw (1x1) reading, on request
    assert {tuple(r["shape"]) for r in doc["results"]} == {(1, 1)} and doc["results"][0]["reshaped"] is None


def test_keras_conv_kernels_are_one_matrix_each_outputs_last(runner, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(16, 3),
            keras.layers.Conv2D(8, 1),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )
    model.save(tmp_path / "model.keras")
    model.save_weights(tmp_path / "model.weights.h5")
    kernel = model.layers[0].kernel.numpy()
    answers = []
    for name in ("model.keras", "model.weights.h5"):
        code, doc = check_json(runner, tmp_path / name)
        assert code == 0
        results = by_tensor(doc)
        conv, pointwise = results["layers/conv2d/vars/0"], results["layers/conv2d_1/vars/0"]
        assert (
            conv["shape"] == [27, 16]
            and conv["reshaped"] == "(3, 3, 3, 16) as 27x16 (columns: the rest by the last axis)"
        )
        assert pointwise["shape"] == [16, 8] and results["layers/dense/vars/0"]["reshaped"] is None
        values = np.linalg.svd(kernel.astype(np.float64).reshape(27, 16), compute_uv=False)
        np.testing.assert_allclose(conv["reference"]["singular_values"], values, rtol=1e-5)
        assert doc["summary"]["matrices"] == 3
        answers.append(
            {k: (r["shape"], r["verdict"], r["reference"]["singular_values"]) for k, r in results.items()}
        )
    assert answers[0] == answers[1]


@pytest.mark.parametrize("where", ["command line", "pyproject"])
def test_reshape_never_changes_a_plain_array(runner, tmp_path, monkeypatch, where):
    """Issue 22 item 2: --reshape concerns checkpoints; a (1, 5, 5) .npy stays one 5x5 matrix and a
    (3, 5, 5) stack three, whatever --reshape or [tool.svdgrad] reshape says."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "seed.npy", rng.standard_normal((1, 5, 5)))
    np.save(tmp_path / "stack.npy", rng.standard_normal((3, 5, 5)))
    np.savez(tmp_path / "kernels.npz", w=rng.standard_normal((2, 5, 5)))
    monkeypatch.chdir(tmp_path)
    if where == "pyproject":
        (tmp_path / "pyproject.toml").write_text('[tool.svdgrad]\nreshape = "rows"\n')
    option = ["--reshape", "rows"] if where == "command line" else []
    result = runner.invoke(cli, ["check", ".", "-b", "autograd", "-f", "json", "--glob", "*.np*", *option])
    doc = json.loads(result.stdout)
    assert doc["settings"]["reshape"] == "rows"
    assert [(r["source"], r["index"], r["shape"]) for r in doc["results"]] == [
        ("./kernels.npz:w", [0], [5, 5]),
        ("./kernels.npz:w", [1], [5, 5]),
        ("./seed.npy", [], [5, 5]),
        ("./stack.npy", [0], [5, 5]),
        ("./stack.npy", [1], [5, 5]),
        ("./stack.npy", [2], [5, 5]),
    ]
    assert all(r["reshaped"] is None for r in doc["results"])


def test_progress_counts_a_checkpoints_matrices_from_its_headers(torch_weights):
    """Issue 22 item 9: the total inside one file is known before its matrices are judged."""
    from svdgrad_cli.inputs.loading import count_matrices
    from svdgrad_cli.inputs.tensors import Selection

    folder, _ = torch_weights
    for name in ("resnet.pth", "resnet.safetensors"):
        assert count_matrices(str(folder / name), Selection()) == len(KERNELS) + 1
        stacked = sum(stored[0] * stored[1] for stored, _ in KERNELS.values()) + 1  # + fc
        assert count_matrices(str(folder / name), Selection(reshape="stack")) == stacked
    assert count_matrices(str(folder / "resnet.pth"), Selection(select=("fc.*",))) == 1
