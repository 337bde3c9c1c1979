"""The renderer protocol: one signature for every output format (pip-audit's VulnerabilityFormat).

A renderer is built with the run's RunOptions. ``finish(run, streamed)`` returns the report of the
whole run; a streaming renderer also returns one piece per matrix from ``item(report)`` as it
finishes, and ``finish(run, streamed=True)`` then returns only what follows those pieces.
"""

from __future__ import annotations

from typing import ClassVar

from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.options import RunOptions


class Renderer:
    """Base class of every format; subclasses set ``name`` and override ``finish`` (and ``item``)."""

    name: ClassVar[str]
    streaming: bool = False  # a class default; the table decides per run (details)

    def __init__(self, options: RunOptions | None = None) -> None:
        self.options = options or RunOptions()

    def item(self, report: MatrixReport) -> str:
        """The piece a streaming format writes for one finished matrix ("" for the others)."""
        return ""

    def finish(self, run: RunReport, streamed: bool = False) -> str:
        raise NotImplementedError
