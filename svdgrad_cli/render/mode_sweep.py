"""Sweeps in ``--mode jvp|hvp`` (mode_model.py ModeSweep): a table of one mark per point and path, and
JSON of every point's report. Each format is a Renderer (base.py) of MODE_SWEEP_RENDERERS."""

from __future__ import annotations

import json
import textwrap

from svdgrad_cli.mode_model import ModePoint, ModeSweep
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.modes import MODE_NAMES, SCHEMA, WIDTH, as_dict

INTERRUPTED_SWEEP = "interrupted: the report covers the points checked so far"

MARKS = {
    "correct": ".",
    "valid": "v",
    "undefined": "u",
    "indeterminate": "?",
    "inaccurate": "i",
    "wrong": "W",
    "non-finite": "N",
    "unsupported": "-",
    "failed": "F",
}


def _point(family, x: float) -> str:
    """x as the points line shows it: 2^e for a doubling parameter (scale), else its value."""
    return family.vary.axis_value(x) if family.vary.doubling else f"{x:.3g}"


def sweep_table(sweep: ModeSweep) -> str:
    """One row per backend and path, one mark per point (MARKS), the parameter of each point below."""
    family, points = sweep.family, sweep.points
    if not points:
        return f"sweep {family.parameter}: no point checked\n"
    rows: dict[str, list[str]] = {}
    for point in points:
        for r in point.report.directions[0].results:
            rows.setdefault(f"{r.backend} {r.path}", []).append(MARKS[str(r.verdict)])
    m, n = family.shape
    loss = points[0].report.loss
    out = [
        f"sweep {family.parameter} over {len(points)} points, loss {loss}, {m}x{n} {family.dtype}",
        f"mode {MODE_NAMES[sweep.mode]}",
        "",
    ]
    out += [f"{name[:34]:<35}{' '.join(marks)}" for name, marks in rows.items()]
    legend = ", ".join(f"{mark} {verdict}" for verdict, mark in MARKS.items())
    out += ["", textwrap.fill("points: " + ", ".join(_point(family, p.parameter) for p in points), WIDTH)]
    out += [textwrap.fill(legend, WIDTH, break_on_hyphens=False), ""]
    return "\n".join(out)


def sweep_json(sweep: ModeSweep) -> str:
    """The sweep's points, each check's report in the mode (as_dict), with its parameter."""
    points = [{"parameter": p.parameter, **as_dict(p.report)} for p in sweep.points]
    data = {
        "schema": SCHEMA,
        "mode": sweep.mode,
        "vary": sweep.family.vary.name,
        "parameter": sweep.family.parameter,
        "interrupted": sweep.interrupted,
        "points": points,
    }
    return json.dumps(data, indent=2, allow_nan=False)


class ModeSweepTableRenderer(Renderer[ModePoint, ModeSweep]):
    name = "table"

    def finish(self, report: ModeSweep, streamed: bool = False) -> str:
        return sweep_table(report) + (INTERRUPTED_SWEEP + "\n" if report.interrupted else "")


class ModeSweepJsonRenderer(Renderer[ModePoint, ModeSweep]):
    name = "json"

    def finish(self, report: ModeSweep, streamed: bool = False) -> str:
        return sweep_json(report)
