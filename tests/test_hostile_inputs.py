"""Input files built as an attacker would (issue 21, items 1-8): each is one error naming it, exit 2,
the other inputs still checked, and nothing of a file outside the input in any report."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

from svdgrad_cli.cli import cli
from svdgrad_cli.inputs import archives
from svdgrad_cli.inputs.limits import max_stream_bytes

h5py = pytest.importorskip("h5py")

MARKER = b"SECRET-MARKER-4f1c: the private key of someone else, never to be read by svdgrad!!"
FORMATS = ("table", "json", "jsonl", "junit", "github", "markdown", "html")
TEXT_FORMATS = FORMATS[:-1]  # html draws pictures: seconds a run, so once (external storage) only
SVDGRAD = [sys.executable, "-m", "svdgrad_cli", "check", "-b", "autograd", "-q"]
# Long enough for the slowest start of a loaded CI machine, short enough that a hang fails the test.
HANG_SECONDS = 120


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("svdgrad: error:")]


def check(runner, *args):
    """A run with autograd alone, as the CLI is called; the JSON report parsed."""
    result = runner.invoke(cli, ["check", *map(str, args), "-b", "autograd", "-f", "json"])
    return result, json.loads(result.stdout)


def assert_refused_alone(
    runner, paths: list, label: str, problem: str, leaked: list[str], formats=TEXT_FORMATS
) -> None:
    """In every format: exit 2, one error line naming ``label``, every other input checked, and
    neither the marker nor any ``leaked`` text (what the other file's bytes would show as)."""
    for output_format in formats:
        result = runner.invoke(cli, ["check", *map(str, paths), "-b", "autograd", "-f", output_format])
        assert result.exit_code == 2, (output_format, result.output)
        (line,) = errors(result.stderr)
        assert line.startswith(f"svdgrad: error: {label}: ") and problem in line, line
        for text in (MARKER.decode()[:20], *leaked):
            assert text not in result.stdout and text not in result.stderr, (output_format, text)
    _, report = check(runner, *paths)
    statuses = {r["source"]: r["status"] for r in report["results"]}
    assert statuses.pop(label) == "error"
    assert statuses and set(statuses.values()) == {"checked"}


def secret(tmp_path) -> tuple[str, list[str]]:
    """A file outside every input, and what its first 64 bytes as an 8x8 uint8 matrix would show as
    in a report: the leading digits of its largest singular value."""
    path = tmp_path / "elsewhere" / "secret.txt"
    path.parent.mkdir()
    path.write_bytes(MARKER)
    matrix = np.frombuffer(MARKER[:64], dtype=np.uint8).reshape(8, 8).astype(np.float64)
    return str(path), [f"{np.linalg.svd(matrix, compute_uv=False)[0]:.6g}"]


def external_h5(path, target: str, name: str = "layers/dense/vars/0") -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset(name, shape=(8, 8), dtype="u1", external=[(target, 0, 64)])
        f.create_dataset("layers/dense_1/vars/0", data=np.diag([1.0, 2.0, 3.0]))


@pytest.fixture
def good(tmp_path):
    np.save(tmp_path / "good.npy", np.diag([1.0, 2.0]))
    return tmp_path / "good.npy"


# ---- 1-3: HDF5 that reads other files


def test_hdf5_external_storage_is_refused_before_a_byte_is_read(runner, tmp_path, good):
    target, leaked = secret(tmp_path)
    external_h5(tmp_path / "external.h5", target)
    assert np.array_equal(  # the file really reads the secret through h5py
        h5py.File(tmp_path / "external.h5")["layers/dense/vars/0"][()].tobytes(), MARKER[:64]
    )
    label = f"{tmp_path / 'external.h5'}:layers/dense/vars/0"
    paths = [tmp_path / "external.h5", good]
    assert_refused_alone(runner, paths, label, "external storage", leaked, FORMATS)


def test_keras_archive_with_external_storage_is_refused(runner, tmp_path, good):
    target, leaked = secret(tmp_path)
    external_h5(tmp_path / "model.weights.h5", target)
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:  # stored, as Keras writes it
        archive.writestr("config.json", "{}")
        archive.write(tmp_path / "model.weights.h5", "model.weights.h5")
    label = f"{tmp_path / 'model.keras'}:layers/dense/vars/0"
    assert_refused_alone(runner, [tmp_path / "model.keras", good], label, "external storage", leaked)


def test_hdf5_links_to_other_files_are_refused(runner, tmp_path, good):
    other = tmp_path / "elsewhere.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("private", data=np.diag([123.456789, 2.0]))
    with h5py.File(tmp_path / "links.h5", "w") as f:
        f.create_dataset("kernel", data=np.diag([1.0, 2.0]))
        f["outside"] = h5py.ExternalLink(str(other), "/private")
        f["inside"] = h5py.SoftLink("/kernel")  # stays in the file: no error, not listed twice
    label = f"{tmp_path / 'links.h5'}:outside"
    assert_refused_alone(runner, [tmp_path / "links.h5", good], label, "a link to another file", ["123.456"])


def test_hdf5_groups_nested_absurdly_deep_are_refused_before_the_walk(runner, tmp_path, good):
    """h5py's walk of 2,000 nested groups (a 2 MB file) took 3 s, 4,000 took 17 s: it grows as the
    cube of the depth (30,000 levels, 31 MB, ran for more than two minutes)."""
    with h5py.File(tmp_path / "deep.h5", "w") as f:
        f.create_dataset("kernel", data=np.diag([1.0, 2.0]))
        group = f
        for _ in range(2000):
            group = group.create_group("g")
    result = runner.invoke(cli, ["check", str(tmp_path / "deep.h5"), str(good), "-b", "autograd", "-q"])
    assert result.exit_code == 2 and "1 matrix checked" in result.stdout
    (line,) = errors(result.stderr)
    assert line.startswith(f"svdgrad: error: {tmp_path / 'deep.h5'}: ") and "nested" in line, line


def test_virtual_dataset_never_reaches_save_repro(runner, tmp_path):
    tie = np.diag([1.0, 1.0, 2.0, 3.0])  # autograd's gradient of recon is NaN here: a reproducer
    with h5py.File(tmp_path / "elsewhere.h5", "w") as f:
        f.create_dataset("private", data=tie)
    with h5py.File(tmp_path / "vds.h5", "w") as f:
        layout = h5py.VirtualLayout(shape=tie.shape, dtype="f8")
        layout[:] = h5py.VirtualSource(str(tmp_path / "elsewhere.h5"), "private", shape=tie.shape)
        f.create_virtual_dataset("borrowed", layout)
        f.create_dataset("own", data=tie)  # the same matrix, in the file: reproduced
    assert np.array_equal(h5py.File(tmp_path / "vds.h5")["borrowed"][()], tie)  # h5py reads it through
    repro = tmp_path / "repro"
    result, report = check(runner, tmp_path / "vds.h5", "--loss", "recon", "--save-repro", repro)
    assert result.exit_code == 2
    (line,) = errors(result.stderr)
    assert line.startswith(f"svdgrad: error: {tmp_path / 'vds.h5'}:borrowed: a virtual dataset")
    assert [r["status"] for r in report["results"]] == ["error", "checked"]  # borrowed, own
    written = sorted(path.name for path in repro.iterdir())
    assert written and all("own" in name and "borrowed" not in name for name in written), written


def test_external_storage_on_a_fifo_does_not_hang(tmp_path, good):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer at all: a read would block for ever
    external_h5(tmp_path / "external.h5", str(fifo))
    done = subprocess.run(
        [*SVDGRAD, str(tmp_path / "external.h5"), str(good)],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
    )
    assert done.returncode == 2, done.stderr
    (line,) = errors(done.stderr)
    assert f"{tmp_path / 'external.h5'}:layers/dense/vars/0: a dataset stored in other files" in line
    assert "2 matrices checked" in done.stdout


# ---- 4: streams that never end


def endless(stream, written: list[int]) -> None:
    """Write '1 2' lines to ``stream`` until the reader goes away, counting the bytes."""
    chunk = b"1 2\n" * 16384
    try:
        while True:
            stream.write(chunk)
            written[0] += len(chunk)
    except (BrokenPipeError, OSError, ValueError):
        pass


@pytest.mark.parametrize("via", ["stdin", "fifo"])
def test_endless_stream_stops_at_its_limit(tmp_path, good, via):
    max_elements = 1000
    fifo = tmp_path / "pipe"
    source = "-" if via == "stdin" else str(fifo)
    command = [*SVDGRAD, source, str(good), "--max-elements", str(max_elements)]
    written = [0]
    if via == "stdin":  # a pipe of our own: communicate() would close a PIPE it made
        reading, writing = os.pipe()
        process = subprocess.Popen(command, stdin=reading, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(reading)
        writer = threading.Thread(target=lambda: endless(os.fdopen(writing, "wb"), written), daemon=True)
    else:
        os.mkfifo(fifo)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        writer = threading.Thread(target=lambda: endless(open(fifo, "wb"), written), daemon=True)  # noqa: SIM115
    writer.start()
    try:
        stdout, stderr = process.communicate(timeout=HANG_SECONDS)
    finally:
        process.kill()
    assert process.returncode == 2, stderr
    (line,) = errors(stderr.decode())
    limit = max_stream_bytes(max_elements)
    assert line == (
        f"svdgrad: error: {source}: more than {limit:,} bytes on this stream, over what --max-elements "
        f"{max_elements:,} allows (16 bytes a value); raise --max-elements to read it"
    )
    assert b"1 matrix checked" in stdout
    writer.join(HANG_SECONDS)
    assert written[0] <= limit + 4 * 2**20  # read no further than the limit (and the pipe's buffer)


def test_a_short_stream_is_still_read(runner):
    result = runner.invoke(cli, ["check", "-", "-b", "autograd", "-q"], input="1 2\n3 4\n")
    assert result.exit_code == 0 and "1 matrix checked" in result.stdout


def test_standard_input_given_twice_is_read_once_and_the_second_named(runner):
    """The second '-' found the stream at its end and said 'empty, no numbers'."""
    result = runner.invoke(cli, ["check", "-", "-", "-b", "autograd", "-q"], input="1 2\n3 4\n")
    assert result.exit_code == 2 and "1 matrix checked" in result.stdout
    assert "-: standard input given again" in result.stderr and "empty" not in result.stderr


# ---- 5: zip bombs


def zeros_member(archive: zipfile.ZipFile, name: str, size: int, header: bytes = b"") -> None:
    """``header``, then ``size`` bytes of zeros, deflated (a thousandth of that on disk)."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        member.write(header)
        for _ in range(size // 2**20):
            member.write(bytes(2**20))


def test_torch_data_pkl_bomb_is_refused_from_the_central_directory(runner, tmp_path, good):
    torch = pytest.importorskip("torch")
    torch.save({"weight": torch.eye(3, dtype=torch.float64)}, tmp_path / "good.pt")
    with zipfile.ZipFile(tmp_path / "good.pt") as source, zipfile.ZipFile(tmp_path / "bomb.pt", "w") as bomb:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/data.pkl"):  # the pickle, then 80 MiB of zeros after its STOP
                zeros_member(bomb, info.filename, 80 * 2**20, data)
            else:
                bomb.writestr(info, data)
    assert os.path.getsize(tmp_path / "bomb.pt") < 2**20
    result, report = check(runner, tmp_path / "bomb.pt", tmp_path / "good.pt", good)
    assert result.exit_code == 2
    (line,) = errors(result.stderr)
    assert line.startswith(f"svdgrad: error: {tmp_path / 'bomb.pt'}: not read: its record ")
    assert "data.pkl declares 83,886," in line and "over the 67,108,864 it may hold" in line
    assert [r["status"] for r in report["results"]] == ["error", "checked", "checked"]


def test_npz_member_over_its_arrays_size_is_refused(runner, tmp_path, good):
    npy_header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        npy_header, {"descr": "<f8", "fortran_order": False, "shape": (2, 2)}
    )
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        zeros_member(archive, "big.npy", 4 * 2**20, np.lib.format.magic(1, 0) + npy_header.getvalue())
        buffer = io.BytesIO()
        np.save(buffer, np.diag([1.0, 2.0]))
        archive.writestr("small.npy", buffer.getvalue())
    result, report = check(runner, tmp_path / "bomb.npz", good, "--max-elements", 1000)
    assert result.exit_code == 2
    (line,) = errors(result.stderr)
    assert line.startswith(f"svdgrad: error: {tmp_path / 'bomb.npz'}:big: this member declares 4,194,")
    assert line.endswith("raise --max-elements to read it")
    assert [r["status"] for r in report["results"]] == ["error", "checked", "checked"]


@pytest.mark.parametrize("kind", ["npz", "keras"])
def test_zip_member_that_inflates_over_100_times_is_refused(runner, tmp_path, good, monkeypatch, kind):
    monkeypatch.setattr(archives, "EXPANSION_FLOOR_BYTES", 2**20)  # Keras's rule, from 1 MiB not 256
    name = "model.weights.h5" if kind == "keras" else "zeros.npy"
    with zipfile.ZipFile(tmp_path / f"bomb.{kind}", "w", zipfile.ZIP_DEFLATED) as archive:
        zeros_member(archive, name, 4 * 2**20)
    result, report = check(runner, tmp_path / f"bomb.{kind}", good)
    assert result.exit_code == 2
    (line,) = errors(result.stderr)
    label = tmp_path / f"bomb.{kind}"
    assert line.startswith(f"svdgrad: error: {label}{':zeros' if kind == 'npz' else ''}: ")
    assert "would inflate 1,0" in line and "(a zip bomb; over 100 times is refused)" in line
    assert [r["status"] for r in report["results"]] == ["error", "checked"]


# ---- 6: stack bombs


def test_stack_bomb_is_refused_from_its_header(runner, tmp_path, good):
    np.savez_compressed(tmp_path / "stack.npz", zeros=np.zeros((2**14, 4, 4), dtype=np.float32))
    result, report = check(runner, tmp_path / "stack.npz", good)
    assert result.exit_code == 2
    (line,) = errors(result.stderr)
    assert line == (
        f"svdgrad: error: {tmp_path / 'stack.npz'}:zeros: declares shape (16384, 4, 4), a stack of "
        "16,384 matrices, over the limit of 10,000 per input; raise --max-matrices to check them all"
    )
    assert [r["status"] for r in report["results"]] == ["error", "checked"]


def test_max_matrices_counts_the_whole_file_and_can_be_raised(runner, tmp_path, good):
    np.savez(tmp_path / "three.npz", a=np.ones((4, 2, 2)), b=np.ones((4, 2, 2)), c=np.ones((4, 2, 2)))
    result, report = check(runner, tmp_path / "three.npz", good, "--max-matrices", 10)
    assert result.exit_code == 2
    (line,) = errors(result.stderr)
    assert line == (
        f"svdgrad: error: {tmp_path / 'three.npz'}: holds more than 10 matrices (the limit per input); "
        f"those from {tmp_path / 'three.npz'}:c on are not checked; raise --max-matrices to check them all"
    )
    assert len([r for r in report["results"] if r["status"] == "checked"]) == 4 + 4 + 1
    result, report = check(runner, tmp_path / "three.npz", good, "--max-matrices", 12)
    assert result.exit_code in (0, 1) and len(report["results"]) == 12 + 1


def test_max_matrices_from_pyproject(runner, tmp_path, good, monkeypatch):
    np.save(tmp_path / "stack.npy", np.ones((5, 2, 2)))
    (tmp_path / "pyproject.toml").write_text("[tool.svdgrad]\nmax-matrices = 4\n")
    monkeypatch.chdir(tmp_path)
    result, report = check(runner, "stack.npy", good)
    assert result.exit_code == 2 and "over the limit of 4 per input" in result.stderr
    assert report["settings"]["max_matrices"] == 4


# ---- 7-8: directories too deep, links that lead nowhere


def test_directory_1100_levels_deep(runner, tmp_path, good):
    folder = tmp_path / "deep"
    folder.mkdir()
    levels = [folder]
    for _ in range(1100):  # os.makedirs would recurse once a level
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    np.save(levels[-1] / "bottom.npy", np.diag([3.0, 1.0]))
    try:
        result, report = check(runner, folder, good)
        assert result.exit_code == 0, result.output
        assert [r["source"] for r in report["results"]] == [str(levels[-1] / "bottom.npy"), str(good)]
    finally:  # shutil.rmtree would recurse as deep
        (levels[-1] / "bottom.npy").unlink()
        for level in reversed(levels):
            level.rmdir()


def test_symlink_loops_and_dangling_links(runner, tmp_path, good):
    folder = tmp_path / "links"
    folder.mkdir()
    os.symlink("b.npy", folder / "a.npy")
    os.symlink("a.npy", folder / "b.npy")
    os.symlink("missing.npy", folder / "dangling.npy")
    os.symlink(".", folder / "here")  # a directory loop: entered once
    os.symlink("self", folder / "self")  # a link to itself, matching no glob: skipped
    np.save(folder / "kept.npy", np.diag([2.0, 1.0]))
    result, report = check(runner, folder, folder / "a.npy", folder / "dangling.npy", good)
    assert result.exit_code == 2
    loop, dangling = "a loop of symbolic links", "a symbolic link whose target does not exist"
    assert errors(result.stderr) == [
        f"svdgrad: error: {folder / 'a.npy'}: {loop} (too many levels to follow)",
        f"svdgrad: error: {folder / 'b.npy'}: {loop} (too many levels to follow)",
        f"svdgrad: error: {folder / 'dangling.npy'}: {dangling}",
        f"svdgrad: error: {folder / 'a.npy'}: {loop} (too many levels to follow)",
        f"svdgrad: error: {folder / 'dangling.npy'}: {dangling}",
    ]
    checked = [r["source"] for r in report["results"] if r["status"] == "checked"]
    assert checked == [str(folder / "kept.npy"), str(good)]
    skipped = {s["source"]: s["reason"] for s in report["skipped"]}
    assert skipped[str(folder / "here")] == "a directory already visited (a loop of links), not entered again"
    assert skipped[str(folder / "self")] == "not a regular file"


def test_max_matrices_is_the_same_in_every_shard(runner, tmp_path, good):
    """Each shard counts a file's matrices as the whole run does (another shard's .npz members by
    their headers), so the merged shards are the run."""
    np.savez(tmp_path / "three.npz", a=np.ones((4, 2, 2)), b=np.ones((4, 2, 2)), c=np.ones((4, 2, 2)))
    paths, limit = [tmp_path / "three.npz", good], ["--max-matrices", "10"]
    whole, report = check(runner, *paths, *limit)
    parts = []
    for k in (1, 2, 3):  # with 3 shards, counting another shard's members as one matrix merged to exit 0
        parts.append(str(tmp_path / f"part{k}.jsonl"))
        options = ["--shard", f"{k}/3", "-f", "jsonl", "-o", parts[-1], "-q", "-b", "autograd"]
        runner.invoke(cli, ["check", *map(str, paths), *limit, *options])
    merged = runner.invoke(cli, ["merge", *parts, "-f", "json"])
    assert merged.exit_code == whole.exit_code == 2, merged.output
    assert json.loads(merged.stdout)["results"] == report["results"]
