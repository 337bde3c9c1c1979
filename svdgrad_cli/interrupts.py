"""Ctrl-C and SIGTERM as one interruption: recorded, raised as KeyboardInterrupt, held off around the
final write of a report.

SIGTERM (``docker stop``, a cancelled CI job) is treated as Ctrl-C: the run stops, every format says
it was interrupted, and the exit code is 128 + the signal's number (130 for SIGINT, 143 for SIGTERM),
what a shell reports for a process that the signal ended. The signal is recorded as well as raised,
and the record is checked again after every matrix, because a framework may swallow the exception
(JAX's garbage-collection callback prints and drops it). While a report is being written and renamed
into place (``deferred``), a first signal is only recorded, so the file is whole; a second one stops
at once (and the report file is left as it was: report_file.py).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that one ``except`` handles both."""


def exit_code(signum: int) -> int:
    """128 + the signal's number: what a shell reports for a process ended by it."""
    return 128 + int(signum)


def raise_for(signum: int) -> None:
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def stopping_exit_code(exc: BaseException) -> int:
    """The exit code of an interruption that reached the top (130, or 143 for SIGTERM)."""
    return exit_code(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


class Interrupt:
    """Whether Ctrl-C or SIGTERM came during the run (survives a swallowed KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.holding = False  # inside ``deferred``: a first signal is only recorded
        self.held = False  # a signal came while holding (after the run's last check)

    @property
    def name(self) -> str:
        """What interrupted the run, as reports say it ('Ctrl-C' or 'SIGTERM')."""
        return "Ctrl-C" if self.signum is None else NAMES.get(self.signum, "Ctrl-C")

    def handler(self, signum, frame) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if self.holding and first:
            self.held = True
            return
        raise_for(signum)

    def check(self) -> None:
        if self.signum is not None:
            raise_for(self.signum)

    def check_last(self) -> None:
        """The run's last check: a signal that came is raised; one from now on waits for the report to
        be written whole (there is no moment between the two when it would stop the run unreported)."""
        self.holding = True
        if self.signum is not None:
            self.held = False  # raised here, so the report says interrupted: nothing is held
            raise_for(self.signum)

    @contextmanager
    def deferred(self):
        """Hold a first signal off (record it only) while a report is written whole."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False

    def check_held(self, notify) -> None:
        """Stop now for a signal held off while the report was written (the report is whole)."""
        if self.held and self.signum is not None:
            notify(f"{self.name} came as the report was being written; it is complete")
            raise_for(self.signum)


@contextmanager
def _signals_handled_by(handler):
    """SIGINT and SIGTERM routed to ``handler`` for the block, then as before (signal handlers can only
    be set from the main thread: elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def catching_signals(interrupt: Interrupt):
    """Route SIGINT and SIGTERM to ``interrupt`` for the block."""
    return _signals_handled_by(interrupt.handler)


def signals_ignored():
    """SIGINT and SIGTERM ignored for a moment of cleaning up."""
    return _signals_handled_by(signal.SIG_IGN)


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise Terminated anywhere in the process (the command line sets this at start), so
    that files being written are cleaned up as on Ctrl-C."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: raise_for(signum))
