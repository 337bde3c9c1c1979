"""The table as a CI log prints it (issue 10, items 7, 8 and 11): the real console script, no terminal,
80 columns."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from helpers import SEED_RANK2, with_singular_values


def svdgrad(*args, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "svdgrad_cli", *map(str, args)], capture_output=True,
                          text=True, env=env)  # fmt: skip


def unfolded(text: str) -> str:
    """The text with every line's indentation and break removed, so a folded name reads whole."""
    return "".join(line.strip() for line in text.splitlines())


def test_long_names_are_never_cut_at_80_columns(tmp_path):
    deep = tmp_path / "fixtures" / "layer09" / "attention.query_projection_weight_of_block_number_seventeen"
    deep.mkdir(parents=True)
    names = []
    for i in range(12):
        path = deep / f"checkpoint_{i:02d}_q_proj.npy"
        np.save(
            path, with_singular_values([3.0, 2.0, 2.0 if i % 2 else 1.0], (3, 3), seed=i)
        )  # ties: findings
        names.append(str(path))
    out = svdgrad("check", tmp_path, "-b", "autograd", "-b", "tensorflow", "--loss", "polar").stdout
    assert "…" not in out
    # only the summary's names pass 80 columns: each whole on its line, as pytest lists them, so that
    # a search for the name finds it (issue 22 item 10)
    long_lines = [line for line in out.splitlines() if len(line) > 80]
    assert long_lines and all(line.startswith("  ") and line.strip() in names for line in long_lines)
    flagged = [name for name in names if f"  {name}" in out.splitlines()]
    assert flagged  # the worst matrices are named in full
    assert "12 matrices checked" in out


def test_a_long_name_in_a_panel_folds_after_a_separator_never_mid_word(tmp_path):
    deep = tmp_path / "fixtures" / "layer09"
    deep.mkdir(parents=True)
    path = deep / "attention.query_projection_weight_of_block_number_seventeen_of_the_encoder_long_name.npy"
    np.save(path, np.diag([3.0, 2.0, 1.0]))
    out = svdgrad("check", path, "-b", "autograd").stdout
    inside = [line[2:-2].rstrip() for line in out.splitlines() if line.startswith("│")]
    start = next(i for i, line in enumerate(inside) if str(tmp_path)[:20] in line)
    pieces: list[str] = []
    for line in inside[start:]:  # the name's lines, up to its end
        pieces.append(line)
        if "".join(pieces) == str(path):
            break
    assert "".join(pieces) == str(path), inside
    assert len(pieces) > 1 and all(piece[-1] in "/._-" for piece in pieces[:-1]), pieces


def test_bars_show_three_decades_and_do_not_saturate(tmp_path):
    np.savetxt(tmp_path / "d.csv", np.diag([3.0, 2.0, 1.0, 1.0]), delimiter=",")
    out = svdgrad("check", tmp_path / "d.csv", "-b", "autograd").stdout
    bars = [line.count("█") for line in out.splitlines() if "█" in line]
    assert len(bars) == 4
    assert bars[0] > bars[1] > bars[2] == bars[3] > 0  # s_3/s_1 = 1/3 is visibly shorter, not full
    assert "0 to -3" in out


def test_a_stack_of_one_has_no_index_and_float16_shows_its_stored_dtype(tmp_path):
    np.save(tmp_path / "seed.npy", SEED_RANK2)  # shape (1, 5, 5)
    np.save(tmp_path / "half.npy", np.diag([3.0, 2.0, 1.0]).astype(np.float16))
    out = svdgrad("check", tmp_path / "seed.npy", tmp_path / "half.npy", "-b", "autograd").stdout
    assert "seed.npy[0]" not in out and "seed.npy" in out
    assert "3x3 float32 (stored float16)" in out


def test_default_output_is_plain_words_and_details_add_the_numbers(tmp_path):
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1))
    plain = svdgrad("check", tmp_path / "a.npy", "-b", "autograd", "-b", "torch").stdout
    assert "between backends" not in plain and "x budget" not in plain
    assert "reference: the unique gradient, computed in float64" in plain
    detailed = svdgrad("check", tmp_path / "a.npy", "-b", "autograd", "-b", "torch", "--details").stdout
    assert "between backends" in detailed and "x budget" in detailed and "relative condition" in detailed


