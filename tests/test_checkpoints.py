"""Model checkpoints (safetensors, PyTorch, Keras), written by the real libraries: every 2-D weight is
found under its real name with its values, in every output format; selection, reshaping, dtypes;
hostile and malformed files are one clear error each and never run code."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli.cli import cli
from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.arrays import MatrixCase, Skipped
from svdgrad_cli.inputs.discovery import DEFAULT_GLOBS
from svdgrad_cli.inputs.loading import load_files
from svdgrad_cli.inputs.tensors import closest_names
from svdgrad_cli.model import source_file
from svdgrad_cli.render.github import escape_property
from svdgrad_cli.render.markdown import inline

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow
SAMPLE = Path(__file__).parent.parent / "sample_matrices" / "tiny_encoder.safetensors"
FORMATS = ("json", "jsonl", "junit", "github", "markdown", "table")
# Keras's own saving code trips a NumPy 2 deprecation; it is not svdgrad's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


class Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def split(items) -> tuple[dict[str, MatrixCase], dict[str, str], list[InputError]]:
    """Matrices by label, skipped tensors' reasons by source, and the errors."""
    cases = {i.label: i for i in items if isinstance(i, MatrixCase)}
    skipped = {i.source: i.reason for i in items if isinstance(i, Skipped)}
    errors = [i for i in items if isinstance(i, InputError)]
    assert len(cases) + len(skipped) + len(errors) == len(items)
    return cases, skipped, errors


def load(path, **options) -> list:
    return list(load_files([str(path)], **options))


def run(runner, *args):
    return runner.invoke(cli, ["check", *map(str, args), "-b", "autograd"], env={"COLUMNS": "300"})


def torch_model():
    import torch

    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4))
    return torch.nn.ModuleDict({"encoder": encoder, "head": torch.nn.Linear(4, 3)})


def keras_models():
    import keras

    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6), keras.layers.Dense(3)])
    conv = keras.Sequential([keras.Input((5, 5, 2)), keras.layers.Conv2D(4, 3), keras.layers.Flatten()])
    return dense, conv


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """name -> (path, {2-D tensor name: values}, {1-D tensor name: length}), one of each format."""
    import safetensors.numpy
    import safetensors.torch
    import torch

    folder = tmp_path_factory.mktemp("checkpoints")
    state = torch_model().state_dict()
    weights = {k: v.numpy().copy() for k, v in state.items() if v.ndim == 2}
    biases = {k: v.shape[0] for k, v in state.items() if v.ndim == 1}
    torch.save(state, folder / "model.pt")
    safetensors.torch.save_file(state, folder / "torch.safetensors")
    safetensors.numpy.save_file({k: v.numpy() for k, v in state.items()}, folder / "numpy.safetensors")
    dense, _ = keras_models()
    dense.save(folder / "model.keras")
    dense.save_weights(folder / "model.weights.h5")
    kernels = {f"layers/{name}/vars/0": layer.kernel.numpy()
               for name, layer in zip(("dense", "dense_1"), dense.layers, strict=True)}  # fmt: skip
    keras_biases = {"layers/dense/vars/1": 6, "layers/dense_1/vars/1": 3}
    found = {name: (folder / name, weights, biases) for name in ("model.pt", "torch.safetensors")}
    found["numpy.safetensors"] = (folder / "numpy.safetensors", weights, biases)
    for name in ("model.keras", "model.weights.h5"):
        found[name] = (folder / name, kernels, keras_biases)
    return found


# ---- every format, every weight


KINDS = ("model.pt", "torch.safetensors", "numpy.safetensors", "model.keras", "model.weights.h5")


@pytest.mark.parametrize("kind", KINDS)
def test_every_2d_weight_is_found_by_name_with_its_values(checkpoints, kind):
    path, weights, biases = checkpoints[kind]
    cases, skipped, errors = split(load(path))
    assert errors == []
    assert set(cases) == {f"{path}:{name}" for name in weights}
    for name, values in weights.items():
        case = cases[f"{path}:{name}"]
        assert case.array.dtype == np.float32 and case.stored_dtype is None
        np.testing.assert_array_equal(case.array, values)
    assert skipped == {
        f"{path}:{n}": f"a 1-D tensor of length {length}, not a matrix" for n, length in biases.items()
    }


