"""Functions stay simple: radon's cyclomatic complexity, which counts boolean operators too, is at
most 12 for every function of the package (ruff's C901, which does not count them, holds 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

radon = pytest.importorskip("radon.complexity", reason="radon is a dev dependency (pip install -e '.[dev]')")

PACKAGE = Path(__file__).parent.parent / "svdgrad_cli"
MOST = 12


def complexities(path: Path) -> list[tuple[str, int]]:
    """(name, complexity) of every function and method in a file."""
    return [(block.fullname, block.complexity) for block in radon.cc_visit(path.read_text())]


def test_the_count_includes_boolean_operators(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f(a, b, c):\n    if a and b or c:\n        return 1\n    return 0\n")
    assert complexities(source) == [("f", 4)]


def test_no_function_is_more_complex_than_twelve():
    over = [
        f"{path.relative_to(PACKAGE)}: {name} ({count})"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name, count in complexities(path)
        if count > MOST
    ]
    assert not over, "split these into named steps: " + ", ".join(over)
