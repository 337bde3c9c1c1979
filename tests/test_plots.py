"""Pictures: the sweep plot (PNG and SVG, one line per backend), check --plot DIR (three PNGs per
matrix), matplotlib imported only when a picture is asked for, and one line with exit 2 without it."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from svdgrad_cli import check
from svdgrad_cli.cli import cli
from svdgrad_cli.pipeline.sweep import sweep
from svdgrad_cli.render import matrix_plots, plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def polar_sweep():
    return sweep("gap", at=2, points=5, shape="6x6", loss="polar", backends=["autograd", "torch"])


def test_sweep_figure_has_one_line_per_backend_with_versions(polar_sweep):
    fig = plots.sweep_figure(polar_sweep)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labelled = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    backends = [label for label in labelled if label.split()[0] in ("autograd", "torch")]
    assert len(backends) == 2
    assert all(len(label.split()) == 2 for label in backends)  # name and version
    markers = {line.get_marker() for line in ax.get_lines() if line.get_label() in backends}
    assert len(markers) == 2  # told apart without colour
    assert "0" in [t.get_text() for t in ax.get_xticklabels()]  # the exact tie has its own tick
    assert "relative error" in ax.get_ylabel() and "relative gap" in ax.get_xlabel()
    plots.pyplot().close(fig)


def test_a_point_without_a_gradient_is_shaded_undefined_whatever_a_backend_returned():
    """proj:2 at an exact tie s_2 = s_3 has no gradient; torch returns NaN there, and the matrix
    verdict says non-finite, but the picture shades what the gradient is."""
    report = sweep("gap", at=2, points=3, shape="6x6", loss="proj:2", backends=["torch"])
    tie = report.points[-1].report
    assert report.points[-1].member.requested == 0 and not tie.reference.defined
    assert plots.region(tie) == "undefined"
    assert plots.region(report.points[0].report) is None  # x = 0.1: a unique, determined gradient
    fig = plots.sweep_figure(report)
    labels = [patch.get_label() for patch in fig.axes[0].patches]
    assert any("undefined" in label for label in labels)
    plots.pyplot().close(fig)


def test_sweep_plot_files_are_png_and_svg(polar_sweep, tmp_path):
    png, svg = tmp_path / "s.png", tmp_path / "s.svg"
    plots.save_sweep_plot(polar_sweep, str(png))
    plots.save_sweep_plot(polar_sweep, str(svg))
    width, height = png_size(png.read_bytes())
    assert 600 <= width <= 1400 and 350 <= height <= 900
    assert ET.parse(svg).getroot().tag.endswith("svg")


def test_cli_sweep_plot_and_a_missing_matplotlib(runner, tmp_path, monkeypatch):
    target = tmp_path / "sweep.png"
    args = ["sweep", "-b", "autograd", "--points", "3", "--shape", "4x4", "--plot", str(target)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == PNG_MAGIC
    hide_matplotlib(monkeypatch)
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"svdgrad: error: pictures need matplotlib, which is not installed: {plots.INSTALL}"
    ]
    result = runner.invoke(cli, ["check", "sample_matrices/diag_1123.csv", "--plot", str(tmp_path / "d")])
    assert result.exit_code == 2 and "pip install" in result.stderr


def test_check_plot_dir_writes_three_pictures_per_matrix(runner, tmp_path):
    folder = tmp_path / "pictures"
    source = "sample_matrices/orthogonal_and_near_tie.npz"
    args = ["check", source, "-b", "autograd", "--plot", str(folder), "-q"]
    result = runner.invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 6
    assert {n.rsplit(".", 2)[1] for n in names} == {"spectrum", "errors", "differences"}
    for path in folder.iterdir():
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_matrix_figures_have_their_axes():
    values = np.array([2.0, 1.0, 1.0, 1e-20])
    matrix = np.diag(values)
    report = check(matrix, backends=["autograd", "torch"]).results[0]
    spectrum = matrix_plots.spectrum_figure(report, report_settings())
    assert len(spectrum.axes) == 2 and spectrum.axes[0].get_yscale() == "log"
    errors = matrix_plots.errors_figure(report)
    assert [t.get_text().split("\n")[0] for t in errors.axes[0].get_yticklabels()] == ["autograd", "torch"]
    diff = matrix_plots.difference_figure(report)
    assert len(diff.axes) == 3  # two heatmaps and the colour bar
    for fig in (spectrum, errors, diff):
        plots.pyplot().close(fig)


def report_settings():
    from svdgrad_cli import Settings

    return Settings()


def test_file_stems_are_safe_and_unique():
    taken: set[str] = set()
    assert matrix_plots.file_stem("a/b.npz:w[1]", taken) == "a_b.npz_w_1"
    assert matrix_plots.file_stem("a/b.npz:w[1]", taken) == "a_b.npz_w_1-2"
    assert matrix_plots.file_stem("../..", taken) == "matrix"


@pytest.mark.parametrize("argv", [["sweep", "-b", "autograd", "--points", "2", "--shape", "4x4"]])
def test_no_matplotlib_without_a_picture(argv):
    code = (
        "import sys; from svdgrad_cli.cli import cli\n"
        f"try:\n    cli.main({argv!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('MPL=' + str('matplotlib' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "MPL=False"


def hide_matplotlib(monkeypatch) -> None:
    """As if matplotlib were not installed (svdgrad asks importlib.util.find_spec)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )


def test_the_shaded_budget_reaches_every_point_judged_correct():
    """At a near-tie the float64 reference is not refined and the budget makes room for its own
    error; the picture's band must reach the budget the verdict used, not only the data's part."""
    report = sweep("gap", points=10, shape="8x8", loss="sum", backends=["torch", "tensorflow"])
    data, allowed = plots._budget(report)
    for point, top, floor in zip(report.points, allowed, data, strict=True):
        for b in point.report.backends:
            if b.verdict == "correct" and b.error:
                assert 10.0**-b.digits <= top * (1 + 1e-12)
                assert b.error <= b.budget  # what the verdict read
        assert top >= floor
    assert any(top > 1.5 * floor for top, floor in zip(allowed, data, strict=True))  # the near-ties
