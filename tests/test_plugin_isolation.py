"""Plug-ins in a worker process (issue 21 items 12-16, issue 22 item 7): whatever a plug-in does, it
is `failed` with the reason and where, the built-in beside it keeps its verdict, and the exit code is 2."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from helpers import with_singular_values

from svdgrad_cli import check
from svdgrad_cli.backends import isolation
from svdgrad_cli.cli import cli

PLUGINS = """
import ctypes
import os
import sys
import time

import numpy as np

LEAKED = []


def nuclear(stack, loss):
    u, s, vt = np.linalg.svd(stack, full_matrices=False)
    return s, (u * loss.weights(s.shape[-1])[..., None, :]) @ vt


def exits(stack, loss):
    sys.exit(0)


def os_exits(stack, loss):
    os._exit(0)


def segfault(stack, loss):
    ctypes.string_at(0)


def interrupts(stack, loss):
    raise KeyboardInterrupt


def hangs(stack, loss):
    while True:
        pass


def leaks(stack, loss):
    LEAKED.append(b"x" * (150 << 20))  # touched, so resident
    time.sleep(60)


def _promote(stack):
    raise RuntimeError("expected scalar type ComplexDouble but found Double")


def deep(stack, loss):
    return _promote(stack)


def prints(stack, loss):
    print("::error title=injected::by the plug-in")
    print('{"not": "the report"}')
    return nuclear(stack, loss)


def huge(stack, loss):
    s, g = nuclear(stack, loss)
    return s, np.zeros((600, 600))


def objects(stack, loss):
    s, g = nuclear(stack, loss)
    return s, np.array([[None] * stack.shape[-1]] * stack.shape[-2])


def slow_second(stack, loss):
    with open("calls.txt", "a+") as calls:
        calls.write("call\\n")
        calls.seek(0)
        if len(calls.readlines()) == 2:
            time.sleep(3)
    return nuclear(stack, loss)


def _grandchild():  # a process forked by the plug-in: it outlives its worker unless svdgrad ends it
    if os.fork() == 0:
        with open("grandchild.txt", "w") as handle:
            handle.write(f"{os.getpid()}\\n")
        time.sleep(30)
        os._exit(0)


def forks_and_exits(stack, loss):
    _grandchild()
    os._exit(0)


def forks_and_hangs(stack, loss):
    _grandchild()
    time.sleep(30)


def group(stack, loss):
    with open("group.txt", "w") as handle:
        handle.write(f"{os.getpgid(0)}\\n")
    return nuclear(stack, loss)


def pid(stack, loss):
    with open("pids.txt", "a") as handle:
        handle.write(f"{os.getpid()}\\n")
    return nuclear(stack, loss)
"""
# the line of each function's first statement in plugs.py
LINE = {
    line[4:].split("(")[0]: i + 2 for i, line in enumerate(PLUGINS.splitlines()) if line.startswith("def ")
}


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """The plug-ins above as plugs.py, and a 3x3 a.npy, in the current directory."""
    (tmp_path / "plugs.py").write_text(PLUGINS)
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1))
    return tmp_path


def workers() -> list[int]:
    """This process's plug-in worker processes that still run (by their command line)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"svdgrad_cli.backends.host" in command:
            found.append(int(stat.parent.name))
    return found


def strays() -> set[int]:
    """Workers left behind: any but the idle ones kept for the next run in this process."""
    kept = {backend._process.pid for backend in isolation._running}
    return set(workers()) - kept


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def run_json(runner, function: str, *extra: str):
    args = ["check", "a.npy", "-b", "autograd", "-b", f"bad=python:plugs:{function}", "-f", "json", *extra]
    result = runner.invoke(cli, args)
    return result, json.loads(result.stdout)["results"][0]["backends"]


