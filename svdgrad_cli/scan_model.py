"""What `svdgrad scan` found: matrices screened and the run (pipeline/scan.py fills, render/ reads)."""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass, field

from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.shards import item_work
from svdgrad_cli.interrupts import exit_code
from svdgrad_cli.model import Finding
from svdgrad_cli.options import Settings


class ScreenVerdict(enum.StrEnum):
    """What the spectrum shows of one matrix (never a verdict on a gradient: nothing was checked)."""

    AT_RISK = "at-risk"  # the full check would warn: gradient not unique, undefined or ill-conditioned
    CLEAR = "clear-spectrum"  # no such warning: the full check may still find a framework wrong
    ERROR = "error"  # the input could not be read or screened


@dataclass(frozen=True)
class Screened:
    """One matrix screened (or an input that could not be)."""

    source: str
    index: tuple[int, ...]
    shape: tuple[int, ...]
    dtype: str | None
    verdict: ScreenVerdict
    findings: tuple[Finding, ...] = ()
    rank: int | None = None
    top: float | None = None  # s_1
    closest: float | None = None  # the smallest gap between neighbouring positive values, over s_1
    error: str | None = None
    file: str | None = None  # the file entry it was read from (None: standard input)

    @property
    def label(self) -> str:
        return self.source if not self.index else f"{self.source}[{','.join(map(str, self.index))}]"

    @property
    def work(self) -> int:
        """The full check's work on this matrix, as shards.py counts it."""
        m, n = self.shape[-2:] if len(self.shape) >= 2 else (0, 0)
        return item_work(m, n)


@dataclass
class ScanRun:
    """Every matrix screened, the inputs passed over, and whether the run was cut short."""

    settings: Settings
    results: list[Screened] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    interrupted: bool = False
    interrupted_by: int = signal.SIGINT  # the signal that did (read only when interrupted)

    def counts(self) -> dict[str, int]:
        return {v.value: sum(1 for r in self.results if r.verdict is v) for v in ScreenVerdict}

    @property
    def at_risk(self) -> list[Screened]:
        return [r for r in self.results if r.verdict is ScreenVerdict.AT_RISK]

    @property
    def exit_code(self) -> int:
        """2 for an input error or nothing screened, 130 or 143 interrupted, 1 some at risk, else 0."""
        if self.interrupted:
            return exit_code(self.interrupted_by)
        counts = self.counts()
        if counts[ScreenVerdict.ERROR] or not self.results:
            return 2
        return 1 if counts[ScreenVerdict.AT_RISK] else 0
