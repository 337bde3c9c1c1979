"""html and --plot of ``--mode jvp|hvp`` (issue 25), for runs and sweeps: self-contained documents
naming every path and verdict with the pictures inside, PNG files where --plot says."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from svdgrad_cli import check
from svdgrad_cli.cli import cli

pytest.importorskip("matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"


class Tags(HTMLParser):
    """Every start tag and whether each opened element was closed (the void ones aside)."""

    VOID = frozenset({"meta", "img", "br"})

    def __init__(self):
        super().__init__()
        self.open, self.seen = [], []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()


def parsed(document: str) -> Tags:
    tags = Tags()
    tags.feed(document)
    assert not tags.open
    return tags


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, enc=np.random.default_rng(1).standard_normal((4, 4)), dec=np.diag([3.0, 2.0, 1.0, 0.0]))
    return path


def test_html_of_a_run_is_self_contained_and_names_every_path(runner, archive, tmp_path):
    out = tmp_path / "r.html"
    result = runner.invoke(
        cli, ["check", str(archive), "--mode", "jvp", "-b", "jax", "-f", "html", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    document = out.read_text()
    tags = parsed(document)
    assert not any(t == "script" for t, _ in tags.seen) and "http" not in document.replace("http-equiv", "")
    images = [a["src"] for t, a in tags.seen if t == "img"]
    assert len(images) == 2 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "svdgrad check --mode jvp" in document and document.count("jax.jvp") == 6  # 2 matrices x 3 E
    assert ">non-unique<" in document and ">valid<" in document and "Why the JVPs differ" in document


def test_html_of_a_sweep_holds_its_picture_and_each_point(runner):
    args = [
        "sweep",
        "--mode",
        "hvp",
        "--vary",
        "zero",
        "--shape",
        "4x4",
        "--points",
        "3",
        "-b",
        "jax",
        "-f",
        "html",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    tags = parsed(result.stdout)
    assert sum(t == "img" for t, _ in tags.seen) == 1
    assert sum(t == "h2" for t, _ in tags.seen) == 3 and ">undefined<" in result.stdout
    refused = runner.invoke(cli, ["sweep", "--shape", "3x3", "--points", "2", "-b", "jax", "-f", "html"])
    assert refused.exit_code == 2 and "not html" in refused.output


def test_plot_writes_a_picture_per_matrix_and_one_per_sweep(runner, archive, tmp_path):
    folder = tmp_path / "pictures"
    result = runner.invoke(cli, ["check", str(archive), "--mode", "hvp", "-b", "jax", "--plot", str(folder)])
    assert result.exit_code == 0, result.output
    written = sorted(folder.iterdir())
    assert [p.name.endswith(".hvp.png") for p in written] == [True, True]
    assert all(p.read_bytes().startswith(PNG) for p in written)
    picture = tmp_path / "s.png"
    args = ["sweep", "--mode", "jvp", "--shape", "3x3", "--points", "3", "-b", "jax", "--plot", str(picture)]
    assert runner.invoke(cli, args).exit_code == 0
    assert picture.read_bytes().startswith(PNG)
    wrong = runner.invoke(cli, [*args[:-1], str(tmp_path / "s.pdf")])
    assert wrong.exit_code == 2 and "must end in .png or .svg" in wrong.output


def test_the_errors_picture_rows_name_what_is_not_an_error():
    from svdgrad_cli.render.mode_plots import _path_rows, _row_label, errors_figure

    run = check(np.diag([3.0, 2.0, 1.0, 0.0]), mode="jvp", backends=["jax", "autograd"])
    report = run.reports[0]
    labels = [_row_label(n, r) for n, r in _path_rows(report).items()]
    assert any(re.search(r"autograd make_jvp\n\(unsupported\)", label) for label in labels)
    assert any("jax jax.jvp\n(" in label and "valid" in label for label in labels)
    figure = errors_figure(report)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == labels
