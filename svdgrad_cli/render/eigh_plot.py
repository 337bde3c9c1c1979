"""The picture of ``svdgrad sweep --decomposition eigh --plot FILE`` (render/plots.py's conventions):
each backend's relative error against the swept parameter, the relative budget as a grey line,
sqrt(eps) where ``inaccurate`` ends and ``wrong`` begins, non-finite results as markers on a strip
at the top, and the points where the loss has no gradient (``undefined``) or the data do not
determine it shaded. --vary gap: the gap w_{K+1} - w_K in units of d on a log axis, the exact tie
placed one decade below the smallest non-zero gap; --vary scale: the exponent e of 2^e A."""

from __future__ import annotations

import math

import numpy as np

from svdgrad_cli.eigh_model import EighRun
from svdgrad_cli.render.plots import figure_bytes, pyplot, style
from svdgrad_cli.verdicts import BackendVerdict

SHADED = {BackendVerdict.UNDEFINED: "#bbbbbb", BackendVerdict.INDETERMINATE: "#e6e6e6"}
STRIP = 10.0  # non-finite markers sit this factor above the largest plotted value


def _positions(run: EighRun) -> np.ndarray:
    x = np.array(run.parameters, dtype=float)
    if run.swept == "gap" and np.any(x == 0):
        smallest = np.min(x[x > 0]) if np.any(x > 0) else 1.0
        x = np.where(x == 0, smallest / 10, x)
    return x


def _errors(run: EighRun, i: int) -> np.ndarray:
    return np.array([(r.results[i].relative_error or np.nan) for r in run.reports], dtype=float)


def _shade(ax, run: EighRun, x: np.ndarray) -> None:
    for position, report in zip(x, run.reports, strict=True):
        verdicts = {r.verdict for r in report.results}
        for verdict, colour in SHADED.items():
            if verdict in verdicts:
                ax.axvline(position, color=colour, linewidth=8, alpha=0.6, zorder=0)


def _backends(ax, run: EighRun, x: np.ndarray) -> None:
    """Each backend's relative errors, and its non-finite points on the top strip."""
    values = [e for r in run.reports for e in (x.relative_error for x in r.results) if e and math.isfinite(e)]
    top = STRIP * max([*values, 1.0])
    for i, result in enumerate(run.reports[0].results):
        errors = _errors(run, i)
        ax.plot(x, np.where(errors > 0, errors, np.nan), label=result.backend, **style(i))
        nan = [
            p
            for p, r in zip(x, run.reports, strict=True)
            if r.results[i].verdict is BackendVerdict.NON_FINITE
        ]
        ax.plot(nan, [top] * len(nan), linestyle="none", marker=style(i)["marker"], color=style(i)["color"])


def _thresholds(ax, run: EighRun, x: np.ndarray) -> None:
    """The relative budget at each point, and sqrt(eps)."""
    budgets = [next((r.budget for r in rep.results if r.budget is not None), np.nan) for rep in run.reports]
    ax.plot(x, budgets, color="grey", linewidth=2, alpha=0.7, label="relative budget")
    dtype = run.reports[0].dtype
    eps = np.finfo(dtype.replace("complex64", "float32").replace("complex128", "float64")).eps
    ax.axhline(math.sqrt(eps), color="black", linestyle=":", label="sqrt(eps): inaccurate | wrong")


def eigh_sweep_figure(run: EighRun):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.4, 5.0), layout="constrained")
    x = _positions(run)
    _shade(ax, run, x)
    _backends(ax, run, x)
    _thresholds(ax, run, x)
    ax.set_yscale("log")
    lo, hi = min(x), max(x)
    if run.swept == "gap":  # the gap closes to the right; one point alone gets a decade each side
        ax.set_xscale("log")
        ax.set_xlim(*((hi * 2, lo / 2) if hi > lo else (hi * 10, lo / 10)))
        if 0.0 in run.parameters:
            tie = x[run.parameters.index(0.0)]
            label = "the exact tie (gap 0),\ndrawn a decade past the smallest gap"
            ax.axvline(tie, color="0.5", linestyle="--", linewidth=0.8, label=label)
    elif hi == lo:
        ax.set_xlim(lo - 1, hi + 1)
    first = run.reports[0]
    n = first.shape[0]
    name = "gap (w_K+1 - w_K) / d; the exact tie at the right" if run.swept == "gap" else "e in 2^e A"
    ax.set(xlabel=name, ylabel="relative error (NaN: top strip)")
    ax.set_title(f"eigh, loss {first.loss}, {n}x{n} {first.dtype}; grey: undefined, light: indeterminate")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # off the data, as plots.py
    return fig


def save_eigh_sweep_plot(run: EighRun, path: str) -> None:
    """Draw an eigh sweep into a .png or .svg file."""
    fmt = "svg" if str(path).lower().endswith(".svg") else "png"
    data = figure_bytes(eigh_sweep_figure(run), fmt)
    with open(path, "wb") as handle:
        handle.write(data)
