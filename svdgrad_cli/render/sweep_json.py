"""A sweep as JSON (``svdgrad-sweep/1``) and JSON Lines: every point with its requested and realised
parameter and spectrum, and check's result for its matrix in the ``svdgrad/1`` result encoding
(json_format.matrix_to_dict), so one parser reads both documents.
"""

from __future__ import annotations

import json

from svdgrad_cli._version import __version__
from svdgrad_cli.options import json_settings
from svdgrad_cli.render.base import Renderer
from svdgrad_cli.render.json_format import _array, _number, matrix_to_dict, run_dict
from svdgrad_cli.sweep_model import Family, SweepPoint, SweepReport

SCHEMA = "svdgrad-sweep/1"
DISCOVERY = ("recursive", "globs", "excludes")  # check's file selection: nothing to do with a sweep


def family_dict(family: Family) -> dict:
    """What was swept, over which matrices, and from where."""
    return {
        "vary": family.vary.name,
        "at": family.at,
        "parameter": family.parameter,
        "shape": list(family.shape),
        "dtype": family.dtype,
        "construction": family.factors.kind,
        "seed": family.seed,
        "source": family.source,
        "original": _number(family.original),
        "base_singular_values": _array(family.base),
        "points": len(family.members),
    }


def point_dict(point: SweepPoint, include_arrays: bool = False) -> dict:
    """One point: the parameter and spectrum requested and realised, and check's result."""
    member = point.member
    return {
        "index": member.index,
        "requested": _number(member.requested),
        "realised": _number(point.realised_parameter),
        "realised_method": point.method,
        "exact": bool(member.exact),
        "scale_exponent": int(member.exponent),
        "file": point.file,
        "singular_values": {"requested": _array(member.values), "realised": _array(point.realised)},
        "result": matrix_to_dict(point.report, include_arrays),
    }


def render_sweep_json(report: SweepReport, include_arrays: bool = False) -> str:
    run = report.run
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "settings": {k: v for k, v in json_settings(run.settings, run.options).items() if k not in DISCOVERY},
        "sweep": family_dict(report.family),
        "points": [point_dict(p, include_arrays) for p in report.points],
        **run_dict(run),
    }
    return json.dumps(document, allow_nan=False, indent=2)


class SweepJsonRenderer(Renderer[SweepPoint, SweepReport]):
    """One ``svdgrad-sweep/1`` document for the whole sweep."""

    name = "json"

    def finish(self, report: SweepReport, streamed: bool = False) -> str:
        return render_sweep_json(report, self.options.include_arrays) + "\n"


class SweepJsonlRenderer(Renderer[SweepPoint, SweepReport]):
    """A ``"type": "point"`` line per point as it is checked, then a ``"type": "summary"`` line."""

    name = "jsonl"
    streaming = True

    def item(self, point: SweepPoint) -> str:
        line = {"type": "point", **point_dict(point, self.options.include_arrays)}
        return json.dumps(line, allow_nan=False) + "\n"

    def finish(self, report: SweepReport, streamed: bool = False) -> str:
        points = [] if streamed else [self.item(point) for point in report.points]
        summary = {"type": "summary", "sweep": family_dict(report.family), **run_dict(report.run)}
        return "".join(points) + json.dumps(summary, allow_nan=False) + "\n"
