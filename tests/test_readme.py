"""The README's Python example runs as written, from the repository root."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svdgrad_cli import unregister_backend

ROOT = Path(__file__).resolve().parent.parent


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_python_example_runs(monkeypatch, capsys):
    (block,) = [b for b in python_blocks() if "register_backend(" in b]
    monkeypatch.chdir(ROOT)
    try:
        exec(compile(block, "README.md", "exec"), {})
    finally:
        unregister_backend("closed-form")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("agree [('autograd', 'correct'")
    assert printed[-1] == "agree"


def test_plugin_test_example_passes_and_fails_in_float64(monkeypatch):
    monkeypatch.chdir(ROOT)
    (block,) = [b for b in python_blocks() if "assert_gradients_ok" in b]
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    namespace["test_broadened_svd_gradients"]()  # float32: the broadening's bias is below rounding
    float64 = block.replace(".astype(np.float32)", "")
    exec(compile(float64, "README.md", "exec"), namespace)
    with pytest.raises(AssertionError, match="inaccurate"):
        namespace["test_broadened_svd_gradients"]()
