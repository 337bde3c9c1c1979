"""Markdown summary: counts, a capped worst-first matrix table with escaped cells, and the errors."""

from __future__ import annotations

import re

from svdgrad_cli.model import PairDiff, RunReport, Settings
from svdgrad_cli.render.markdown import MAX_ROWS, inline, render_markdown

from .conftest import backend, matrix

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def matrix_rows(text: str) -> list[list[str]]:
    """The data rows of the matrix table, split on unescaped pipes."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| matrix |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in UNESCAPED_PIPE.split(line)[1:-1]])
    return rows


def test_counts_table_lists_every_verdict(run):
    text = render_markdown(run)
    assert text.startswith("## ")
    assert "Matrices checked: 5. Inputs that could not be read: 1. Skipped: 0. Exit code: 2." in text
    for verdict, count in run.verdict_counts().items():
        assert f"| {verdict} | {count} |" in text


def test_matrix_table_is_worst_first_with_escaped_pipes(run):
    rows = matrix_rows(render_markdown(run))
    assert all(len(row) == 5 for row in rows)
    assert [row[1] for row in rows] == [
        "wrong",
        "non-finite",
        "error",
        "non-unique",
        "agree",
    ]  # severity order
    assert rows[0][0] == r"in/b\|pipe.csv"
    assert rows[0][2:] == ["autograd: correct, tensorflow: wrong", "3.00e-16", "52x"]
    assert rows[1][3] == "-"


def test_table_is_capped_worst_first(many_run):
    text = render_markdown(many_run)
    rows = matrix_rows(text)
    assert len(rows) == MAX_ROWS
    assert rows[0][:2] == ["in/z.npy", "wrong"]
    multiples = [float(row[4].rstrip("x")) for row in rows[1:]]
    assert multiples == sorted(multiples, reverse=True)
    assert multiples[0] == 0.59
    assert "... and 11 more" in text


def test_errors_list_input_errors_and_failed_backends_on_one_line_each(run):
    text = render_markdown(run)
    errors = text.split("### Errors\n\n", 1)[1].splitlines()
    assert errors == [
        r"- **in/d.npy**: tensorflow failed: RuntimeError: boom",
        r'- **in/odd%name,v1:x\<\&"\>\|.csv**: '
        r'bad value "1,2" at line 3: 100% \<broken\> \& more second line',
    ]


def test_inline_escapes_markdown_and_html():
    assert inline("a|b\\|c*d_e`f<g>&h\nnext") == r"a\|b\\\|c\*d\_e\`f\<g\>\&h next"


def test_no_table_and_no_errors_when_there_is_nothing(run):
    run.results = []
    text = render_markdown(run)
    assert "| matrix |" not in text
    assert "### Errors" not in text


def test_the_diff_column_is_relative_as_the_table_prints_it():
    """Issue 22 item 10: an absolute 1.47e+04 beside 'agree' (gradients of norm 1e8) read as a bug."""
    pair = PairDiff("autograd", "torch", 1.47e4, 1.47e4 / 3.2e8)
    fine = [backend("autograd", "correct"), backend("torch", "correct")]
    text = render_markdown(RunReport(Settings(), results=[matrix("big.npy", "agree", fine, pairs=(pair,))]))
    assert "| max rel. diff |" in text and matrix_rows(text)[0][3] == "4.59e-05"
