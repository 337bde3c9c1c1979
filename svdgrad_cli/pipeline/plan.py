"""The options of the path of one matrix, built once per run and passed once down it.

A run's files go run.py -> (parallel.py) -> stream.py ``check_files`` -> ``ReportStream`` (batches of
one shape, batching.py; one call per backend, calls.py) -> ``MatrixAssessment`` (assess.py), each
reading what it needs from one :class:`RunPlan`, which travels to worker processes whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS
from svdgrad_cli.numerics.differentiated import DEFAULT_TARGET, Target
from svdgrad_cli.options import Settings


@dataclass(frozen=True)
class RunPlan:
    """What decides the verdicts (``settings``, resolved: run.resolve_settings), what is differentiated
    (``target``: numerics/differentiated.py), how large an input may be read, and whether reports keep
    their gradient arrays (a long run drops them)."""

    settings: Settings
    target: Target = DEFAULT_TARGET
    max_elements: int = DEFAULT_MAX_ELEMENTS
    keep_arrays: bool = True
