"""``--mode jvp|hvp`` through render/row_formats.py: an input that could not be read is an error in
JSON lines, JUnit, GitHub annotations and Markdown, not left out (fail closed)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from svdgrad_cli.cli import cli


@pytest.mark.parametrize("fmt", ("jsonl", "junit", "github", "markdown", "html"))
def test_an_unreadable_input_is_an_error_in_every_mode_format(runner, tmp_path, monkeypatch, fmt):
    pytest.importorskip("jax")
    monkeypatch.chdir(tmp_path)
    np.save("a.npy", np.diag([3.0, 2.0, 1.0]))
    (tmp_path / "bad.npy").write_bytes(b"not an npy file")
    result = runner.invoke(cli, ["check", "bad.npy", "a.npy", "--mode", "jvp", "-b", "jax", "-f", fmt])
    assert result.exit_code == 2 and "bad.npy" in result.stdout and "not a .npy array" in result.stdout
    if fmt == "junit":
        load = [c for c in ET.fromstring(result.stdout).iter("testcase") if c.get("name") == "load"]
        assert len(load) == 1 and load[0].get("file") == "bad.npy" and load[0].find("error") is not None
    if fmt == "github":
        assert "::error file=bad.npy,title=svdgrad --mode jvp%3A not checked::" in result.stdout
    if fmt == "jsonl":
        summary = json.loads(result.stdout.splitlines()[-1])
        assert summary["exit_code"] == 2 and summary["kind"] == "jvp" and len(summary["errors"]) == 1
