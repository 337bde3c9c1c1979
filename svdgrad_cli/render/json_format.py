"""The ``svdgrad/1`` JSON document: the machine-readable contract (field names are stable).

Non-finite numbers are written as null (strict JSON has no NaN), and the dump uses allow_nan=False so
a slip fails loudly instead of emitting invalid JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from svdgrad_cli._version import __version__
from svdgrad_cli.model import BackendResult, MatrixReport, Reference, RunReport
from svdgrad_cli.options import json_settings
from svdgrad_cli.render.base import Renderer

SCHEMA = "svdgrad/1"
PAIR_NUMBERS = ("gap", "relative_gap", "share", "lost", "broadening")
TRUNCATION_NUMBERS = ("kept", "truncation", "discarded", "complement", "dropped")


def _number(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _plain(record: dict | None) -> dict | None:
    """A flat record with every float made JSON-safe (NaN/Inf as null)."""
    if record is None:
        return None
    return {key: _number(value) if isinstance(value, float) else value for key, value in record.items()}


def _flagged(record: dict, source, names: tuple[str, ...]) -> dict:
    """``record`` with ``non_finite``: what each of ``names`` that is NaN or Inf (written as null) was,
    as "inf", "-inf" or "nan", so that a reader restores it (json_read.py); absent if none is."""
    flags = {}
    for name in names:
        value = getattr(source, name)
        if value is not None and not math.isfinite(value):
            flags[name] = repr(float(value))
    return {**record, "non_finite": flags} if flags else record


def _array(a: np.ndarray | None):
    """Nested lists of Python floats, with null where the value is NaN or Inf; a complex entry is the
    pair [real, imaginary]."""
    if a is None:
        return None
    values = np.asarray(a)
    if np.iscomplexobj(values):
        values = np.stack([values.real, values.imag], axis=-1)
    values = values.astype(np.float64)
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _backend(result: BackendResult) -> dict:
    record = {
        "status": result.status,
        "origin": result.origin,
        "convention": result.convention,
        "message": result.message,
        "verdict": result.verdict,
        "error": _number(result.error),
        "error_is_bound": result.error_is_bound,
        "budget": _number(result.budget),
        "budget_multiple": _number(result.budget_multiple),
        "gradient_norm": _number(result.gradient_norm),
        "digits": _number(result.digits),
        "justified_digits": _number(result.justified_digits),
        "forward": _forward(result.forward),
        "error_parts": _error_parts(result.error_parts),
        "traceback": list(result.trace) or None,
    }
    return _flagged(record, result, ("error", "budget", "gradient_norm", "digits", "justified_digits"))


def _error_parts(parts) -> dict | None:
    """A wrong or inaccurate gradient's error by part of the SVD rule (numerics/error_parts.py), indices
    1-based; null for every other result."""
    if parts is None:
        return None
    pair = parts.worst_pair
    return {
        "total": _number(parts.total),
        "reference_norm": _number(parts.reference_norm),
        "rank": parts.rank,
        "complex": parts.on_complex,
        "dominant": None if parts.dominant is None else parts.dominant.name,
        "parts": {p.name: {"norm": _number(p.norm), "share": _number(p.share)} for p in parts.parts},
        "worst_pair": None
        if pair is None
        else {
            "first": [i + 1 for i in pair.first],
            "second": [i + 1 for i in pair.second],
            **{key: _number(getattr(pair, key)) for key in PAIR_NUMBERS},
        },
        "not_decomposed": parts.free,
        "truncation": _truncation(parts.truncation),
    }


def _truncation(cut) -> dict | None:
    """ΔG split at the cut of a truncated SVD map (numerics/truncated.py), null elsewhere."""
    if cut is None:
        return None
    return {"cut": cut.cut, **{key: _number(getattr(cut, key)) for key in TRUNCATION_NUMBERS}}


def _forward(check) -> dict | None:
    """The forward SVD's relative errors (residual and orthogonality null for a values-only call)."""
    if check is None:
        return None
    return {
        "value_error": _number(check.value_error),
        "residual": _number(check.residual),
        "orthogonality": _number(check.orthogonality),
        "subspace": _number(check.subspace),
        "accurate": check.accurate,
    }


