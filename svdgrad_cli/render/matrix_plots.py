"""Pictures of one checked matrix (``check --plot DIR``, and the html format): its spectrum, each
backend's error against its budget, and where each backend's gradient differs from the reference.

- spectrum: log10 s_i / s_1 with the zero threshold (zero_tol, spectrum.py) and, beside it, the gaps
  (s_i - s_{i+1}) / s_1 with the tie (zero_tol) and near-duplicate (dup_tol, Wedin's sqrt(eps))
  thresholds; clusters of tied values are bracketed;
- errors: each backend's relative error as a bar on a log axis, hatched and labelled by verdict (so
  that greyscale keeps the verdicts apart), against the budget and sqrt(eps);
- differences: |G_backend - G_ref| per entry, on one logarithmic colour scale (viridis, which reads in
  greyscale and for the common colour-blindnesses), NaN and Inf entries in a colour of their own.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from svdgrad_cli.model import BackendResult, MatrixReport
from svdgrad_cli.options import Settings
from svdgrad_cli.render.colours import colour as verdict_colour
from svdgrad_cli.render.plots import figure_bytes, pyplot
from svdgrad_cli.report_views import distance_from_reference, report_eps, tie_clusters, tolerances
from svdgrad_cli.verdicts import BackendVerdict, MatrixStatus

# verdict -> hatch: with the colour (colours.py) it tells the verdicts apart, in greyscale too
BAR_HATCH = {
    BackendVerdict.CORRECT: "",
    BackendVerdict.VALID: "..",
    BackendVerdict.INDETERMINATE: "--",
    BackendVerdict.INACCURATE: "//",
    BackendVerdict.WRONG: "xx",
}
MAX_HEATMAPS = 8  # backends drawn side by side


def spectrum_figure(report: MatrixReport, settings: Settings):
    plt = pyplot()
    values = np.asarray(report.checked_reference.singular_values, dtype=np.float64)
    zero_tol, dup_tol = tolerances(report, settings)
    top = float(values[0]) if len(values) and values[0] > 0 else 1.0
    rel = values / top
    floor = min(zero_tol / 100, float(np.min(rel[rel > 0], initial=1.0)) / 10)
    idx = np.arange(1, len(values) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 4.0), layout="constrained")
    shown = np.where(rel > 0, rel, floor)
    zero = rel <= zero_tol
    _points(left, idx, shown, ~zero, "o", "#0072B2", "s_i / s_1")
    _points(left, idx, shown, zero, "v", "#D55E00", "numerically zero")
    left.axhline(
        zero_tol, color="#D55E00", linestyle="--", linewidth=1, label=f"zero: s_i / s_1 <= {zero_tol:.1e}"
    )
    for number, cluster in enumerate(tie_clusters(report, zero_tol)):
        first, last = cluster[0] + 1, cluster[-1] + 1
        level = float(shown[first - 1]) / 8
        left.plot(
            [first, last],
            [level, level],
            color="black",
            linewidth=2,
            label=None if number else "tied values (a cluster)",
        )
        left.text((first + last) / 2, level / 3, "tied", ha="center", va="top", fontsize=9)
    left.set_yscale("log")
    left.set_ylim(floor / 10, 30)
    left.set_xlabel("index i")
    left.set_ylabel("s_i / s_1 (dimensionless)")
    left.set_title("singular values")
    _gaps(right, values, top, zero_tol, dup_tol)
    _integer_ticks(left, len(values))
    handles: dict[str, object] = {}
    for ax in (left, right):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(), handles.keys(), loc="outside lower center", ncols=3, fontsize=9, frameon=False
    )
    return fig


def _gaps(ax, values: np.ndarray, top: float, zero_tol: float, dup_tol: float) -> None:
    if len(values) < 2:
        ax.text(0.5, 0.5, "one singular value: no gaps", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    gaps = (values[:-1] - values[1:]) / top
    floor = min(zero_tol / 100, float(np.min(gaps[gaps > 0], initial=1.0)) / 10)
    idx = np.arange(1, len(gaps) + 1)
    zeros = values[1:] <= zero_tol * top  # a pair that involves a zero value: not a tie of two vectors
    close = (gaps <= dup_tol) & ~zeros
    far = ~close & ~zeros
    shown = np.maximum(gaps, floor)
    _points(ax, idx, shown, far, "s", "#0072B2", "gap (s_i - s_i+1) / s_1")
    _points(ax, idx, shown, close, "D", "#E69F00", "near-duplicate pair")
    _points(ax, idx, shown, zeros, "v", "0.5", "pair with a zero value")
    ax.axhline(
        dup_tol, color="#E69F00", linestyle=":", linewidth=1.4, label=f"near-duplicate: gap <= {dup_tol:.1e}"
    )
    ax.axhline(zero_tol, color="#D55E00", linestyle="--", linewidth=1, label=f"tied: gap <= {zero_tol:.1e}")
    ax.set_yscale("log")
    ax.set_ylim(floor / 10, 30)
    ax.set_xlabel("pair i, i+1")
    ax.set_ylabel("(s_i - s_i+1) / s_1 (dimensionless)")
    ax.set_title("gaps between neighbours")
    _integer_ticks(ax, len(gaps))


def _points(
    ax, x: np.ndarray, y: np.ndarray, where: np.ndarray, marker: str, colour: str, label: str
) -> None:
    """The points where ``where`` holds (nothing, and no legend entry, where it never does)."""
    if np.any(where):
        ax.plot(x[where], y[where], marker, color=colour, label=label)


def _integer_ticks(ax, count: int) -> None:
    step = max(1, math.ceil(count / 12))
    ax.set_xticks(range(1, count + 1, step))
    ax.set_xlim(0.4, count + 0.6)


def _error_row(ax, row: int, b: BackendResult, low: float) -> str:
    """Draw one backend's relative error from ``low`` (a bar, a tick where exact, else its message);
    return the row's label."""
    if b.digits is None or b.verdict not in BAR_HATCH:
        message = (b.message or "no error to draw")[:80]
        ax.text(low * 1.3, row, message, va="center", bbox={"facecolor": "white", "edgecolor": "none"})
        return f"{b.name}\n{b.verdict}"
    if not math.isfinite(b.digits):
        ax.plot([low], [row], marker="|", markersize=18, color="black")
        return f"{b.name}\n{b.verdict}, exact"
    colour, hatch = verdict_colour(b.verdict), BAR_HATCH[b.verdict]
    ax.barh(row, 10.0**-b.digits - low, left=low, color=colour, hatch=hatch, edgecolor="black", height=0.6)
    return f"{b.name}\n{b.verdict}, {max(b.digits, 0):.1f} digits"


