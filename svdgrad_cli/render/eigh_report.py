"""Reports of ``--decomposition eigh`` (eigh_model.py): a table at 80 columns and JSON. Each format is
a Renderer (base.py) of EIGH_RENDERERS; a run is written whole at its end (``finish(run)``)."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable

from svdgrad_cli.eigh_model import EighReport, EighResult, EighRun
from svdgrad_cli.render.base import Renderer

WIDTH = 80
SCHEMA = "svdgrad-eigh/1"
INTERRUPTED = "interrupted: the report covers the matrices checked so far"
SHOWN_VALUES = 6  # eigenvalues listed per matrix in the table


def number(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2e}" if x and (abs(x) < 1e-3 or abs(x) >= 1e4) else f"{x:.4g}"


def _row(r: EighResult) -> str:
    numbers = f"{number(r.relative_error):>11} {number(r.budget):>10} {number(r.asymmetry):>10}"
    text = f"  {r.backend:<24}{r.verdict:<14}{numbers}"
    for note in (r.message, r.forward):
        if note:
            text += "\n" + textwrap.fill(note, WIDTH, initial_indent="    ", subsequent_indent="    ")
    return text


def _head(report: EighReport) -> list[str]:
    n = report.shape[0]
    shown = ", ".join(f"{w:.6g}" for w in report.eigenvalues[:SHOWN_VALUES])
    more = ", ..." if len(report.eigenvalues) > SHOWN_VALUES else ""
    lines = [
        f"{report.label}  {n}x{n}  eigh  loss {report.loss}  {report.dtype}  -> {report.verdict}",
        f"  eigenvalues: {shown}{more}",
        f"  reference ({report.precision}): {report.reference}",
    ]
    if report.symmetrized is not None:
        lines.append(f"  --symmetrize: (A + A^T)/2; ||A - A^T||_F / ||A||_F was {report.symmetrized:.3g}")
    return [w for line in lines for w in textwrap.wrap(line, WIDTH, subsequent_indent="    ")]


ASYM_NOTE = (
    "asym: ||G - G^H||_F / 2 of the gradient as returned, relative to ||G||_F (the budget's scale); "
    "a framework that reads one triangle "
    "returns a triangular G. Each is judged by its Hermitian part (G + G^H)/2."
)


def table(run: EighRun) -> str:
    """The human report: per matrix, one row per backend (relative error and budget against ||G||_F;
    asym: the antisymmetric part the framework adds, which only says which triangle it reads)."""
    out = []
    for report in run.reports:
        out += _head(report)
        out.append(f"  {'backend':<24}{'verdict':<14}{'rel. error':>11} {'budget':>10} {'asym':>10}")
        out += [_row(r) for r in report.results]
        out.append("")
    if run.reports:
        out += textwrap.wrap(ASYM_NOTE, WIDTH)
    out += [textwrap.fill(f"not checked: {line}", WIDTH, subsequent_indent="    ") for line in run.errors]
    return "\n".join(out) + ("\n" + INTERRUPTED if run.interrupted else "") + "\n"


SHORT = {  # a sweep's cells, to fit 80 columns
    "correct": "ok",
    "valid": "valid",
    "undefined": "undef",
    "indeterminate": "indet",
    "inaccurate": "inacc",
    "wrong": "WRONG",
    "non-finite": "NaN",
    "failed": "failed",
}
CELL = 14


def sweep_table(run: EighRun) -> str:
    """A sweep: one row per point, each backend's verdict and relative error, the relative budget."""
    tail = ("\n" + INTERRUPTED if run.interrupted else "") + "\n"
    if not run.reports:
        return "no points" + tail
    first = run.reports[0]
    n = first.shape[0]
    out = [f"sweep --vary {run.swept}  {n}x{n}  eigh  loss {first.loss}  {first.dtype}"]
    out.append("cells: verdict, relative error; ok correct, undef undefined, indet indeterminate")
    names = "".join(f"{r.backend[: CELL - 1]:<{CELL}}" for r in first.results)
    out.append(f"{'point':<13}{'budget':>9}  {names}".rstrip())
    for report in run.reports:
        budget = next((r.budget for r in report.results if r.budget is not None), None)
        cells = "".join(f"{_cell(r):<{CELL}}" for r in report.results)
        out.append(f"{report.label:<13}{number(budget):>9}  {cells}".rstrip())
    return "\n".join(out) + tail


def _cell(r: EighResult) -> str:
    short = SHORT.get(str(r.verdict), str(r.verdict))
    return short if r.relative_error is None else f"{short} {r.relative_error:.1e}"


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def as_dict(report: EighReport) -> dict:
    """One matrix's report as JSON-ready data (no NaN: null)."""
    return {
        "label": report.label,
        "shape": list(report.shape),
        "dtype": report.dtype,
        "loss": report.loss,
        "verdict": str(report.verdict),
        "eigenvalues": [_finite(w) for w in report.eigenvalues],
        "reference": report.reference,
        "reference_precision": report.precision,
        "defined": report.defined,
        "unique": report.unique,
        "symmetrized": report.symmetrized,
        "backends": [
            {
                "backend": r.backend,
                "verdict": str(r.verdict),
                "relative_error": _finite(r.relative_error),
                "budget": _finite(r.budget),
                "asymmetry": _finite(r.asymmetry),
                "message": r.message,
                "forward": r.forward,
            }
            for r in report.results
        ],
    }


def results(run: EighRun) -> list[dict]:
    """Each matrix's report (as_dict) naming the decomposition, a sweep's with its parameter."""
    extra = [{"parameter": x} for x in run.parameters] if run.swept else [{} for _ in run.reports]
    pairs = zip(run.reports, extra, strict=True)
    return [{"decomposition": "eigh", **as_dict(r), **more} for r, more in pairs]


class EighRenderer(Renderer[EighReport, EighRun]):
    """A format of an eigh run: ``finish(run)`` writes every matrix's report, the text its subclass's
    ``document(run)`` makes."""

    document: Callable[[EighRun], str]

    def finish(self, report: EighRun, streamed: bool = False) -> str:
        return type(self).document(report)


class EighTableRenderer(EighRenderer):
    name = "table"
    document = staticmethod(table)


class EighSweepTableRenderer(EighRenderer):
    name = "table"
    document = staticmethod(sweep_table)


def json_document(run: EighRun) -> str:
    """The run as one JSON document (``svdgrad-eigh/1``)."""
    data = {
        "schema": SCHEMA,
        "decomposition": "eigh",
        "interrupted": run.interrupted,
        "results": results(run),
        "errors": list(run.errors),
    }
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


class EighJsonRenderer(EighRenderer):
    name = "json"
    document = staticmethod(json_document)