def test_directories_of_checkpoints_are_searched(checkpoints):
    assert {"*.safetensors", "*.pt", "*.pth", "*.bin", "*.h5", "*.keras"} <= set(DEFAULT_GLOBS)


def labels_of(checkpoints) -> dict[str, tuple[str, np.ndarray]]:
    """Every 2-D weight's label -> (its file, its values)."""
    found = {}
    for path, weights, _ in checkpoints.values():
        found |= {f"{path}:{name}": (str(path), values) for name, values in weights.items()}
    return found


def check_json(stdout: str, expected) -> None:
    doc = json.loads(stdout)
    results = {r["source"]: r for r in doc["results"]}
    assert set(results) == set(expected)
    for label, (_, values) in expected.items():
        reference = results[label]["reference"]["singular_values"]
        np.testing.assert_allclose(reference, np.linalg.svd(values.astype(np.float64), compute_uv=False))
        assert results[label]["shape"] == list(values.shape)
    assert doc["summary"]["skipped"] == 3 * 3 + 2 * 2


def check_jsonl(stdout: str, expected) -> None:
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert {line["source"] for line in lines if line["type"] == "result"} == set(expected)


def check_junit(stdout: str, expected) -> None:
    cases = ET.fromstring(stdout.split("?>", 1)[1]).iter("testcase")
    assert {(c.get("classname"), c.get("file")) for c in cases} == {(k, v[0]) for k, v in expected.items()}


def check_github(stdout: str, expected) -> None:
    for label, (path, _) in expected.items():
        assert f"file={escape_property(path)}," in stdout
        assert f"%3A {escape_property(label)}::" in stdout  # the title: "svdgrad <verdict>: <label>"


def check_text(stdout: str, expected) -> None:
    for label in expected:
        assert label in stdout.replace("\\", "")  # markdown escapes the _ of dense_1


@pytest.mark.parametrize("output_format", FORMATS)
def test_the_cli_reports_every_weight_in_every_format(runner, checkpoints, output_format):
    folder = next(iter(checkpoints.values()))[0].parent
    extra = {"github": ("--rtol", "0", "--atol", "0"), "table": ("--details",)}.get(output_format, ())
    result = run(runner, folder, "-f", output_format, *extra)  # --rtol 0: every matrix is annotated
    assert result.exit_code == 0, result.stderr  # inaccurate is not in the default --fail-on
    checker = {"json": check_json, "jsonl": check_jsonl, "junit": check_junit, "github": check_github}
    checker.get(output_format, check_text)(result.stdout, labels_of(checkpoints))


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("m.safetensors:encoder.0.weight", "m.safetensors"),
        ("dir/model.keras:layers/dense_1/vars/0", "dir/model.keras"),
        ("a.weights.h5:layers/dense/vars/0", "a.weights.h5"),
        ("x/pytorch_model.bin:model.head.weight", "x/pytorch_model.bin"),
        ("m.PTH:w", "m.PTH"),
        ("plain.pt", "plain.pt"),
        ("in/we:ird.csv", "in/we:ird.csv"),
        ("-:encoder.0.weight", None),
    ],
)
def test_source_file_drops_the_tensor_name(source, path):
    assert source_file(source) == path


# ---- selection


def test_select_and_skip_pick_tensors_by_name_and_say_why(checkpoints):
    path = checkpoints["torch.safetensors"][0]
    heard = []
    items = load(path, select=("encoder.*",), skip=("*.bias",), on_file=heard.append)
    cases, skipped, _ = split(items)
    assert set(cases) == {f"{path}:encoder.0.weight", f"{path}:encoder.2.weight"}
    assert skipped == {
        f"{path}:encoder.0.bias": "skipped by --skip '*.bias'",
        f"{path}:encoder.2.bias": "skipped by --skip '*.bias'",
        f"{path}:head.bias": "not selected by --select 'encoder.*'",
        f"{path}:head.weight": "not selected by --select 'encoder.*'",
    }
    assert heard == [str(path), f"{path}:encoder.0.weight", f"{path}:encoder.2.weight"]  # progress


