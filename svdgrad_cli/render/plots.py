"""Pictures with matplotlib (the optional extra ``svdgrad[plot]``), imported only when one is asked for.

A sweep is drawn as each backend's relative error ||G - G_ref||_F / ||G_ref||_F against the swept
parameter on log-log axes: one line per backend with its own marker, colour and dash (the Okabe-Ito
palette, which survives the common colour-blindnesses, and shapes that survive greyscale; Okabe and
Ito 2008, "Color Universal Design"), the error budget as a band (below it, the digits the data
justify), sqrt(eps) where ``inaccurate`` ends and ``wrong`` begins, non-finite results as markers
in a strip above the axes, and the points where the gradient is a set or undefined shaded. An exact
zero of the parameter, which a log axis cannot place, gets its own tick past a break; a ratio from 0
to 1 (``--vary cut``) is drawn on a logit axis (logit_axis.py). Figures are
drawn with the Agg backend (no display needed) and closed after saving.
"""

from __future__ import annotations

import io
import math

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.render.colours import colour as verdict_colour
from svdgrad_cli.render.logit_axis import logit_axis, logit_place, logit_positions
from svdgrad_cli.sweep_model import Family, SweepReport
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

MADE = {"dyadic": "exact dyadic factors", "qr": "seeded QR factors", "svd": "its own vectors"}
INSTALL = "pip install 'svdgrad[plot]' (or pip install matplotlib)"
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")
SHADES = {  # what the gradient is at a point (region()), shaded in its colours.py colour: (hatch, label)
    MatrixVerdict.NON_UNIQUE: ("", "gradient is a set (non-unique)"),
    MatrixVerdict.UNDEFINED: ("//", "no gradient (undefined)"),
    MatrixVerdict.INDETERMINATE: ("..", "data do not determine it\n(indeterminate)"),
}


def require_matplotlib() -> None:
    """A UsageError that says how to install matplotlib, where it is missing."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"pictures need matplotlib, which is not installed: {INSTALL}")


def pyplot():
    """matplotlib.pyplot on the Agg backend, with svdgrad's defaults (legible at 100%)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9, "svg.fonttype": "none"})
    return plt


def style(i: int) -> dict:
    """The i-th backend's colour, marker and dash."""
    return {
        "color": COLOURS[i % len(COLOURS)],
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": DASHES[i % len(DASHES)],
    }


def figure_bytes(fig, fmt: str = "png", dpi: int = 100) -> bytes:
    """A figure saved to bytes (and closed)."""
    plt = pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(
            buffer,
            format=fmt,
            dpi=dpi,
            bbox_inches="tight",
            metadata={"Software": None} if fmt == "png" else None,
        )
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _positions(xs: list[float]) -> tuple[list[float], float | None]:
    """Where each point goes on a log axis: itself, or for an exact 0 a place past the smallest
    positive point (returned too, for its tick)."""
    positive = [x for x in xs if x > 0]
    if len(positive) == len(xs) or not positive:
        return ([x if x > 0 else 1.0 for x in xs], None)
    low = min(positive)
    step = (max(positive) / low) ** (1 / max(len(positive) - 1, 1)) if len(positive) > 1 else 10.0
    zero_at = low / max(step, 10.0) ** 1.2
    return [x if x > 0 else zero_at for x in xs], zero_at


def sweep_positions(family: Family, xs: list[float]) -> tuple[list[float], float | None]:
    """Where each point of a sweep goes on its x axis, and the place of an exact 0 (see _positions)."""
    return (logit_positions(xs), None) if family.vary.logit else _positions(xs)


def x_axis(ax, family: Family, positions: list[float], zero_at: float | None, xs: list[float]) -> None:
    if family.vary.logit:
        logit_axis(ax, positions, xs)
    elif family.vary.doubling:
        _doubling_axis(ax, positions)
    else:
        _decades_axis(ax, positions, zero_at)
    ax.set_xlabel(family.vary.plot_label(family))


def _doubling_axis(ax, positions: list[float]) -> None:
    """Powers of two, increasing, labelled by their exponents."""
    ax.set_xscale("log", base=2)
    exps = sorted({round(math.log2(x)) for x in positions})
    every = 25 if exps[-1] - exps[0] > 100 else 10 if exps[-1] - exps[0] > 40 else 5
    ticks = [e for e in range(exps[0] - exps[0] % every, exps[-1] + 1, every) if exps[0] <= e]
    ax.set_xticks([2.0**e for e in ticks], [f"$2^{{{e}}}$" for e in ticks])


