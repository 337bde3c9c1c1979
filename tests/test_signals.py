"""Ctrl-C and SIGTERM sent to a real ``svdgrad`` process at several moments: the ``-o`` file is then the
complete report, a report marked interrupted, or the previous file untouched; never empty, never half
written, no temporary file left; the exit code is 130 (SIGINT) or 143 (SIGTERM).

The moments are set by a ``python:`` plug-in that sleeps (a while per matrix) and writes a line into a
log as each call starts and ends, so the test knows where the run is without timing assertions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
PLUGIN = textwrap.dedent(
    """
    import os, time
    import numpy as np

    def backend(stack, loss):
        with open(os.environ["SLOW_PLUGIN_LOG"], "a") as log:
            log.write("start\\n")
        matrices = int(np.prod(stack.shape[:-2]))
        time.sleep(float(os.environ["SLOW_PLUGIN_DELAY"]) * matrices)
        u, s, vh = np.linalg.svd(stack, full_matrices=False)
        with open(os.environ["SLOW_PLUGIN_LOG"], "a") as log:
            log.write("end\\n")
        return s, u @ vh  # the gradient of the sum of singular values
    """
)
PREVIOUS = '{"previous": "report"}\n'
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
FILES = 4  # matrices of four sizes: one plug-in call each (equal shapes would share a batch)


class Run:
    """One ``svdgrad check`` of FILES matrices through the sleeping plug-in, writing ``-o out.FORMAT``
    over a previous file."""

    def __init__(
        self, folder: Path, fmt: str = "json", delay: float = 0.2, big: bool = False, sweep: bool = False
    ) -> None:
        self.folder, self.fmt = folder, fmt
        (folder / "slowplug.py").write_text(PLUGIN)
        inputs = []
        for i in range(FILES):
            np.save(folder / f"m{i}.npy", np.diag(np.arange(i + 2, 0, -1.0)))
            inputs.append(str(folder / f"m{i}.npy"))
        extra = []
        if big:  # a report of 4 MB (its arrays included), which takes a while to write
            np.save(folder / "m9.npy", np.random.default_rng(0).standard_normal((250, 250)))
            inputs.append(str(folder / "m9.npy"))
            extra.append("--include-arrays")
        self.matrices = len(inputs)
        self.log = folder / "calls.log"
        self.log.write_text("")
        self.output = folder / f"out.{fmt}"
        self.output.write_text(PREVIOUS)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
            "PYTHONUNBUFFERED": "1",
            "SLOW_PLUGIN_LOG": str(self.log),
            "SLOW_PLUGIN_DELAY": str(delay),
            "COLUMNS": "80",
            "NO_COLOR": "1",
        }
        command = (
            ["check", *inputs] if not sweep else ["sweep", "--vary", "gap", "--points", "4", "--shape", "3x3"]
        )
        command = [sys.executable, "-m", "svdgrad_cli", *command, "-b", "python:slowplug:backend"]
        self.process = subprocess.Popen(
            [*command, "-q", "-f", fmt, "-o", str(self.output), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def calls(self, event: str) -> int:
        return self.log.read_text().count(event + "\n")

    def wait_for(self, event: str, count: int) -> None:
        """Until the plug-in's ``event`` ('start' or 'end') has happened ``count`` times."""
        deadline = time.monotonic() + 60
        while self.calls(event) < count:
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the run never got there"
            time.sleep(0.002)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err

    def outcome(self) -> str:
        """'previous', 'interrupted' or 'complete'; fails for an empty or half-written file."""
        text = self.output.read_text()
        assert text, "the -o file is empty"
        leftovers = [p.name for p in self.folder.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, f"temporary files left behind: {leftovers}"
        if text == PREVIOUS:
            return "previous"
        if self.fmt == "jsonl":
            *results, last = [json.loads(line) for line in text.splitlines()]
            summary = last
            assert summary["type"] == "summary" and summary["summary"]["matrices"] == len(results)
        else:
            summary = json.loads(text)  # a half-written document is not JSON
            results = summary["results"]
        if summary["interrupted"]:
            assert summary["exit_code"] in EXIT.values()
            return "interrupted"
        assert len(results) == self.matrices and summary["exit_code"] == 0
        return "complete"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize(("moment", "calls"), [("early", 1), ("mid-run", 3)])
def test_a_signal_during_the_run_leaves_a_report_marked_interrupted(tmp_path, signum, moment, calls):
    run = Run(tmp_path, "json" if signum == signal.SIGINT else "jsonl")
    run.wait_for("start", calls)  # inside the first (early) or third (mid-run) plug-in call
    run.process.send_signal(signum)
    code, _, err = run.finish()
    assert code == EXIT[signum], err
    assert run.outcome() == "interrupted"
    doc = run.output.read_text()
    said = json.loads(doc if run.fmt == "json" else doc.splitlines()[-1])
    assert said["exit_code"] == EXIT[signum]
    assert len(said.get("results", doc.splitlines()[:-1])) == calls - 1  # the matrices done before
    assert "Traceback" not in err and "interrupted" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigterm_is_named_in_the_reports_it_interrupts(tmp_path, signum):
    run = Run(tmp_path, "markdown")
    run.wait_for("start", 2)
    run.process.send_signal(signum)
    code, _, _ = run.finish()
    name = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}[signum]
    assert code == EXIT[signum] and f"**Interrupted** ({name})" in run.output.read_text()