@pytest.mark.parametrize(
    ("function", "reason", "frame"),
    [
        ("exits", "called sys.exit(0)", "plugs.py:{} in exits: sys.exit(0)"),
        ("os_exits", "exited with status 0 before answering", None),
        ("segfault", "killed by signal SIGSEGV", "plugs.py:{} in segfault"),  # from faulthandler
        ("interrupts", "raised KeyboardInterrupt", "plugs.py:{} in interrupts: raise KeyboardInterrupt"),
    ],
)
def test_a_plugin_that_exits_crashes_or_interrupts_is_failed_and_the_builtin_stands(
    runner, plugins, function, reason, frame
):
    result, backends = run_json(runner, function)
    assert result.exit_code == 2, result.output
    assert backends["autograd"]["verdict"] == "correct"
    assert backends["bad"]["verdict"] == "failed" and backends["bad"]["message"] == reason
    if frame is not None:  # the plug-in's own line
        assert any(line.endswith(frame.format(LINE[function])) for line in backends["bad"]["traceback"])
    assert not strays()


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        ("forks_and_exits", "exited with status 0 before answering"),
        ("forks_and_hangs", "timed out after 2 s: killed"),
    ],
)
def test_a_process_a_plugin_forks_ends_with_its_worker(runner, plugins, function, reason):
    """The grandchild holds the answer pipe open: its worker's exit was waited for until --timeout
    (forever without one) and called a timeout, and the grandchild ran on after svdgrad ended."""
    result, backends = run_json(runner, function, "--timeout", "2" if "hangs" in function else "20")
    assert result.exit_code == 2
    assert backends["bad"]["message"] == reason
    assert backends["autograd"]["verdict"] == "correct"
    grandchild = int((plugins / "grandchild.txt").read_text())
    for _ in range(50):  # killed, then reaped by init
        if not _running(grandchild):
            break
        time.sleep(0.02)
    assert not _running(grandchild)


def test_a_plugin_signals_only_its_own_process_group(runner, plugins):
    """os.killpg(0, SIGINT) in a plug-in stopped svdgrad as a Ctrl-C would (exit 130, nothing
    checked) and reached every process of svdgrad's group (a CI job's shell)."""
    result, backends = run_json(runner, "group")
    assert result.exit_code == 0, result.output
    assert backends["bad"]["verdict"] == "correct"
    assert int((plugins / "group.txt").read_text()) != os.getpgrp()


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "junit", "github", "markdown", "html"])
def test_every_format_says_the_crashed_plugin_failed_and_why(runner, plugins, fmt):
    args = ["check", "a.npy", "-b", "autograd", "-b", "bad=python:plugs:segfault", "-f", fmt]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "killed by signal SIGSEGV" in result.stdout
    if fmt == "junit":
        cases = {c.get("name"): c for c in ET.fromstring(result.stdout).iter("testcase")}
        assert any("bad" in name and c.find("error") is not None for name, c in cases.items())


def test_a_plugin_that_hangs_is_killed_at_the_timeout(runner, plugins):
    threads = threading.active_count()
    result, backends = run_json(runner, "hangs", "--timeout", "2")
    assert threading.active_count() == threads  # no abandoned call goes on here
    assert result.exit_code == 2
    assert backends["bad"]["message"] == "timed out after 2 s: killed"
    looping = {f"plugs.py:{LINE['hangs'] + i} in hangs" for i in (0, 1)}  # where the loop was
    assert backends["bad"]["traceback"][-1].split("/")[-1] in looping
    assert backends["autograd"]["verdict"] == "correct"
    assert not strays()


def test_a_leaking_plugin_leaves_nothing_behind_across_timeouts(runner, plugins):
    """Four shapes, four calls of 150 MiB each that time out: the leak is in the killed workers, not
    in this process (a thread per call held 600 MiB here); then the fifth call is not tried."""
    for i, shape in enumerate([(3, 3), (4, 3), (5, 3), (6, 3), (7, 3)]):
        np.save(plugins / f"m{i}.npy", with_singular_values([3.0, 2.0, 1.0], shape, seed=i))
    runner.invoke(cli, ["check", "a.npy", "-b", "autograd", "-b", "python:plugs:nuclear", "-q"])  # warm
    before = resident_mib()
    args = ["check", "m0.npy", "m1.npy", "m2.npy", "m3.npy", "m4.npy", "-b", "autograd"]
    result = runner.invoke(cli, [*args, "-b", "python:plugs:leaks", "--timeout", "1", "-f", "json"])
    assert resident_mib() - before < 100
    assert result.exit_code == 2 and not strays()
    assert "plugs.leaks" not in {backend.name for backend in isolation._running}
    results = json.loads(result.stdout)["results"]
    messages = [r["backends"]["plugs.leaks"]["message"] for r in results]
    assert messages[:4] == ["timed out after 1 s: killed"] * 4
    assert messages[4].startswith("not restarted: its worker process ended 4 times in this run")
    assert all(r["backends"]["autograd"]["verdict"] == "correct" for r in results)