def _decades_axis(ax, positions: list[float], zero_at: float | None) -> None:
    """Powers of ten, decreasing, and an exact 0 past a break."""
    ax.set_xscale("log", base=10)
    positive = [x for x in positions if x != zero_at]
    lo, hi = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    every = max(1, math.ceil((hi - lo) / 8))
    places = [10.0**e for e in range(hi, lo - 1, -every)]
    labels = [f"$10^{{{round(math.log10(t))}}}$" for t in places]
    if zero_at is not None:
        places.append(zero_at)
        labels.append("0")
        ax.axvline(
            math.sqrt(zero_at * min(positive)),
            color="0.3",
            linewidth=0.8,
            linestyle=(0, (2, 2)),
            label="axis break: x = 0 on its right",
        )
    ax.set_xticks(places, labels)
    ax.minorticks_off()
    ax.invert_xaxis()  # the gap closes (or s_K vanishes) to the right, as in the terminal picture


def region(report: MatrixReport) -> MatrixVerdict | None:
    """What the gradient is at a point, whatever a backend returned there (a NaN outranks undefined in
    the matrix verdict, not in the picture): undefined, a set, not determined by the data, or None."""
    reference = report.reference
    if reference is not None and not reference.defined:
        return MatrixVerdict.UNDEFINED
    if reference is not None and not reference.unique:
        return MatrixVerdict.NON_UNIQUE
    if any(b.verdict == BackendVerdict.INDETERMINATE for b in report.backends):
        return MatrixVerdict.INDETERMINATE
    return None


def _bounds(positions: list[float], i: int, linear: bool) -> tuple[float, float]:
    """Where the i-th point's shade begins and ends: halfway to its neighbours (geometrically on a
    log axis), and past an outermost point by half a unit (a factor 1.6)."""
    if linear:
        left = (positions[i] + positions[i - 1]) / 2 if i > 0 else positions[i] - 0.5
        right = (positions[i] + positions[i + 1]) / 2 if i + 1 < len(positions) else positions[i] + 0.5
        return left, right
    left = math.sqrt(positions[i] * positions[i - 1]) if i > 0 else positions[i] * 1.6
    right = math.sqrt(positions[i] * positions[i + 1]) if i + 1 < len(positions) else positions[i] / 1.6
    return left, right


def _shade(ax, report: SweepReport, positions: list[float]) -> None:
    shade_regions(ax, [region(point.report) for point in report.points], positions, report.family.vary.logit)


def shade_regions(ax, kinds: list[MatrixVerdict | None], positions: list[float], linear: bool) -> None:
    """Shade each point whose gradient is a set, undefined or indeterminate (``kinds``, SHADES);
    ``linear`` where the positions are on a linear (logit) scale."""
    labelled = set()
    for i, kind in enumerate(kinds):
        if kind is None:
            continue
        (hatch, label), colour = SHADES[kind], verdict_colour(kind)
        left, right = _bounds(positions, i, linear)
        ax.axvspan(
            left,
            right,
            color=colour,
            alpha=0.22,
            hatch=hatch,
            linewidth=0,
            label=None if label in labelled else label,
        )
        labelled.add(label)


def _errors(report: SweepReport, name: str) -> tuple[list[float | None], list[bool]]:
    """A backend's relative errors (None where it has none) and where it is non-finite."""
    errors: list[float | None] = []
    nonfinite: list[bool] = []
    for p in report.points:
        b = next((r for r in p.report.backends if r.name == name), None)
        digits = None if b is None else b.digits
        errors.append(None if digits is None else 10.0**-digits if math.isfinite(digits) else 0.0)
        nonfinite.append(b is not None and b.verdict == BackendVerdict.NON_FINITE)
    return errors, nonfinite


def _budget(report: SweepReport) -> tuple[list[float | None], list[float | None]]:
    """Per point, the least relative budget the data justify (10^-justified digits) and the least
    relative budget the verdicts used (with room for the reference's own error: larger where the
    reference is not refined, as at near-ties)."""
    data: list[float | None] = []
    allowed: list[float | None] = []
    for p in report.points:
        digits = [b.justified_digits for b in p.report.backends if b.justified_digits is not None]
        data.append(10.0 ** -min(digits) if digits and math.isfinite(min(digits)) else None)
        used = [r for b in p.report.backends if (r := b.relative_budget) is not None]
        allowed.append(min(used) if used else None)
    return data, allowed


def error_axis(ax, series: dict, bounds: tuple[float, float, float]) -> None:
    """The errors' log axis from ``low``; above ``high`` a strip up from ``top`` where the non-finite
    results are drawn, if any backend of ``series`` (name: (errors, non-finite flags)) has one."""
    low, high, top = bounds
    ceiling = high
    if any(any(bad) for _, bad in series.values()):
        ceiling = top * 1.6 ** len(series) * 2
        ax.axhspan(high, ceiling, color="#D55E00", alpha=0.08, linewidth=0)
        ax.text(0.01, 0.985, "non-finite (NaN or Inf)", transform=ax.transAxes, va="top", color="0.25")
    ax.set_yscale("log")
    ax.set_ylim(low, ceiling)


