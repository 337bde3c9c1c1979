"""Reports rebuilt from their ``svdgrad/1`` records: the inverse of json_format.py, for ``svdgrad merge``.

A result record (an element of ``-f json``'s ``results``, a ``-f jsonl`` result line) becomes the
MatrixReport it was written from, as far as every renderer reads it: verdicts, errors, budgets,
digits, warnings, pairs, the reference and each backend's forward check. Numbers written as null
because they were NaN or Inf come back from the record's ``non_finite``; arrays come back as float64
(complex from ``[re, im]`` pairs, null entries as NaN), the gradients and loss weights only where the
record holds them (``--include-arrays``). A forward check's epsilon and size are the report's dtype
and shape, as the run measured them. Settings come back through options.py, like the command line's.

A malformed record raises KeyError, TypeError, ValueError or AttributeError: the caller names the file
and line.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.model import (
    BUILT_IN,
    BackendResult,
    Finding,
    MatrixReport,
    PairDiff,
)
from svdgrad_cli.numerics.error_parts import ErrorParts, Part, WorstPair
from svdgrad_cli.numerics.forward import ForwardCheck
from svdgrad_cli.numerics.reference import Reference
from svdgrad_cli.numerics.spectrum import machine_eps
from svdgrad_cli.numerics.truncated import TruncationParts
from svdgrad_cli.options import RunOptions, Settings, split_options
from svdgrad_cli.render.json_format import PAIR_NUMBERS, TRUNCATION_NUMBERS
from svdgrad_cli.verdicts import BackendStatus, MatrixStatus

BACKEND_NUMBERS = ("error", "budget", "gradient_norm", "digits", "justified_digits")
REFERENCE_NUMBERS = ("gradient_norm", "hessian_norm", "natural_scale", "ball_radius")


def _numbers(record: dict, names: tuple[str, ...]) -> dict[str, float | None]:
    """The fields ``names`` as floats: null is None, unless ``non_finite`` says what it was."""
    flags = record.get("non_finite") or {}
    out: dict[str, float | None] = {}
    for name in names:
        value = record.get(name)
        if value is None and name in flags:
            value = flags[name]
        out[name] = None if value is None else float(value)
    return out


def _array(value, matrix: bool = True) -> np.ndarray | None:
    """A nested list back as an array: null entries NaN; a matrix of [re, im] pairs complex."""
    if value is None:
        return None
    array = np.array(value, dtype=np.float64)
    if matrix and array.ndim == 3 and array.shape[-1] == 2:
        return array[..., 0] + 1j * array[..., 1]
    return array


def _forward(record: dict | None, dtype: str, shape: tuple[int, ...]) -> ForwardCheck | None:
    if record is None:
        return None
    value_error = record["value_error"]
    return ForwardCheck(
        float("nan") if value_error is None else float(value_error),
        record["residual"],
        record["orthogonality"],
        machine_eps(np.dtype(dtype)),
        max(shape),
        subspace=record.get("subspace"),
    )


def _error_parts(record: dict | None) -> ErrorParts | None:
    if record is None:
        return None
    pair = record["worst_pair"]
    if pair is not None:
        first, second = (tuple(i - 1 for i in _integers(pair[key], key)) for key in ("first", "second"))
        numbers = {key: pair[key] for key in PAIR_NUMBERS}
        pair = WorstPair(first, second, **numbers)
    return ErrorParts(
        total=record["total"],
        reference_norm=record["reference_norm"],
        rank=record["rank"],
        parts=tuple(Part(name, p["norm"], p["share"]) for name, p in record["parts"].items()),
        worst_pair=pair,
        on_complex=record["complex"],
        free=record["not_decomposed"],
        truncation=_truncation(record.get("truncation")),
    )


def _truncation(record: dict | None) -> TruncationParts | None:
    """ΔG split at the cut of a truncated SVD map (absent from reports written before it existed)."""
    if record is None:
        return None
    return TruncationParts(record["cut"], **{key: record[key] for key in TRUNCATION_NUMBERS})


StatusT = TypeVar("StatusT", MatrixStatus, BackendStatus)


def _status(value, known: type[StatusT]) -> StatusT:
    """A status svdgrad writes; ValueError for any other (a report from elsewhere, or edited)."""
    if value not in tuple(known):
        raise ValueError(f"status {value!r} is none of {', '.join(known)}")
    return known(value)


def _backend(name: str, record: dict, values, gradient, dtype: str, shape) -> BackendResult:
    numbers = _numbers(record, BACKEND_NUMBERS)
    return BackendResult(
        name,
        _status(record["status"], BackendStatus),
        record["message"],
        singular_values=values,
        gradient=gradient,
        verdict=record["verdict"],
        forward=_forward(record.get("forward"), dtype, shape),
        origin=record.get("origin", BUILT_IN),
        convention=record.get("convention"),
        error_parts=_error_parts(record.get("error_parts")),
        error_is_bound=record.get("error_is_bound", False),
        trace=tuple(record.get("traceback") or ()),
        error=numbers["error"],
        budget=numbers["budget"],
        gradient_norm=numbers["gradient_norm"],
        digits=numbers["digits"],
        justified_digits=numbers["justified_digits"],
    )


def _pair(record: dict) -> PairDiff:
    first, second = record["backends"]
    return PairDiff(first, second, record["max_abs_diff"], record["relative"])


def _weights(record: dict) -> dict[str, np.ndarray]:
    """The loss weights a U/V loss drew (written with --include-arrays), by name."""
    arrays = {name: _array(value) for name, value in record.items()}
    return {name: array for name, array in arrays.items() if array is not None}


def _reference(record: dict | None, gradient) -> Reference | None:
    if record is None:
        return None
    numbers = _numbers(record, REFERENCE_NUMBERS)
    return Reference(
        singular_values=np.array(record["singular_values"] or [], dtype=np.float64),
        rank=record["rank"],
        unique=record["unique"],
        method=record["method"],
        gradient=gradient,
        set_description=record["set"],
        finite_difference=record["finite_difference"],
        defined=record["defined"],
        gradient_norm=numbers["gradient_norm"],
        hessian_norm=numbers["hessian_norm"] or 0.0,
        natural_scale=numbers["natural_scale"] or 0.0,
        ball_radius=numbers["ball_radius"],
        precision=record["precision"],
    )


def _integers(values, what: str) -> tuple[int, ...]:
    """A list of whole numbers (a shape, an index, a position); ValueError for anything else."""
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{what} {values!r} is not a list of whole numbers")
    return tuple(values)


def _position(record: dict) -> tuple[int, ...] | None:
    position = record.get("position")
    return None if position is None else _integers(position, "position")


def matrix_from_dict(record: dict) -> MatrixReport:
    """The MatrixReport of one result record."""
    shape, dtype = _integers(record["shape"], "shape"), record["dtype"]
    values = record.get("singular_values") or {}
    gradients = record.get("gradients") or {}
    backends = tuple(
        _backend(name, r, _array(values.get(name), False), _array(gradients.get(name)), dtype, shape)
        for name, r in record["backends"].items()
    )
    warnings = tuple(
        Finding(w["code"], w["message"], tuple(w["indices"]), w["level"]) for w in record["warnings"]
    )
    pairs = tuple(_pair(p) for p in record["pairs"])
    return MatrixReport(
        source=record["source"],
        index=_integers(record["index"], "index"),
        shape=shape,
        dtype=dtype,
        status=_status(record["status"], MatrixStatus),
        verdict=record["verdict"],
        explanation=record["explanation"],
        error=record["error"],
        backends=backends,
        reference=_reference(record["reference"], _array(record.get("reference_gradient"))),
        warnings=warnings,
        pairs=pairs,
        loss_weights=_weights(record.get("loss_weights") or {}),
        stored_dtype=record.get("stored_dtype"),
        reshaped=record.get("reshaped"),
        position=_position(record),
    )


def skipped_from_dict(record: dict) -> Skipped:
    return Skipped(record["source"], record["reason"], _position(record))


def options_from_settings(settings: dict[str, Any], **display) -> tuple[Settings, RunOptions]:
    """Settings and RunOptions from a report's ``settings`` block (lists as tuples), with ``display``
    (the RunOptions of how to show the report) on top."""
    values = {key: tuple(v) if isinstance(v, list) else v for key, v in settings.items()}
    return split_options({**values, **display})