def matrix_to_dict(report: MatrixReport, include_arrays: bool) -> dict:
    out: dict[str, Any] = {
        "source": report.source,
        "index": list(report.index),
        "shape": list(report.shape),
        "dtype": report.dtype,
        "stored_dtype": report.stored_dtype,
        "reshaped": report.reshaped,
        "status": report.status,
        "error": report.error,
        "verdict": report.verdict,
        "explanation": report.explanation,
        "singular_values": {
            b.name: _array(b.singular_values) for b in report.backends if b.singular_values is not None
        },
        "max_abs_diff": _number(report.max_abs_diff),
        "pairs": [
            {
                "backends": [p.first, p.second],
                "max_abs_diff": _number(p.max_abs_diff),
                "relative": _number(p.relative),
            }
            for p in report.pairs
        ],
        "warnings": [
            {"code": f.code, "level": f.level, "message": f.message, "indices": list(f.indices)}
            for f in report.warnings
        ],
        "backends": {b.name: _backend(b) for b in report.backends},
        "reference": None if report.reference is None else _reference(report.reference),
    }
    if report.position is not None:  # a shard's result: its place in the whole run (inputs/shards.py)
        out["position"] = list(report.position)
    if include_arrays:
        out.update(_arrays(report))
    return out


def _arrays(report: MatrixReport) -> dict[str, Any]:
    """The gradients, the reference gradient and the loss weights (--include-arrays)."""
    ref = report.reference
    return {
        "gradients": {b.name: _array(b.gradient) for b in report.backends if b.gradient is not None},
        "reference_gradient": None if ref is None else _array(ref.gradient),
        "loss_weights": {key: _array(value) for key, value in report.loss_weights.items()},
    }


def _reference(ref: Reference) -> dict:
    record = {
        "unique": ref.unique,
        "defined": ref.defined,
        "rank": ref.rank,
        "method": ref.method,
        "set": ref.set_description,
        "singular_values": _array(ref.singular_values),
        "gradient_norm": _number(ref.gradient_norm),
        "hessian_norm": _number(ref.hessian_norm),
        "condition": _number(ref.condition),
        "natural_scale": _number(ref.natural_scale),
        "ball_radius": _number(ref.ball_radius),
        "precision": ref.precision,
        "finite_difference": _plain(ref.finite_difference),
    }
    return _flagged(record, ref, ("gradient_norm", "hessian_norm", "natural_scale", "ball_radius"))


def summary_dict(run: RunReport) -> dict:
    """Counts that add up: checked matrices by verdict, inputs that could not be read, skipped ones."""
    return {
        "matrices": run.checked,
        "errors": run.unreadable,
        "skipped": len(run.skipped),
        "unmatched_select": list(run.unmatched(run.settings.select)),
        "warnings": run.warning_counts(),
        "verdicts": dict(run.verdict_counts()),
    }


def run_dict(run: RunReport) -> dict:
    """What describes the run as a whole: versions, skipped inputs, interruption, exit code."""
    shard = {} if run.shard is None else {"shard": vars(run.shard)}  # index, count, plan (shards.py)
    return {
        **shard,
        "config": run.config,
        "versions": run.versions,
        "skipped": [_skipped(s) for s in run.skipped],
        "interrupted": run.interrupted,
        "summary": summary_dict(run),
        "exit_code": run.exit_code,
    }


def _skipped(skipped) -> dict:
    position = {} if skipped.position is None else {"position": list(skipped.position)}
    return {"source": skipped.source, "reason": skipped.reason, **position}


def render_json(run: RunReport, include_arrays: bool = False) -> str:
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "settings": json_settings(run.settings, run.options),
        "results": [matrix_to_dict(r, include_arrays) for r in run.results],
        **run_dict(run),
    }
    return json.dumps(document, allow_nan=False, indent=2)


class JsonRenderer(Renderer):
    """One ``svdgrad/1`` document for the whole run."""

    name = "json"

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        return render_json(run, self.options.include_arrays)
