"""Progress on stderr (issue 10, item 10): at a terminal for runs over a second, naming the stage and
the file; never where stderr is not a terminal (a CI log)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap

import numpy as np

SLOW_RUN = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from svdgrad_cli import register_backend
    from svdgrad_cli.cli import main

    def slow(stack, loss):  # the exact gradient of the nuclear norm, slowly
        time.sleep(1.5)
        u, s, vt = np.linalg.svd(stack)
        return s, u @ vt

    register_backend("slow", slow)
    sys.argv = ["svdgrad", "check", *sys.argv[1:], "-b", "slow", "-q"]
    main()
    """
)


def _read_all(fd: int) -> str:
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        out += data
    return out.decode(errors="replace")


def slow_run_on_a_terminal(folder, *options: str) -> str:
    """What a slow run over two 3x3 files in ``folder`` shows on a pseudo-terminal (its stdout and
    stderr), after it exited 0."""
    for name in ("a", "b"):
        np.save(folder / f"{name}.npy", np.diag([3.0, 2.0, 1.0]))
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, str(folder), *options],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(child)
    screen = _read_all(main)
    assert process.wait(timeout=60) == 0
    return screen


def test_a_slow_run_at_a_terminal_shows_the_stage_and_the_file(tmp_path):
    screen = slow_run_on_a_terminal(tmp_path)
    assert "slow: 2 matrices of 3x3" in screen  # the backend call that is running (one batch)
    assert "file 2/2" in screen
    assert "2 matrices checked" in screen


def test_no_progress_where_stderr_is_not_a_terminal(tmp_path):
    np.save(tmp_path / "a.npy", np.diag([3.0, 2.0, 1.0]))
    result = subprocess.run([sys.executable, "-c", SLOW_RUN, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stderr == ""


def test_the_tensors_of_a_checkpoint_count_as_one_file_and_the_bar_follows_judged_matrices():
    from svdgrad_cli.render.progress import RunProgress

    progress = RunProgress(files=3, enabled=False)
    for name in ("m.safetensors", "m.safetensors:a.weight", "m.safetensors:b.weight", "n.npz", "o.npy"):
        progress.file(name)  # all three load before any matrix is judged
    task = progress.progress.tasks[0]
    assert task.description == "loading o.npy" and task.completed == 0 and task.fields["current"] == 1
    progress.matrix("m.safetensors")
    progress.matrix("m.safetensors")
    assert task.completed == 0 and task.fields["inside"] == "2 done"  # no count: the files unknown
    progress.matrix("o.npy")  # n.npz had none: the first two files are done
    assert task.completed == 2 and task.fields["current"] == 3 and task.fields["inside"] == "3 done"


def test_inside_a_long_file_the_bar_has_a_total_and_moves_with_its_matrices(tmp_path):
    """Issue 22 item 9: a file of many matrices (a stack, a checkpoint) shows matrix k/N of its count
    from the headers, and the bar (hence the time left) moves inside the file."""
    from svdgrad_cli.inputs.loading import load_files
    from svdgrad_cli.render.progress import RunProgress

    np.save(tmp_path / "stack.npy", np.zeros((4, 5, 3, 3)))  # 20 matrices
    np.savez(tmp_path / "pair.npz", w=np.ones((2, 3, 3)), b=np.ones(3))  # 2 matrices and a bias
    progress = RunProgress(files=2, enabled=False)
    files = [str(tmp_path / "stack.npy"), str(tmp_path / "pair.npz")]
    cases = list(load_files(files, on_file=progress.file, on_count=progress.counted))
    assert progress.totals == {0: 20, 1: 2}
    task = progress.progress.tasks[0]
    for case in cases[:5]:
        progress.matrix(case.source)
    assert task.fields["inside"] == "matrix 5/20" and task.completed == 5 / 20
    progress.matrix(f"{tmp_path / 'pair.npz'}:w")
    assert task.fields["inside"] == "matrix 1/2" and task.completed == 1.5


def test_the_bar_finds_a_matrixs_file_by_content_named_archives_colons_and_workers():
    from svdgrad_cli.render.progress import RunProgress

    progress = RunProgress(files=4, enabled=False)
    for name in ("a:b.npy", "x.dat", "x.dat:w"):  # a colon in a file name; an .npz saved as .dat
        progress.file(name)
    task = progress.progress.tasks[0]
    progress.matrix("x.dat:w")
    assert task.completed == 1
    progress.matrix("later.npz:bias")  # loaded in a worker process: numbered as it comes
    assert task.completed == 2 and progress.order["later.npz"] == 2


def test_at_80_columns_the_counts_and_times_are_never_cut(tmp_path):
    from rich.console import Console

    from svdgrad_cli.render.progress import RunProgress

    console = Console(width=80, force_terminal=True, record=True, color_system=None)
    progress = RunProgress(files=4, console=console)
    progress.stage("reference and verdicts: 3 matrices of 700x700 in fixtures/a/very/long/path/" + "x" * 60)
    console.print(progress.progress.make_tasks_table(progress.progress.tasks))
    (line,) = [line for line in console.export_text().splitlines() if line.strip()]
    assert len(line) <= 80 and "file 1/4" in line and "0 done" in line and "0:00:00" in line
    assert "…" in line  # the description gave way


def test_v_lines_go_above_the_progress_bar_not_onto_it(tmp_path):
    """-v names each matrix while the bar is drawn: each line starts a line of its own (the first was
    written onto the bar's line, '... -:--:--svdgrad: checked a.npy')."""
    screen = slow_run_on_a_terminal(tmp_path, "-v")
    plain = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in re.split(r"[\r\n]+", screen)]
    checked = [line for line in plain if "checked " in line and "matrices checked" not in line]
    assert len(checked) == 2 and all(line.startswith("svdgrad: checked ") for line in checked), checked
