"""The reference's precision as ``--reference`` chooses it (imports nothing: options.py reads it)."""

from __future__ import annotations

from enum import StrEnum


class ReferencePrecision(StrEnum):
    """Where the high-precision reference (highprec.py) replaces the float64 one."""

    AUTO = "auto"  # where float64 cannot decide a verdict, up to highprec.MAX_ELEMENTS entries
    FLOAT64 = "float64"  # never: undecided results are settled in the backend's favour
    HIGH = "high"  # for every unique gradient, at any size

    def __repr__(self) -> str:
        return repr(self.value)