def shell_code(returncode: int) -> int:
    """The exit code a shell shows: 128 + N for a process that signal N ended. Python restores the
    default handlers as it shuts down, so a signal in its last milliseconds ends it that way."""
    return 128 - returncode if returncode < 0 else returncode


@pytest.mark.parametrize("pause", [0.0, 0.003, 0.01, 0.03])
def test_a_signal_at_the_end_of_the_run_never_leaves_an_empty_or_partial_file(tmp_path, pause):
    """The signal lands in the last matrix's judging, the final write or after it, as the pause says:
    whichever, the file is whole, and an exit code 0 goes with a complete report."""
    run = Run(tmp_path, "json", 0.05)
    run.wait_for("end", FILES)
    time.sleep(pause)
    run.process.send_signal(signal.SIGTERM)
    code, _, err = run.finish()
    outcome = run.outcome()
    assert shell_code(code) in (0, 143), err
    assert outcome == "complete" if code == 0 else outcome in ("complete", "interrupted"), (
        code,
        outcome,
        err,
    )


def test_once_the_summary_says_exit_code_0_the_file_is_complete(tmp_path):
    """The issue's reproduction: Ctrl-C right after the table's summary line. The file is renamed
    into place before that line is printed, so it is complete whatever the signal does (its 4 MB took
    long enough for the signal to land while it was written when it came after the table)."""
    run = Run(tmp_path, "json", 0.05, big=True)
    for line in run.process.stdout:
        if "exit code 0" in line:
            assert run.outcome() == "complete"
            run.process.send_signal(signal.SIGINT)
            break
    code, _, err = run.finish()
    assert shell_code(code) in (0, 130) and run.outcome() == "complete", err


def test_a_second_signal_during_the_final_write_leaves_the_previous_file(tmp_path):
    """Two signals in a row: the first interrupts the run, the second may land while the interrupted
    report is written; the file is then that report or the previous one, never a part."""
    run = Run(tmp_path, "json", 0.3)
    run.wait_for("start", 2)
    run.process.send_signal(signal.SIGINT)
    run.process.send_signal(signal.SIGINT)
    code, _, err = run.finish()
    assert code == 130, err
    assert run.outcome() in ("previous", "interrupted")


def test_a_signal_before_the_run_starts_leaves_the_previous_file(tmp_path):
    """At once after the start (Python still importing): the previous file is untouched. A signal that
    comes before svdgrad's own code runs ends Python by the signal itself (-15: a shell shows 143)."""
    run = Run(tmp_path, "json")
    run.process.send_signal(signal.SIGTERM)
    code, _, _ = run.finish()
    assert shell_code(code) == 143
    assert run.outcome() in ("previous", "interrupted")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sweep_writes_its_report_whole_and_marked_interrupted(tmp_path, signum):
    run = Run(tmp_path, "json", 0.2, sweep=True)
    run.wait_for("start", 1)  # the sweep's points are one call
    run.process.send_signal(signum)
    code, _, err = run.finish()
    assert code == EXIT[signum], err
    doc = json.loads(run.output.read_text())
    assert doc["interrupted"] is True and doc["exit_code"] == EXIT[signum] and doc["points"] == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_scan_writes_its_report_whole_and_marked_interrupted(tmp_path, signum):
    """The screen of a.npy is told (-v); then it waits on standard input, never closed, until the signal."""
    np.save(tmp_path / "a.npy", np.diag([3.0, 2.0, 1.0]))
    output = tmp_path / "out.json"
    output.write_text(PREVIOUS)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "svdgrad_cli",
        "scan",
        "a.npy",
        "-",
        "-v",
        "-f",
        "json",
        "-o",
        str(output),
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert "screened a.npy" in process.stderr.readline()
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT[signum], err
    assert "interrupted; the report covers the matrices screened so far" in err
    doc = json.loads(output.read_text())
    assert doc["interrupted"] is True and doc["exit_code"] == EXIT[signum]
    assert [r["label"] for r in doc["results"]] == ["a.npy"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
