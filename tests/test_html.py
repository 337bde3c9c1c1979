"""The html format: one file that parses, a panel per matrix, pictures inline, nothing outside it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from svdgrad_cli import Settings, check_paths
from svdgrad_cli.cli import cli
from svdgrad_cli.render import render_document

HOSTILE = "odd <b>&\"name'.npy"


class Outline(HTMLParser):
    """Panels, images, links and scripts of a document, and whether its tags balance."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.panels: list[str] = []
        self.sources: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in self.VOID:
            self.open.append(tag)
        if tag == "article" and "panel" in attrs.get("class", ""):
            self.panels.append(attrs.get("id", ""))
        if "src" in attrs:
            self.sources.append(attrs["src"])
        if "href" in attrs:
            self.links.append(attrs["href"])
        self.scripts += tag == "script"

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def outline(text: str) -> Outline:
    parser = Outline()
    parser.feed(text)
    parser.close()
    assert parser.open == [], parser.open
    return parser


def assert_self_contained(text: str, parsed: Outline) -> None:
    readable = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]*"', "", text)
    assert not re.search(r"https?:|ftp:|file:|//[a-z]|url\(|@import", readable, re.IGNORECASE)
    assert parsed.scripts == 0
    assert all(src.startswith("data:image/png;base64,") for src in parsed.sources)
    assert all(link.startswith("#") for link in parsed.links)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.standard_normal((4, 4)))
    np.save(tmp_path / HOSTILE, np.diag([2.0, 1.0, 1.0, 0.0]))
    (tmp_path / "broken.csv").write_text("1,2\n3,x\n")
    return tmp_path


def test_report_parses_with_a_panel_per_matrix_and_nothing_outside(runner, files, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(cli, ["check", str(files), "-b", "autograd", "-f", "html", "-o", str(out), "-q"])
    assert result.exit_code == 2  # the broken file
    text = out.read_text(encoding="utf-8")
    parsed = outline(text)
    assert len(parsed.panels) == 3 == len(set(parsed.panels))
    assert_self_contained(text, parsed)
    assert len(parsed.sources) == 2 * 3  # spectrum, errors and differences of the two readable matrices
    assert "odd &lt;b&gt;&amp;&quot;name&#x27;.npy" in text and HOSTILE not in text
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text


def test_html_to_stdout_and_from_python_without_arrays(runner, files):
    result = runner.invoke(cli, ["check", str(files / "a.npy"), "-b", "autograd", "-f", "html"])
    assert result.exit_code == 0
    assert len(outline(result.stdout).panels) == 1
    run = check_paths([str(files / "a.npy")], Settings(backends=("autograd",)))
    text = render_document("html", run)
    parsed = outline(text)
    assert len(parsed.panels) == 1 and len(parsed.sources) >= 2
    assert_self_contained(text, parsed)


def test_without_matplotlib_the_report_has_no_pictures_and_says_why(runner, files, monkeypatch):
    hide_matplotlib(monkeypatch)
    result = runner.invoke(cli, ["check", str(files / "a.npy"), "-b", "autograd", "-f", "html"])
    parsed = outline(result.stdout)
    assert parsed.sources == [] and "svdgrad[plot]" in result.stdout


def test_pictures_go_to_the_most_severe_matrices_and_panels_to_all(runner, tmp_path, monkeypatch):
    from svdgrad_cli.render import html

    monkeypatch.setattr(html, "PICTURE_LIMIT", 2)
    for i in range(4):
        np.save(tmp_path / f"m{i}.npy", np.eye(2) * (i + 1))
    np.save(tmp_path / "m9_rank1.npy", np.diag([1.0, 0.0]))  # non-unique: the most severe
    result = runner.invoke(cli, ["check", str(tmp_path), "-b", "autograd", "-f", "html"])
    parsed = outline(result.stdout)
    assert len(parsed.panels) == 5
    assert len(parsed.sources) == 3 * 2
    assert "2 most severe matrices" in result.stdout
    last_panel = result.stdout[result.stdout.index('id="m5"') :]
    assert "data:image/png" in last_panel  # the non-unique one was drawn


def hide_matplotlib(monkeypatch) -> None:
    """As if matplotlib were not installed (svdgrad asks importlib.util.find_spec)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
