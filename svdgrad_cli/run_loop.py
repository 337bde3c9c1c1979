"""The one run loop of every command: items in, each taken and streamed to the outputs, the report out.

``check`` streams its matrices' reports, ``sweep`` its points, ``merge`` nothing (its report is whole
before it is written). Ctrl-C and SIGTERM end the loop promptly (interrupts.py): the run is marked
interrupted, the items' source is closed (worker processes and frameworks' batches stop), and every
format says so. The report is then written whole (outputs.py), with a signal that comes meanwhile
held off until it is. A first stage (``scan --then-check``'s screen, which the check follows) writes
its report only if it was interrupted: else the report is the stage's that follows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field

from svdgrad_cli.interrupts import Interrupt, catching_signals
from svdgrad_cli.model import RunReport
from svdgrad_cli.outputs import Outputs, Writer
from svdgrad_cli.render import RENDERERS
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.scan_model import ScanRun


def _nothing(item) -> None:
    return None


@dataclass
class Stream:
    """What a command runs through the loop.

    ``take(item)`` records an item in the report (and tells of it) and returns what the renderers'
    ``item`` gets (a matrix's report or screen, a sweep's point: its ``source`` moves the progress
    bar), or None; ``report`` is what their ``finish`` gets: ``run`` itself, or a report that holds
    it (a sweep's). ``covers`` names the items in the line said on an interruption; ``first_stage``
    that another run follows (see the module docstring).
    """

    run: RunReport | ScanRun
    items: Iterator = field(default_factory=lambda: iter(()))
    take: Callable = _nothing
    report: object = None
    progress: RunProgress | None = None
    covers: str = "matrices checked"
    first_stage: bool = False

    def __post_init__(self) -> None:
        self.report = self.run if self.report is None else self.report


def _stop(stream: Stream, interrupt: Interrupt, notify: Writer) -> None:
    run = stream.run
    run.interrupted, run.interrupted_by = True, interrupt.signum or run.interrupted_by
    close = getattr(stream.items, "close", None)
    if close is not None:
        close()  # stops worker processes and frameworks' batches now
    notify(f"interrupted; the report covers the {stream.covers} so far")


def run_loop(
    stream: Stream, options, write_stdout: Writer, notify: Writer, registry: dict[str, str] = RENDERERS
) -> None:
    """Run ``stream`` and write its report where ``options`` say (outputs.py), in the formats of
    ``registry``."""
    interrupt = Interrupt()
    with catching_signals(interrupt), ExitStack() as stack:
        outputs = Outputs.open(options, stack, write_stdout, registry)
        with stream.progress or nullcontext():
            try:
                for item in stream.items:
                    interrupt.check()
                    shown = stream.take(item)
                    if shown is not None:
                        outputs.item(shown)
                        if stream.progress is not None:
                            stream.progress.matrix(shown.source)
                interrupt.check_last()
            except KeyboardInterrupt:
                _stop(stream, interrupt, notify)
        with interrupt.deferred():
            if stream.run.interrupted or not stream.first_stage:
                outputs.finish(stream.report)
        interrupt.check_held(notify)
