"""The README's Python example runs as written, from the repository root."""

from __future__ import annotations

import re
from pathlib import Path

from svdgrad_cli import unregister_backend

ROOT = Path(__file__).resolve().parent.parent


def test_python_example_runs(monkeypatch, capsys):
    (block,) = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    monkeypatch.chdir(ROOT)
    try:
        exec(compile(block, "README.md", "exec"), {})
    finally:
        unregister_backend("closed-form")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("agree [('autograd', 'correct'")
    assert printed[-1] == "agree"