@pytest.mark.parametrize("fmt", ["json", "github"])
def test_what_a_plugin_prints_goes_to_stderr_marked_never_into_the_report(runner, plugins, capfd, fmt):
    result = runner.invoke(
        cli, ["check", "a.npy", "-b", "autograd", "-b", "talk=python:plugs:prints", "-f", fmt]
    )
    assert result.exit_code == 0, result.output
    assert "injected" not in result.stdout and "the report" not in result.stdout
    if fmt == "json":
        backends = json.loads(result.stdout)["results"][0]["backends"]
        assert backends["talk"]["verdict"] == "correct"
    # the worker's standard error is this process's; its relay thread may write after the answer came
    line, relayed, deadline = "[talk] ::error title=injected::by the plug-in", [], time.monotonic() + 10
    while line not in relayed and time.monotonic() < deadline:
        relayed += capfd.readouterr().err.splitlines()
        time.sleep(0.05)
    assert line in relayed
    assert not any(line.startswith("::") for line in relayed)


def test_a_plugins_traceback_is_in_json_in_v_and_in_the_save_repro_note(runner, plugins):
    args = ["check", "a.npy", "-b", "autograd", "-b", "deep=python:plugs:deep", "--save-repro", "repro"]
    result = runner.invoke(cli, [*args, "-v", "-f", "json"])
    assert result.exit_code == 2
    backend = json.loads(result.stdout)["results"][0]["backends"]["deep"]
    assert backend["message"] == "RuntimeError: expected scalar type ComplexDouble but found Double"
    raised = 'raise RuntimeError("expected scalar type ComplexDouble but found Double")'
    inner = f"{plugins}/plugs.py:{LINE['_promote']} in _promote: {raised}"
    assert backend["traceback"] == [
        f"{plugins}/plugs.py:{LINE['deep']} in deep: return _promote(stack)",
        inner,
    ]
    assert f"svdgrad:   {inner}" in result.stderr.splitlines()  # -v
    assert "nothing to reproduce" not in result.stderr
    where = f"deep failed: RuntimeError: expected scalar type ComplexDouble but found Double, at {inner}"
    assert where in result.stderr


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("huge", "sent arrays of 2,880,"),  # refused from its header, before it is read
        ("objects", "ValueError: an array of dtype object holds Python objects, which only pickle"),
    ],
)
def test_answers_are_checked_before_they_are_used(runner, plugins, function, message):
    result, backends = run_json(runner, function)
    assert result.exit_code == 2
    assert backends["bad"]["verdict"] == "failed" and backends["bad"]["message"].startswith(message)


def test_one_worker_answers_every_call_of_a_run(runner, plugins):
    for i, shape in enumerate([(3, 3), (4, 3), (5, 3)]):
        np.save(plugins / f"m{i}.npy", with_singular_values([3.0, 2.0, 1.0], shape, seed=i))
    result = runner.invoke(cli, ["check", "m0.npy", "m1.npy", "m2.npy", "-b", "python:plugs:pid", "-q"])
    assert result.exit_code == 0, result.output
    pids = (plugins / "pids.txt").read_text().split()
    assert len(pids) == 3 and len(set(pids)) == 1 and int(pids[0]) != os.getpid()
    assert not strays()


def test_the_reason_a_plugin_fails_to_load_in_its_worker_is_one_line(runner, plugins):
    (plugins / "exits_on_import.py").write_text(textwrap.dedent("import os\nos._exit(3)\n"))
    result = runner.invoke(cli, ["check", "a.npy", "-b", "python:exits_on_import:f"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "svdgrad: error: backend 'python:exits_on_import:f': its worker process exited with status 3 "
        "before loading it"
    )


def test_a_call_interrupted_by_ctrl_c_leaves_no_answer_for_the_next_call(plugins):
    """From Python: Ctrl-C during a plug-in's call; the next check() must not take the late answer
    to the interrupted call (a 3x3 matrix's) for its own (a 4x3 matrix's)."""
    spec, square = "python:plugs:slow_second", with_singular_values([3.0, 2.0, 1.0], (3, 3), seed=1)
    assert check(square, backends=[spec]).results[0].backends[0].verdict == "correct"
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))  # Ctrl-C
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        check(square, backends=[spec])  # its worker sleeps 3 s
    timer.join()
    assert not strays()
    tall = with_singular_values([3.0, 2.0, 1.0], (4, 3), seed=2)
    assert check(tall, backends=[spec]).results[0].backends[0].verdict == "correct"