def test_warnings_are_grouped_per_matrix_and_notes_are_not_annotated(tmp_path):
    """A spectrum with many near-duplicates: one warning per matrix and kind, index ranges summarised;
    a near tie that the loss does not separate is a note (no ::warning, not failing on 'warning')."""
    values = np.repeat(np.linspace(2.0, 1.0, 40), 2) + np.tile([1e-9, 0.0], 40)  # 40 close pairs
    np.save(tmp_path / "many.npy", with_singular_values(values, (80, 80), seed=3))
    github = svdgrad("check", tmp_path / "many.npy", "-b", "autograd", "--loss", "sum", "-f", "github")
    assert github.stdout.count("::warning") == 0  # sum does not separate them: notes only
    assert svdgrad("check", tmp_path / "many.npy", "-b", "autograd", "--fail-on", "warning").returncode == 0
    separated = svdgrad("check", tmp_path / "many.npy", "-b", "autograd", "--loss", "sv:3", "-f", "github")
    warnings = [line for line in separated.stdout.splitlines() if "near-duplicate" in line]
    assert len(warnings) == 1 and len(warnings[0]) < 600  # one per matrix and kind, not one per pair
    assert "40 pairs of neighbours" in warnings[0] and "among s_1-s_80" in warnings[0]


def test_standard_input_at_a_terminal_says_it_is_waiting():
    import pty

    main, child = pty.openpty()
    command = [sys.executable, "-m", "svdgrad_cli", "check", "-", "-b", "autograd", "-q"]
    process = subprocess.Popen(
        command, stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    os.close(child)
    os.write(main, b"3 0\n0 1\n")
    os.write(main, b"\x04")  # Ctrl-D: end of input
    out, err = process.communicate(timeout=60)
    os.close(main)
    assert "reading the matrix from standard input" in err
    assert "1 matrix checked" in out


def test_many_skipped_inputs_are_counted_by_reason(tmp_path):
    from safetensors.numpy import save_file

    arrays = {f"bias{i}": np.ones(3 + i) for i in range(6)} | {"weight": np.eye(3), "scale": np.float64(2.0)}
    np.savez(tmp_path / "layer.npz", **arrays)
    save_file({"ln.weight": np.ones(3072), "proj.bias": np.ones(1000)}, tmp_path / "block.safetensors")
    (tmp_path / "notes.md").write_text("not a matrix file\n")
    out = svdgrad("check", tmp_path, "-b", "autograd").stdout
    assert "skipped (10):" in out and "... and 5 more (-v names them all); all 10 by reason:" in out
    assert "    6 x a 1-D array, not a matrix\n" in out  # six lengths, one reason
    assert "    2 x a 1-D tensor, not a matrix\n" in out  # 3,072 and 1,000 alike
    assert "    1 x a single number, not a matrix\n" in out
    assert out.count(" x ") == 4  # and the file that matches no --glob


def test_a_long_backend_name_folds_and_the_verdict_and_numbers_stay_whole(tmp_path):
    """A plug-in named module.function of 40 characters took the width the verdict and the numbers
    needed: 'corre…', '>=13.7…', '9.3…' at 80 columns. The name folds in its own column instead."""
    module = "a_rather_long_plugin_module_name"
    source = (
        "import autograd.numpy as anp\n\ndef svd(a):\n    return anp.linalg.svd(a, full_matrices=False)\n"
    )
    (tmp_path / f"{module}.py").write_text(source)
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (5, 3), seed=1))
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "PYTHONPATH": str(tmp_path)}
    spec = f"autograd:{module}:svd"
    args = ["check", tmp_path / "a.npy", "--loss", "proj:2", "-b", "autograd", "-b", spec]
    run = subprocess.run([sys.executable, "-m", "svdgrad_cli", *map(str, args)], capture_output=True,
                         text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "…" not in run.stdout and all(len(line) <= 80 for line in run.stdout.splitlines())
    rows = [line for line in run.stdout.splitlines() if " correct " in line]
    assert len(rows) == 2  # the built-in's row and the plug-in's (the same function): both whole
    cells = [line.strip("│ ").split() for line in run.stdout.splitlines() if line.startswith("│")]
    start = next(i for i, cell in enumerate(cells) if cell and cell[0].startswith("a_rather"))
    pieces = [cells[start][0]] + [cell[0] for cell in cells[start + 1 :][:4] if len(cell) == 1]
    assert "".join(pieces) == f"{module}.svd"  # folded in its column, whole and in order