def sqrt_eps_line(ax, dtype) -> None:
    """The line at sqrt(eps) of ``dtype``: past the budget, wrong above it and inaccurate below."""
    ax.axhline(
        math.sqrt(float(np.finfo(dtype).eps)),
        color="0.35",
        linewidth=1,
        linestyle=":",
        label="sqrt(eps): beyond the budget,\nwrong above, inaccurate below",
    )


def limits(values: list[float | None]) -> tuple[float, float]:
    finite = [v for v in values if v and v > 0 and math.isfinite(v)]
    low = min(finite, default=1e-16) / 10
    high = max(max(finite, default=1.0), 1.0) * 10
    return 10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high))


def sweep_figure(report: SweepReport):
    """The sweep as a matplotlib Figure (see the module docstring)."""
    from svdgrad_cli.render.sweep_table import backend_names

    plt = pyplot()
    family = report.family
    xs = [p.member.requested for p in report.points]
    positions, zero_at = sweep_positions(family, xs)
    names = backend_names(report)
    fig, ax = plt.subplots(figsize=(8.4, 5.0), layout="constrained")
    budget, allowed = _budget(report)
    series = {name: _errors(report, name) for name in names}
    low, high = limits(budget + allowed + [e for errors, _ in series.values() for e in errors])
    _shade(ax, report, positions)
    budget_band(ax, positions, budget, low, allowed)
    sqrt_eps_line(ax, family.dtype)
    top = high * 4  # non-finite results are drawn in a strip above the axes' range
    for i, name in enumerate(names):
        version = report.run.versions.get(name)
        backend_line(
            ax, positions, series[name], (low, top * 1.6**i), style(i), f"{name} {version or ''}".strip()
        )
    error_axis(ax, series, (low, high, top))
    ax.set_ylabel("relative error ||G - G_ref||_F / ||G_ref||_F\n(dimensionless; 10^-d: d correct digits)")
    x_axis(ax, family, positions, zero_at, xs)
    _original(ax, family, zero_at, (positions, xs))
    s = report.run.settings
    m, n = family.shape
    where = family.source or f"{m}x{n} {MADE[family.factors.kind]}"
    ax.set_title(f"svdgrad sweep: loss {s.loss}, {where}, {family.dtype}")
    ax.grid(True, which="major", color="0.9", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def budget_band(
    ax,
    positions: list[float],
    budget: list[float | None],
    low: float,
    allowed: list[float | None] | None = None,
) -> None:
    """The region within the error budget, shaded from the bottom of the axes up to the budget the
    data justify; ``allowed``: above it, lighter, up to the budget the verdicts used where that is
    larger (the room for the reference's own error)."""
    edges = [(x, b, a) for x, b, a in zip(positions, budget, allowed or budget, strict=True) if b is not None]
    if not edges:
        return
    xs, data = [x for x, _, _ in edges], [b for _, b, _ in edges]
    ax.fill_between(
        xs, low, data, color="0.85", step="mid", label="within the error budget:\nthe digits the data justify"
    )
    tops = [max(b, a or b) for _, b, a in edges]
    if any(top > b * 1.05 for top, b in zip(tops, data, strict=True)):
        ax.fill_between(
            xs,
            data,
            tops,
            color="0.93",
            step="mid",
            label="also within it: room for\nthe reference's own error",
        )


def backend_line(ax, positions, series, heights: tuple[float, float], look: dict, label: str) -> None:
    """One backend's relative errors (at least 1.5 times the floor ``heights[0]``), and its
    non-finite points in the strip at ``heights[1]``."""
    errors, nonfinite = series
    floor, strip = heights
    ys = [math.nan if e is None else max(e, floor * 1.5) for e in errors]
    ax.plot(
        positions,
        ys,
        markerfacecolor="none",
        markersize=7,
        markeredgewidth=1.5,
        linewidth=1.4,
        label=label,
        **look,
    )
    flagged = [x for x, bad in zip(positions, nonfinite, strict=True) if bad]
    if flagged:
        ax.plot(
            flagged,
            [strip] * len(flagged),
            linestyle="none",
            marker=look["marker"],
            color=look["color"],
            markersize=7,
            markeredgewidth=1.5,
        )


def _original(ax, family: Family, zero_at: float | None, placed: tuple[list[float], list[float]]) -> None:
    """A vertical line at the user's own matrix (--from), where it lies on the axis."""
    x = family.marked_original
    if x is None:
        return
    if family.vary.logit:
        x = logit_place(0.0 if x <= family.zero_level else x, *placed)
    elif x <= family.zero_level:
        x = zero_at
    low, high = sorted(ax.get_xlim())
    if x is not None and low <= x <= high:
        ax.axvline(x, color="black", linewidth=1.2, linestyle="--", label="your matrix")


def save_sweep_plot(report: SweepReport, path: str) -> None:
    """Draw a sweep into a .png or .svg file."""
    fmt = "svg" if str(path).lower().endswith(".svg") else "png"
    data = figure_bytes(sweep_figure(report), fmt)
    with open(path, "wb") as handle:
        handle.write(data)