def test_selection_is_case_sensitive_and_patterns_add_up(checkpoints):
    path = checkpoints["model.pt"][0]
    assert split(load(path, select=("ENCODER.*",)))[0] == {}
    cases, skipped, _ = split(load(path, select=("head.*", "*.2.weight")))
    assert set(cases) == {f"{path}:head.weight", f"{path}:encoder.2.weight"}
    assert skipped[f"{path}:encoder.0.weight"] == "not selected by --select 'head.*' or '*.2.weight'"


def test_tensors_not_selected_are_never_read(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "big.safetensors"
    save_file({"big": np.ones((300, 300), np.float32), "small": np.eye(3, dtype=np.float32)}, path)
    cases, _, errors = split(load(path, max_elements=1000, select=("small",)))
    assert list(cases) == [f"{path}:small"] and errors == []  # the limit is not even looked at
    (error,) = split(load(path, max_elements=1000))[2]
    assert str(error) == (
        f"{path}:big: declares shape (300, 300) (90,000 values), over the limit of 1,000; "
        "raise --max-elements to check it anyway"
    )


def test_selection_applies_to_npz_members_and_skips_them_unopened(tmp_path):
    path = tmp_path / "archive.npz"
    np.savez(path, weight=np.eye(3), other=np.eye(2))
    import zipfile

    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("broken.npy", b"not an npy at all")
    cases, skipped, errors = split(load(path, skip=("broken",)))
    assert set(cases) == {f"{path}:weight", f"{path}:other"} and errors == []
    assert skipped == {f"{path}:broken": "skipped by --skip 'broken'"}
    cases, skipped, errors = split(load(path, select=("w*",)))
    assert list(cases) == [f"{path}:weight"] and len(skipped) == 2 and errors == []


def test_the_cli_counts_and_names_what_it_passed_over(runner, checkpoints):
    path = checkpoints["model.pt"][0]
    result = run(runner, path, "--select", "encoder.*", "--skip", "*.bias", "-v", "-q")
    assert result.exit_code == 0
    assert "2 matrices checked (2 agree); 4 skipped" in result.stdout
    assert f"svdgrad: skipped {path}:head.weight: not selected by --select 'encoder.*'" in result.stderr
    assert f"svdgrad: skipped {path}:encoder.0.bias: skipped by --skip '*.bias'" in result.stderr


# ---- layouts: nested dicts, kernels, legacy files, stdin


def test_nested_dicts_become_dotted_names_and_non_tensors_are_skipped(tmp_path):
    import torch

    model = torch_model()
    optimizer = torch.optim.Adam(model.parameters())
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    path = tmp_path / "training.pth"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 7}, path)
    cases, skipped, errors = split(load(path))
    assert errors == []
    weight = model.state_dict()["head.weight"].numpy()
    np.testing.assert_array_equal(cases[f"{path}:model.head.weight"].array, weight)
    assert f"{path}:optimizer.state.5.exp_avg" not in cases  # state 5 is head.bias: 1-D
    assert f"{path}:optimizer.state.4.exp_avg" in cases and f"{path}:optimizer.state.4.exp_avg_sq" in cases
    assert skipped[f"{path}:epoch"] == "not a tensor but a Python int"
    assert skipped[f"{path}:optimizer.param_groups.0.params"] == "not a tensor but a Python list"
    assert skipped[f"{path}:optimizer.state.0.step"] == "a scalar, not a matrix"


