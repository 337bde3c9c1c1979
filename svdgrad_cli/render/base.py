"""The renderer protocol: one signature for every output format (pip-audit's VulnerabilityFormat).

A renderer is built with the run's RunOptions. ``finish(report, streamed)`` returns the whole report
(a check's or a merge's RunReport, a sweep's SweepReport); a streaming renderer also returns one
piece per item (a matrix's report, a sweep's point) from ``item(item)`` as it finishes, and
``finish(report, streamed=True)`` then returns only what follows those pieces.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from svdgrad_cli.options import RunOptions

Item = TypeVar("Item")
Whole = TypeVar("Whole")


class Renderer(Generic[Item, Whole]):
    """Base class of every format; subclasses set ``name`` and override ``finish`` (and ``item``)."""

    name: ClassVar[str]
    streaming: bool = False  # a class default; the table decides per run (details)

    def __init__(self, options: RunOptions | None = None) -> None:
        self.options = options or RunOptions()

    def item(self, item: Item) -> str:
        """The piece a streaming format writes for one finished item ("" for the others)."""
        return ""

    def finish(self, report: Whole, streamed: bool = False) -> str:
        raise NotImplementedError
