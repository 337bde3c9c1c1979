"""Pictures of ``--mode jvp|hvp`` (issue 25), drawn as the gradient's are (plots.py, matrix_plots.py):

- a matrix's errors: one row per backend and path, a marker per direction at its relative error,
  the budget and sqrt(eps) as lines (non-finite, unsupported and failed paths named in the row);
- a sweep: each path's relative error along the sweep's direction against the swept parameter, the
  budget as a band, sqrt(eps), non-finite results in a strip above the axes, and the points where
  the derivative is a set (jvp) or does not exist (hvp) shaded.

The relative error is |JVP - L'(A;E)| or ||HVP - H(A)[E]||_F over the budget's scale (mode_budgets.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from svdgrad_cli.mode_model import ModeReport, ModeSweep, PathResult
from svdgrad_cli.render.matrix_plots import file_stem
from svdgrad_cli.render.plots import (
    backend_line,
    budget_band,
    error_axis,
    figure_bytes,
    limits,
    pyplot,
    shade_regions,
    sqrt_eps_line,
    style,
    sweep_positions,
    x_axis,
)
from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

WHAT = {"jvp": "|JVP - L'(A;E)|", "hvp": "||HVP - H(A)[E]||_F"}


def _relative(r: PathResult) -> float | None:
    return None if r.relative_error is None or not math.isfinite(r.relative_error) else r.relative_error


def _path_rows(report: ModeReport) -> dict[str, list[PathResult]]:
    """Each backend and path's results, one per direction, in the report's order."""
    rows: dict[str, list[PathResult]] = {}
    for _, r in report.rows():
        rows.setdefault(f"{r.backend} {r.path}", []).append(r)
    return rows


def _row_label(name: str, results: list[PathResult]) -> str:
    """The row's name, and its verdicts other than correct (valid: a member's <G, E>, whose
    distance from L'(A;E) is no error)."""
    others = sorted({str(r.verdict) for r in results} - {str(BackendVerdict.CORRECT)})
    return name + (f"\n({', '.join(others)})" if others else "")


def errors_figure(report: ModeReport):
    """A matrix in one mode: each path's relative error per direction against its budget."""
    plt = pyplot()
    rows = _path_rows(report)
    fig, ax = plt.subplots(figsize=(9.0, 1.4 + 0.55 * max(len(rows), 2)), layout="constrained")
    eps = float(np.finfo(report.dtype).eps)
    errors = [e for results in rows.values() for e in map(_relative, results) if e]
    budgets = [r.budget for results in rows.values() for r in results if r.budget]
    low = 10.0 ** math.floor(math.log10(min([*errors, *budgets, eps]) / 10))
    high = 10.0 ** math.ceil(math.log10(max([*errors, *budgets, 1.0]) * 10))
    for row, results in enumerate(rows.values()):
        xs = [max(e, low * 1.5) for e in map(_relative, results) if e is not None]
        ax.plot(xs, [row] * len(xs), linestyle="none", markerfacecolor="none", markersize=8, **_marker(row))
    if budgets:
        ax.axvline(max(budgets), color="black", linewidth=1.5, label="error budget (relative)")
    ax.axvline(math.sqrt(eps), color="0.4", linestyle=":", label="sqrt(eps): past the budget, wrong beyond")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_yticks(range(len(rows)), [_row_label(n, r) for n, r in rows.items()])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f"relative error: {WHAT[report.mode]} / the budget's scale (one marker per direction E)")
    ax.set_title(
        f"--mode {report.mode}: each path's error against its budget ({report.loss}, {report.dtype})"
    )
    fig.legend(loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    return fig


def _marker(i: int) -> dict:
    look = style(i)
    return {"color": look["color"], "marker": look["marker"]}


def save_mode_pictures(report: ModeReport, folder: str, taken: set[str]) -> str:
    """Write a matrix's errors picture as ``STEM.<mode>.png`` into ``folder``; its path."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / f"{file_stem(report.label, taken)}.{report.mode}.png"
    path.write_bytes(figure_bytes(errors_figure(report)))
    return str(path)


def _region(report: ModeReport) -> MatrixVerdict | None:
    """What the derivative is at a point along the sweep's direction (plots.SHADES)."""
    direction = report.directions[0]
    if not direction.defined:
        return MatrixVerdict.UNDEFINED
    return None if direction.unique else MatrixVerdict.NON_UNIQUE


def _series(sweep: ModeSweep, name: str) -> tuple[list[float | None], list[bool]]:
    """A path's relative errors along the sweep (None where it has none) and where it is non-finite."""
    errors: list[float | None] = []
    nonfinite: list[bool] = []
    for point in sweep.points:
        r = next((r for r in point.report.directions[0].results if f"{r.backend} {r.path}" == name), None)
        errors.append(None if r is None else _relative(r))
        nonfinite.append(r is not None and r.verdict == BackendVerdict.NON_FINITE)
    return errors, nonfinite


def mode_sweep_figure(sweep: ModeSweep):
    """The sweep in one mode as a matplotlib Figure (see the module docstring)."""
    plt = pyplot()
    family = sweep.family
    xs = [p.parameter for p in sweep.points]
    positions, zero_at = sweep_positions(family, xs)
    names = list(_path_rows(sweep.points[0].report))
    fig, ax = plt.subplots(figsize=(8.4, 5.0), layout="constrained")
    budget = [
        min((r.budget for r in p.report.directions[0].results if r.budget), default=None)
        for p in sweep.points
    ]
    series = {name: _series(sweep, name) for name in names}
    low, high = limits(budget + [e for errors, _ in series.values() for e in errors])
    shade_regions(ax, [_region(p.report) for p in sweep.points], positions, family.vary.logit)
    budget_band(ax, positions, budget, low)
    sqrt_eps_line(ax, family.dtype)
    top = high * 4
    for i, name in enumerate(names):
        backend_line(ax, positions, series[name], (low, top * 1.6**i), style(i), name)
    error_axis(ax, series, (low, high, top))
    ax.set_ylabel(f"relative error {WHAT[sweep.mode]}\n/ the budget's scale (dimensionless)")
    x_axis(ax, family, positions, zero_at, xs)
    m, n = family.shape
    loss = sweep.points[0].report.loss
    ax.set_title(f"svdgrad sweep --mode {sweep.mode}: loss {loss}, {m}x{n}, {family.dtype}, one direction E")
    ax.grid(True, which="major", color="0.9", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def save_mode_sweep_plot(sweep: ModeSweep, path: str) -> None:
    """Draw a sweep in one mode into a .png or .svg file."""
    fmt = "svg" if str(path).lower().endswith(".svg") else "png"
    Path(path).write_bytes(figure_bytes(mode_sweep_figure(sweep), fmt))