def test_legacy_torch_files_load(tmp_path):
    import torch

    path = tmp_path / "legacy.pt"
    state = torch_model().state_dict()
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:1] == b"\x80"
    cases, _, errors = split(load(path))
    assert errors == [] and len(cases) == 3
    np.testing.assert_array_equal(cases[f"{path}:head.weight"].array, state["head.weight"].numpy())


def test_torch_conv_kernels_are_one_matrix_each_as_spectral_norm_reads_them(tmp_path):
    """auto: (out, in, kh, kw) -> (out, in*kh*kw), the matrix torch.nn.utils.spectral_norm normalises
    (weight.reshape(weight.size(0), -1)); stack keeps the kh x kw reading, columns the last axis."""
    import torch

    kernel = torch.nn.Conv2d(2, 3, 3).weight.detach()  # (out, in, kh, kw)
    path = tmp_path / "conv.pt"
    torch.save({"conv.weight": kernel}, path)
    (auto,) = split(load(path))[0].values()
    assert auto.label == f"{path}:conv.weight"
    np.testing.assert_array_equal(auto.array, kernel.numpy().reshape(3, 18))
    assert auto.reshaped == "(3, 2, 3, 3) as 3x18 (rows: first axis by the rest)"
    (rows,) = split(load(path, reshape="rows"))[0].values()
    np.testing.assert_array_equal(rows.array, auto.array)
    (columns,) = split(load(path, reshape="columns"))[0].values()
    np.testing.assert_array_equal(columns.array, kernel.numpy().reshape(18, 3))
    stacked = split(load(path, reshape="stack"))[0]
    assert len(stacked) == 6 and all(case.reshaped is None for case in stacked.values())
    np.testing.assert_array_equal(stacked[f"{path}:conv.weight[1,0]"].array, kernel[1, 0].numpy())


def test_keras_kernels_are_one_matrix_each_with_outputs_last(tmp_path):
    """auto: Keras's (kh, kw, in, out) -> (kh*kw*in, out), as keras.layers.SpectralNormalization
    reshapes a kernel (reshape(kernel, [-1, kernel.shape[-1]]))."""
    _, conv = keras_models()
    path = tmp_path / "conv.weights.h5"
    conv.save_weights(path)
    kernel = conv.layers[0].kernel.numpy()  # (kh, kw, in, out)
    assert kernel.shape == (3, 3, 2, 4)
    (auto,) = split(load(path))[0].values()
    assert auto.label == f"{path}:layers/conv2d/vars/0" and auto.array.shape == (18, 4)
    np.testing.assert_array_equal(auto.array, kernel.reshape(18, 4))
    assert auto.reshaped == "(3, 3, 2, 4) as 18x4 (columns: the rest by the last axis)"
    (rows,) = split(load(path, reshape="rows"))[0].values()  # forced channels-first: (kh, kw*in*out)
    np.testing.assert_array_equal(rows.array, kernel.reshape(3, 24))
    assert len(split(load(path, reshape="stack"))[0]) == 9  # stack: (kh, kw) of (in, out) matrices


def test_keras_names_are_storage_paths_and_optimizer_slots_are_checked_unless_skipped(tmp_path):
    """What the README says of Keras names: storage paths, not the layer names given; the optimizer's
    slots are checked like any tensor, and --skip 'optimizer/*' leaves them out."""
    import zipfile

    import h5py
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="my_projection")])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((2, 4)), np.ones((2, 3)), verbose=0)
    path = tmp_path / "trained.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as handle:
        matrices = []
        handle.visititems(lambda name, item: matrices.append(name) if getattr(item, "ndim", 0) == 2 else None)
    optimizer = [name for name in matrices if name.startswith("optimizer/")]
    assert len(optimizer) == 2 and "layers/dense/vars/0" in matrices  # Adam's two moments of the kernel
    assert not any("my_projection" in name for name in matrices)
    cases, skipped, errors = split(load(path))
    assert errors == [] and set(cases) == {f"{path}:{name}" for name in matrices}
    np.testing.assert_array_equal(cases[f"{path}:layers/dense/vars/0"].array, model.layers[0].kernel.numpy())
    cases, skipped, _ = split(load(path, skip=("optimizer/*",)))
    assert set(cases) == {f"{path}:layers/dense/vars/0"}
    assert all(skipped[f"{path}:{name}"] == "skipped by --skip 'optimizer/*'" for name in optimizer)


