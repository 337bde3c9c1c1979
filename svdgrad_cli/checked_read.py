"""Reports of ``--mode jvp|hvp`` and ``--decomposition eigh`` rebuilt from their result records (the
``-f json`` results and ``-f jsonl`` result lines of render/modes.py and render/eigh_report.py): the
inverse of their ``as_dict``, for ``svdgrad merge`` (merge_checked.py). A record is taken only if the
report rebuilt from it writes back exactly as read; anything else raises KeyError, TypeError or
ValueError, and the caller names the file and line.
"""

from __future__ import annotations

from svdgrad_cli.eigh_model import EighReport, EighResult
from svdgrad_cli.mode_model import DirectionResult, ModeReport, PathResult
from svdgrad_cli.numerics.differentiated import DerivativeMode
from svdgrad_cli.render import eigh_report, modes
from svdgrad_cli.verdicts import BackendVerdict


def _float(x) -> float:
    return float("nan") if x is None else float(x)


def _eigh(record: dict) -> EighReport:
    results = [
        EighResult(
            r["backend"],
            BackendVerdict(r["verdict"]),
            relative_error=r["relative_error"],
            budget=r["budget"],
            asymmetry=r["asymmetry"],
            message=r["message"],
            forward=r["forward"],
        )
        for r in record["backends"]
    ]
    values = tuple(_float(w) for w in record["eigenvalues"])
    shape, head = tuple(record["shape"]), (record["dtype"], record["loss"], values, record["reference"])
    return EighReport(
        record["label"],
        shape,
        *head,
        record["defined"],
        record["unique"],
        results,
        record["symmetrized"],
        precision=record["reference_precision"],
    )


def _path(r: dict) -> PathResult:
    numbers = (r["error"], r["relative_error"], r["relative_budget"], r["value"])
    return PathResult(r["backend"], r["path"], BackendVerdict(r["verdict"]), *numbers, r["message"])


def _mode(record: dict) -> ModeReport:
    directions = [
        DirectionResult(
            d["index"],
            d["reference"],
            d["defined"],
            d["unique"],
            d["value"],
            None if d["interval"] is None else tuple(d["interval"]),
            d["norm"],
            [_path(r) for r in d["results"]],
        )
        for d in record["directions"]
    ]
    shape, mode = tuple(record["shape"]), DerivativeMode(record["mode"])
    return ModeReport(record["label"], shape, mode, record["loss"], record["dtype"], directions)


def report_from_dict(kind: str, record: dict) -> EighReport | ModeReport:
    """The report a result line was written from; ValueError where writing it again differs."""
    framing = ("type", "position", "decomposition")  # the line's place and kind, not the result's fields
    written = {key: value for key, value in record.items() if key not in framing}
    report: EighReport | ModeReport
    if kind == "eigh":
        report = _eigh(record)
        again = eigh_report.as_dict(report)
    else:
        report = _mode(record)
        again = modes.as_dict(report)
    if again != written:
        raise ValueError("its fields do not write back as read (edited, or another svdgrad's)")
    return report
