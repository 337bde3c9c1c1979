"""The options of ``svdgrad scan``, defined once as options/check.py defines check's: its own (ScanOptions),
every Settings field (what the screen and ``--then-check`` decide by) and the RunOptions of
SCAN_RUN_FIELDS. Imports neither numpy nor click."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from svdgrad_cli.options.check import RunOptions, Settings, option_fields, split_options
from svdgrad_cli.options.machinery import Option, option

SCAN_RUN_FIELDS = (
    "output_format",
    "output",
    "recursive",
    "globs",
    "excludes",
    "max_elements",
    "verbose",
    "details",
    "quiet",
    "top",
    "jobs",
    "cache",
)
SCAN_FORMAT_HELP = (
    "Report format: table or json (the screen's report); with --then-check, any format of 'check' "
    "(the check's report)."
)


@dataclass(frozen=True)
class ScanOptions:
    """What ``svdgrad scan`` does with the matrices at risk (no config keys)."""

    then_check: bool = option(
        False,
        "--then-check",
        kind="flag",
        config=False,
        help="Then check the matrices at risk, and only those, as 'svdgrad check' does; the report "
        "and the exit code are the check's.",
    )
    select_file: str | None = option(
        None,
        "--write-select",
        type="path",
        config=False,
        help="Write the names of the checkpoint and archive tensors at risk into this file, one a "
        "line, as 'check --select' patterns.",
    )
    plan_shards: int | None = option(
        None,
        "--plan-shards",
        type="positive",
        config=False,
        help="N: give the matrices at risk to N shards of similar work (largest first); see --write-plan.",
    )
    plan_file: str | None = option(
        None,
        "--write-plan",
        type="path",
        config=False,
        help="Write the --plan-shards plan into this file, for 'check PATHS --plan FILE --shard K/N'.",
    )


def scan_option_fields() -> list[tuple[type, dataclasses.Field, Option]]:
    """(owning class, field, option) of ``svdgrad scan``, in the order --help lists them."""
    fields = [(c, f, o) for c, f, o in option_fields() if c is Settings or f.name in SCAN_RUN_FIELDS]
    fields = [
        (c, f, dataclasses.replace(o, help=SCAN_FORMAT_HELP)) if f.name == "output_format" else (c, f, o)
        for c, f, o in fields
    ]
    return [(ScanOptions, f, f.metadata["option"]) for f in dataclasses.fields(ScanOptions)] + fields


def split_scan_options(values: dict[str, Any]) -> tuple[Settings, RunOptions, ScanOptions]:
    """Settings, RunOptions and ScanOptions from a dict of field values (missing ones take defaults)."""
    settings, run_options = split_options(values)
    names = {f.name for f in dataclasses.fields(ScanOptions)}
    return settings, run_options, ScanOptions(**{k: v for k, v in values.items() if k in names})