def test_a_keras_archive_with_compressed_weights_reads_the_same(checkpoints, tmp_path):
    import zipfile

    path, weights, _ = checkpoints["model.keras"]
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    cases, _, errors = split(load(deflated))
    assert errors == [] and set(cases) == {f"{deflated}:{name}" for name in weights}
    for name, values in weights.items():
        np.testing.assert_array_equal(cases[f"{deflated}:{name}"].array, values)


@pytest.mark.parametrize("kind", ["torch.safetensors", "model.pt", "model.keras"])
def test_checkpoints_on_standard_input(monkeypatch, checkpoints, kind):
    path, weights, _ = checkpoints[kind]
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(path.read_bytes())))
    cases, _, errors = split(load("-"))
    assert errors == [] and set(cases) == {f"-:{name}" for name in weights}
    assert {source_file(label) for label in cases} == {None}


# ---- dtypes


def test_bfloat16_and_float16_compute_as_float32_and_show_the_stored_dtype(tmp_path, runner):
    import safetensors.torch
    import torch

    state = {"half": torch.randn(4, 3).half(), "brain": torch.randn(3, 5).bfloat16()}
    torch.save(state, tmp_path / "low.pt")
    safetensors.torch.save_file(state, tmp_path / "low.safetensors")
    for path in (tmp_path / "low.pt", tmp_path / "low.safetensors"):
        cases = split(load(path))[0]
        for name, stored in (("half", "float16"), ("brain", "bfloat16")):
            case = cases[f"{path}:{name}"]
            assert (case.array.dtype, case.stored_dtype) == (np.float32, stored)
            np.testing.assert_array_equal(case.array, state[name].float().numpy())
    doc = json.loads(run(runner, tmp_path / "low.safetensors", "-f", "json").stdout)
    assert {r["source"].rsplit(":", 1)[1]: r["stored_dtype"] for r in doc["results"]} == {
        "brain": "bfloat16",
        "half": "float16",
    }


def test_bfloat16_safetensors_without_torch_are_skipped_with_the_reason(tmp_path, monkeypatch):
    import safetensors.torch
    import torch

    path = tmp_path / "low.safetensors"
    safetensors.torch.save_file({"brain": torch.ones(3, 3).bfloat16(), "full": torch.eye(3)}, path)
    monkeypatch.setitem(sys.modules, "torch", None)
    cases, skipped, errors = split(load(path))
    assert list(cases) == [f"{path}:full"] and errors == []
    assert skipped == {
        f"{path}:brain": "stored as BF16, which safetensors' NumPy API cannot read; "
        "install torch (pip install torch) to check it"
    }


@pytest.mark.parametrize(
    ("kind", "module"),
    [
        ("torch.safetensors", "safetensors"),
        ("model.pt", "torch"),
        ("model.keras", "h5py"),
        ("model.weights.h5", "h5py"),
    ],
)
def test_a_missing_library_is_one_line_with_the_pip_command(checkpoints, monkeypatch, kind, module):
    path = checkpoints[kind][0]
    monkeypatch.setitem(sys.modules, module, None)
    (error,) = load(path)
    assert isinstance(error, InputError) and error.source == str(path)
    assert error.problem.endswith(f"reading it needs {module} (pip install {module})")


# ---- hostile and malformed files


def pickled_payloads(folder: Path, marker: Path) -> dict[str, Path]:
    import torch

    paths = {name: folder / f"{name}.pt" for name in ("torch_zip", "torch_legacy", "pickle2", "pickle5")}
    torch.save({"w": torch.eye(3), "evil": Payload(marker)}, paths["torch_zip"])
    legacy = {"_use_new_zipfile_serialization": False}
    torch.save({"w": torch.eye(3), "evil": Payload(marker)}, paths["torch_legacy"], **legacy)
    paths["pickle2"].write_bytes(pickle.dumps({"evil": Payload(marker)}, protocol=2))
    paths["pickle5"].write_bytes(pickle.dumps({"evil": Payload(marker)}, protocol=5))
    return paths