def errors_figure(report: MatrixReport):
    plt = pyplot()
    backends = list(report.backends)
    fig, ax = plt.subplots(figsize=(9.0, 1.2 + 0.55 * max(len(backends), 2)), layout="constrained")
    eps = report_eps(report)
    judged = [10.0**-b.digits for b in backends if b.digits is not None and math.isfinite(b.digits)]
    budgets = [10.0**-b.justified_digits for b in backends if b.justified_digits is not None]
    low = 10.0 ** math.floor(math.log10(min([*judged, *budgets, eps]) / 10))
    high = 10.0 ** math.ceil(math.log10(max([*judged, *budgets, 1.0]) * 10))
    labels = [_error_row(ax, row, b, low) for row, b in enumerate(backends)]
    if budgets:
        ax.axvline(max(budgets), color="black", linewidth=1.5, label="error budget (relative)")
    ax.axvline(math.sqrt(eps), color="0.4", linestyle=":", label="sqrt(eps): past the budget, wrong beyond")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_yticks(range(len(backends)), labels)
    ax.set_ylim(len(backends) - 0.5, -0.5)  # every row inside the frame, the first on top
    unique = report.reference is None or report.reference.unique
    what = "||G - G_ref||_F" if unique else "distance to the gradient set"
    ax.set_xlabel(f"relative error: {what} / ||G_ref||_F (dimensionless)")
    ax.set_title("each backend's error against its budget")
    fig.legend(loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    return fig


def _heatmap(ax, name: str, d: np.ndarray, low: float, look: dict):
    """One backend's |G - G_ref| per entry (zeros below the scale, NaN/Inf in the colour of bad)."""
    shown = np.where(np.isfinite(d), np.where(d > 0, d, low / 2), np.nan)
    image = ax.imshow(shown, interpolation="nearest", aspect="auto", **look)
    bad = int(np.sum(~np.isfinite(d)))
    ax.set_title(name + (f"\n{bad} NaN/Inf (orange)" if bad else ""), fontsize=10)
    ax.set_xlabel("column j (from 0)")
    if not bad and not np.any(d > 0):
        ax.text(0.5, 0.5, "equal in\nevery entry", transform=ax.transAxes, ha="center", va="center")
    return image


def _difference_range(diffs) -> tuple[float, float, bool]:
    """The colour scale's ends (at most 16 decades) and whether any entry differs at all."""
    finite = np.concatenate([d[np.isfinite(d)].ravel() for d in diffs])
    positive = finite[finite > 0]
    top = float(positive.max()) if positive.size else 1.0
    low = max(float(positive.min()) if positive.size else top, top * 1e-16)
    return low, top, bool(positive.size)


def difference_figure(report: MatrixReport):
    """|G_b - G_ref| per entry for each backend with a gradient; None where there is nothing to draw."""
    plt = pyplot()
    from matplotlib.colors import LogNorm

    reference = report.reference.gradient if report.reference is not None else None
    drawn = [b for b in report.backends if b.gradient is not None][:MAX_HEATMAPS]
    if reference is None or not drawn:
        return None
    diffs = [distance_from_reference(b, reference) for b in drawn]
    low, top, differs = _difference_range(diffs)
    norm = LogNorm(vmin=low, vmax=max(top, low * 10))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#D55E00", under="#ffffff")
    fig, axes = plt.subplots(
        1, len(drawn), figsize=(2.6 * len(drawn) + 1.2, 3.0), layout="constrained", squeeze=False
    )
    images = [
        _heatmap(ax, b.name, d, low, {"cmap": cmap, "norm": norm})
        for ax, b, d in zip(axes[0], drawn, diffs, strict=True)
    ]
    image = images[-1]
    axes[0][0].set_ylabel("row i (from 0)")
    if differs:
        fig.colorbar(image, ax=axes[0].tolist(), label="|G - G_ref| per entry", extend="min")
    what = "the reference gradient" if report.checked_reference.unique else "the set's minimum-norm member"
    fig.suptitle(f"where each backend differs from {what} (white: exactly equal)", fontsize=11)
    return fig


def matrix_pictures(report: MatrixReport, settings: Settings, fmt: str = "png") -> dict[str, bytes]:
    """The pictures of one checked matrix by kind (spectrum, errors, differences), as image bytes."""
    if report.status is not MatrixStatus.CHECKED or report.reference is None:
        return {}
    pictures = {
        "spectrum": figure_bytes(spectrum_figure(report, settings), fmt),
        "errors": figure_bytes(errors_figure(report), fmt),
    }
    diff = difference_figure(report)
    if diff is not None:
        pictures["differences"] = figure_bytes(diff, fmt)
    return pictures


def file_stem(label: str, taken: set[str]) -> str:
    """A file name for a matrix's label: path separators and odd characters replaced, made unique."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "matrix"
    stem = stem[-120:]
    unique, n = stem, 2
    while unique in taken:
        unique, n = f"{stem}-{n}", n + 1
    taken.add(unique)
    return unique


def save_matrix_pictures(report: MatrixReport, settings: Settings, folder: str, taken: set[str]) -> list[str]:
    """Write a matrix's pictures as PNG files into ``folder``; returns their paths."""
    pictures = matrix_pictures(report, settings)
    if not pictures:
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    stem = file_stem(report.label, taken)
    written = []
    for kind, data in pictures.items():
        path = Path(folder) / f"{stem}.{kind}.png"
        path.write_bytes(data)
        written.append(str(path))
    return written
