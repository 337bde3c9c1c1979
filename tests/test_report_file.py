"""report_file.py: ``-o FILE`` is the previous file until the new report is whole, then the new one."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from click.testing import CliRunner

from svdgrad_cli.cli import cli
from svdgrad_cli.errors import UsageError
from svdgrad_cli.report_file import ReportFile


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_the_previous_file_stands_until_the_commit(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("previous")
    with ReportFile(str(target)) as report:
        report.write("new ")
        assert target.read_text() == "previous" and len(leftovers(tmp_path)) == 1
        report.write("report")
        report.commit()
    assert target.read_text() == "new report" and leftovers(tmp_path) == []


@pytest.mark.parametrize("stop", [KeyboardInterrupt, UsageError])
def test_a_report_left_unfinished_leaves_the_previous_file_and_no_temporary(tmp_path, stop):
    target = tmp_path / "out.json"
    target.write_text("previous")
    with pytest.raises(stop), ReportFile(str(target)) as report:
        report.write("half a rep")
        raise stop("stopped")
    assert target.read_text() == "previous" and leftovers(tmp_path) == []


def test_a_new_file_is_not_created_before_the_commit(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt), ReportFile(str(target)) as report:
        report.write("part")
        raise KeyboardInterrupt
    assert not target.exists() and leftovers(tmp_path) == []


def test_a_replaced_file_keeps_its_mode_and_a_new_one_gets_the_umasks(tmp_path):
    kept, new = tmp_path / "kept.json", tmp_path / "new.json"
    kept.write_text("x")
    kept.chmod(0o640)
    for path in (kept, new):
        with ReportFile(str(path)) as report:
            report.write("y")
            report.commit()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask


def test_a_symbolic_link_is_followed_not_replaced(tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("previous")
    link.symlink_to(real)
    with ReportFile(str(link)) as report:
        report.write("new")
        report.commit()
    assert link.is_symlink() and real.read_text() == "new"


def test_a_file_that_is_not_regular_is_written_directly(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with ReportFile(str(fifo)) as report:
            report.write("through the pipe")
            report.commit()
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and leftovers(tmp_path) == []


def test_merge_o_leaves_the_previous_file_when_stopped_while_writing(tmp_path, monkeypatch):
    np.save(tmp_path / "a.npy", np.diag([3.0, 2.0, 1.0]))
    report = tmp_path / "run.jsonl"
    CliRunner().invoke(
        cli, ["check", str(tmp_path / "a.npy"), "-b", "autograd", "-f", "jsonl", "-o", str(report)]
    )
    target = tmp_path / "merged.json"
    target.write_text("previous")

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("svdgrad_cli.render.json_format.JsonRenderer.finish", stopped)
    result = CliRunner().invoke(cli, ["merge", str(report), "-o", str(target)])
    assert result.exit_code != 0 and target.read_text() == "previous" and leftovers(tmp_path) == []
    monkeypatch.undo()
    result = CliRunner().invoke(cli, ["merge", str(report), "-o", str(target)])
    assert result.exit_code == 0 and json.loads(target.read_text())["summary"]["matrices"] == 1