def test_a_pickle_payload_never_runs_and_is_one_clear_error(tmp_path, runner):
    marker = tmp_path / "pwned"
    paths = pickled_payloads(tmp_path, marker)
    np.save(tmp_path / "good.npy", np.eye(3))
    for name, path in paths.items():
        (error,) = load(path)
        assert isinstance(error, InputError) and error.source == str(path), name
        if name != "pickle5":  # protocol 5 is refused before its first global
            assert "needs arbitrary Python objects to load (it refers to" in error.problem
            assert "open" in error.problem
        assert "weights_only=True" in error.problem and "\n" not in error.problem
    result = run(runner, tmp_path, "-f", "json")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("svdgrad: error:")]
    assert len(errors) == len(paths)
    assert json.loads(result.stdout)["summary"]["verdicts"]["agree"] == 1  # good.npy still checked
    assert not marker.exists()
    pickle.loads(paths["pickle2"].read_bytes())  # the payload is live: plain unpickling runs it
    assert marker.exists()


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def malformed_files(folder: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (content, what its one error line says); each file also holds a good tensor or is
    beside good files, so the rest is still checked."""
    import h5py
    import torch

    eye = np.eye(3, dtype=np.float32).tobytes()
    good = {"w": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 36]}}
    buffer = io.BytesIO()
    torch.save(torch_model().state_dict(), buffer)
    zipped = buffer.getvalue()
    buffer = io.BytesIO()
    torch.save({"w": torch.eye(3)}, buffer, _use_new_zipfile_serialization=False)
    legacy = buffer.getvalue()
    with h5py.File(folder / "absurd.weights.h5", "w") as handle:
        handle.create_dataset("layers/dense/vars/0", shape=(10**6, 10**6), dtype="f4")  # never written
        handle.create_dataset("layers/dense_1/vars/0", data=np.eye(3, dtype="f4"))
    with h5py.File(folder / "whole.h5", "w") as handle:
        handle.create_dataset("layers/dense/vars/0", data=np.eye(40, dtype="f4"))
    whole_h5 = (folder / "whole.h5").read_bytes()
    (folder / "whole.h5").unlink()
    return {
        "truncated.safetensors": (safetensors_bytes(good, eye)[:-10], "not a valid safetensors file"),
        "corrupt_header.safetensors": (struct.pack("<Q", 16) + b"{not json at all" + eye, "invalid json"),
        "unknown_dtype.safetensors": (safetensors_bytes({"w": {**good["w"], "dtype": "X99"}}, eye), "x99"),
        "absurd_shape.safetensors": (
            safetensors_bytes({"w": {**good["w"], "shape": [10**12, 10**12]}}, eye),
            "not a valid safetensors file",
        ),
        "truncated.pt": (zipped[: len(zipped) // 2], "not a valid pytorch checkpoint"),
        "truncated_legacy.pt": (legacy[:-20], "not a valid pytorch checkpoint"),
        "truncated.weights.h5": (whole_h5[: len(whole_h5) // 2], "not a valid hdf5 file"),
        "absurd.weights.h5": (
            (folder / "absurd.weights.h5").read_bytes(),
            "absurd.weights.h5:layers/dense/vars/0: declares shape (1000000, 1000000)",
        ),
        "truncated.keras": (b"PK\x03\x04" + bytes(100), "not a valid .keras file"),
    }


@pytest.fixture(scope="module")
def malformed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("malformed")
    cases = malformed_files(folder)
    for name, (content, _) in cases.items():
        (folder / name).write_bytes(content)
    return folder, cases


@pytest.mark.parametrize(
    "name",
    [
        "truncated.safetensors",
        "corrupt_header.safetensors",
        "unknown_dtype.safetensors",
        "absurd_shape.safetensors",
        "truncated.pt",
        "truncated_legacy.pt",
        "truncated.weights.h5",
        "absurd.weights.h5",
        "truncated.keras",
    ],
)
def test_a_malformed_checkpoint_is_one_clear_line_and_exit_2(runner, malformed, name):
    folder, cases = malformed
    path = folder / name
    result = run(runner, path)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("svdgrad: error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"svdgrad: error: {path}")
    assert cases[name][1] in errors[0].lower()


def test_good_tensors_and_files_beside_malformed_ones_are_still_checked(runner, malformed):
    folder, cases = malformed
    result = run(runner, folder, "-f", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["summary"]["errors"] == len(cases)
    prefix = f"{folder}/"
    checked = sorted(r["source"].removeprefix(prefix) for r in doc["results"] if r["status"] == "checked")
    assert checked == ["absurd.weights.h5:layers/dense_1/vars/0"]


def test_a_listing_that_fails_half_way_keeps_the_tensors_before_it():
    from svdgrad_cli.inputs.tensors import Selection, Tensor, read_tensors

    def listing():
        yield Tensor("first", (2, 2), lambda: (np.eye(2), None))
        raise RuntimeError("corrupt object header\nat address 0x10")

    first, error = read_tensors("f.h5", listing(), Selection())
    assert first.source == "f.h5:first"
    assert str(error) == "f.h5: cannot list its tensors (RuntimeError: corrupt object header)"


def test_a_torch_zip_whose_member_names_are_damaged_is_one_error_not_an_npz(tmp_path):
    import torch

    buffer = io.BytesIO()
    torch.save(torch_model().state_dict(), buffer)
    path = tmp_path / "damaged.pt"
    path.write_bytes(buffer.getvalue().replace(b"data.pkl", b"data.pkX"))
    (error,) = load(path)
    assert isinstance(error, InputError) and error.source == str(path)
    assert error.problem.startswith("not a valid PyTorch checkpoint")


# ---- the sample


def test_the_sample_checkpoint_is_tiny_and_shows_a_skip_and_a_tie():
    assert SAMPLE.stat().st_size < 20_000
    cases, skipped, errors = split(load(SAMPLE))
    assert errors == [] and list(skipped.values()) == ["a 1-D tensor of length 6, not a matrix"]
    assert {label.rsplit(":", 1)[1] for label in cases} == {
        "decoder.weight",
        "encoder.layer0.weight",
        "encoder.layer1.weight",
    }
    assert all(case.array.dtype == np.float32 and case.stored_dtype is None for case in cases.values())
    values = np.linalg.svd(
        cases[f"{SAMPLE}:encoder.layer1.weight"].array.astype(np.float64), compute_uv=False
    )
    np.testing.assert_allclose(values, [3.0, 1.0, 1.0, 0.5], rtol=1e-14)


def test_a_selection_that_matches_nothing_checks_nothing_and_exits_2(runner):
    sample = str(Path(__file__).resolve().parent.parent / "sample_matrices" / "tiny_encoder.safetensors")
    result = runner.invoke(cli, ["check", sample, "--select", "no.such.tensor*", "-v"])
    assert result.exit_code == 2
    assert "nothing was checked" in result.stderr
    assert "not selected by --select 'no.such.tensor*'" in result.stderr


def test_a_selection_that_matches_no_tensor_beside_plain_files_exits_2_naming_close_names(runner, tmp_path):
    """A typo in --select must not turn the checkpoint check off while the plain files pass."""
    sample = Path(__file__).resolve().parent.parent / "sample_matrices" / "tiny_encoder.safetensors"
    (tmp_path / "model.safetensors").write_bytes(sample.read_bytes())
    np.save(tmp_path / "plain.npy", np.eye(3))
    args = ["check", str(tmp_path), "-b", "autograd"]
    result = runner.invoke(cli, [*args, "--select", "encoderr*", "--select", "decoder.weight"])
    assert result.exit_code == 2  # the plain file and decoder.weight were checked, but one pattern missed
    assert "error: --select 'encoderr*' matched no tensor of any archive or checkpoint" in result.stderr
    assert "closest names: encoder." in result.stderr
    assert "'decoder.weight' matched no" not in result.stderr
    assert "--select 'encoderr*' matched nothing; exit code 2" in " ".join(result.stdout.split())
    doc = json.loads(runner.invoke(cli, [*args, "--select", "encoderr*", "-f", "json"]).stdout)
    assert doc["summary"]["unmatched_select"] == ["encoderr*"] and doc["exit_code"] == 2
    miss = "--select 'encoderr*' matched no tensor of any archive or checkpoint"
    formats = {
        f: runner.invoke(cli, [*args, "--select", "encoderr*", "-f", f])
        for f in ("junit", "markdown", "github")
    }
    assert all(result.exit_code == 2 for result in formats.values())
    assert f'<error message="{miss}"' in formats["junit"].stdout
    assert f"**Error**: {inline(miss)}." in formats["markdown"].stdout
    assert f"::error title=svdgrad --select::{miss}" in formats["github"].stdout
    skip = runner.invoke(cli, [*args, "--skip", "nothing*"])
    assert skip.exit_code == 0  # a --skip that matched nothing left more checked, not less
    assert "warning: --skip 'nothing*' matched no tensor" in skip.stderr


def test_closest_names_find_the_tensor_a_bare_layer_name_meant():
    names = ["layers/conv2d/vars/0", "layers/conv2d/vars/1", "layers/dense/vars/0"]
    assert closest_names("conv2d", names)[0] == "layers/conv2d/vars/0"
    assert closest_names("layers/dens/vars/0", names)[0] == "layers/dense/vars/0"
    assert closest_names("zzz", names) == []


def test_a_configured_selection_that_matches_nothing_says_it_came_from_the_pyproject(
    runner, tmp_path, monkeypatch
):
    """The pattern a user never typed is named where it was written: [tool.svdgrad] in that file."""
    sample = Path(__file__).resolve().parent.parent / "sample_matrices" / "tiny_encoder.safetensors"
    (tmp_path / "model.safetensors").write_bytes(sample.read_bytes())
    (tmp_path / "pyproject.toml").write_text('[tool.svdgrad]\nselect = ["encoderr*"]\nskip = ["zz*"]\n')
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["check", "model.safetensors", "-b", "autograd", "-q"])
    assert result.exit_code == 2
    where = f"(set in [tool.svdgrad] of {tmp_path / 'pyproject.toml'})"
    assert f"error: select 'encoderr*' {where} matched no tensor" in result.stderr, result.stderr
    assert f"warning: skip 'zz*' {where} matched no tensor" in result.stderr
    typed = runner.invoke(cli, ["check", "model.safetensors", "-b", "autograd", "-q", "--select", "x*"])
    assert "error: --select 'x*' matched no tensor" in typed.stderr  # given on the command line


def test_a_channels_last_kernel_in_safetensors_is_read_as_rows_and_the_note_says_how_else():
    """Flax and Keras export (kh, kw, in, out) to safetensors too; auto reads safetensors as torch's
    (out, in, kh, kw), so a kernel whose axes look channels-last says that --reshape columns exists.
    A torch kernel, whose last two axes are the small window, says nothing of it."""
    from svdgrad_cli.inputs.kernels import reshape_note

    flax = reshape_note((3, 3, 16, 32), "rows")
    assert flax.startswith("(3, 3, 16, 32) as 3x1536 (rows: first axis by the rest)")
    assert "(kh, kw, in, out)" in flax and "--reshape columns reads it as 144x32" in flax
    for torch_kernel in ((64, 3, 7, 7), (16, 16, 3, 3), (3, 3, 5, 5), (1, 1, 3, 3)):
        assert "--reshape" not in reshape_note(torch_kernel, "rows")
    assert "--reshape" not in reshape_note((3, 3, 16, 32), "columns")  # already read so
