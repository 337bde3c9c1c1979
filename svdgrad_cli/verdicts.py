"""Verdicts, defined once: per backend and per matrix, with their severity order and named groups.

Every renderer, ``--fail-on``, the reproducers and the exit code read these; none spells a verdict.
The statuses of a matrix report and of a backend's call, and ``--reference``'s precision, are here too,
as enums of the same kind.
The values are the strings of the JSON contract (``StrEnum`` members compare equal to them).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class _Verdict(StrEnum):
    """A verdict prints and reprs as its plain string, as it appears in every report."""

    def __repr__(self) -> str:
        return repr(self.value)


class BackendVerdict(_Verdict):
    """What one backend's gradient is, judged against the reference (docs/theory.md §6)."""

    CORRECT = "correct"  # unique gradient, within the error budget
    VALID = "valid"  # the gradient is a set; the backend's answer lies in it
    INDETERMINATE = "indeterminate"  # within the budget, but the data do not determine the gradient
    UNDEFINED = "undefined"  # the loss has no gradient here: shown, not judged
    INACCURATE = "inaccurate"  # beyond the budget by at most sqrt(eps): digits lost, not a wrong answer
    WRONG = "wrong"  # finite and beyond both
    NON_FINITE = "non-finite"  # NaN or Inf in the gradient
    UNSUPPORTED = "unsupported"  # the framework does not implement this gradient (NotImplementedError)
    FAILED = "failed"  # the backend raised

    @property
    def is_finding(self) -> bool:
        """A result that is a finding against the framework (a JUnit failure)."""
        return self in FINDINGS


class MatrixVerdict(_Verdict):
    """The worst news about one matrix, in increasing severity (SEVERITY)."""

    AGREE = "agree"
    NON_UNIQUE = "non-unique"
    UNDEFINED = "undefined"
    INDETERMINATE = "indeterminate"
    UNSUPPORTED = "unsupported"
    INACCURATE = "inaccurate"
    ERROR = "error"
    NON_FINITE = "non-finite"
    WRONG = "wrong"

    @property
    def severity(self) -> int:
        return SEVERITY.index(self)


class MatrixStatus(_Verdict):
    """Whether a matrix was checked, or its input could not be (MatrixReport.status)."""

    CHECKED = "checked"
    ERROR = "error"  # an input error: nothing was judged


class BackendStatus(_Verdict):
    """What one backend's call gave (BackendResult.status), before and beside its verdict."""

    OK = "ok"  # an answer, to be judged
    NON_FINITE = "non-finite"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"
    UNDEFINED = "undefined"  # the framework refused: the loss has no gradient here


class ReferencePrecision(_Verdict):
    """Where the high-precision reference (numerics/highprec.py) replaces the float64 one
    (``--reference``); here, with the other enums of the report, because ``svdgrad --help`` reads it."""

    AUTO = "auto"  # where float64 cannot decide a verdict, up to highprec.MAX_ELEMENTS entries
    FLOAT64 = "float64"  # never: undecided results are settled in the backend's favour
    HIGH = "high"  # for every unique gradient, at any size


# Least to most severe: the order of summaries and of "worst first".
SEVERITY = (
    MatrixVerdict.AGREE,
    MatrixVerdict.NON_UNIQUE,
    MatrixVerdict.UNDEFINED,
    MatrixVerdict.INDETERMINATE,
    MatrixVerdict.UNSUPPORTED,
    MatrixVerdict.INACCURATE,
    MatrixVerdict.ERROR,
    MatrixVerdict.NON_FINITE,
    MatrixVerdict.WRONG,
)
# The matrix verdict a backend verdict forces (the others leave it to the reference).
RAISES = {
    BackendVerdict.WRONG: MatrixVerdict.WRONG,
    BackendVerdict.NON_FINITE: MatrixVerdict.NON_FINITE,
    BackendVerdict.FAILED: MatrixVerdict.ERROR,
    BackendVerdict.UNDEFINED: MatrixVerdict.UNDEFINED,
    BackendVerdict.INACCURATE: MatrixVerdict.INACCURATE,
    BackendVerdict.INDETERMINATE: MatrixVerdict.INDETERMINATE,
    BackendVerdict.UNSUPPORTED: MatrixVerdict.UNSUPPORTED,
}
FINDINGS = frozenset({BackendVerdict.WRONG, BackendVerdict.NON_FINITE})
# Named groups of matrix verdicts.
FAILING = frozenset({MatrixVerdict.WRONG, MatrixVerdict.NON_FINITE})  # --fail-on default
ALARMING = frozenset(
    {MatrixVerdict.WRONG, MatrixVerdict.NON_FINITE, MatrixVerdict.ERROR}
)  # annotated as errors
NOTEWORTHY = frozenset(SEVERITY) - ALARMING - {MatrixVerdict.AGREE}  # annotated as warnings


def worst(verdicts: Iterable[MatrixVerdict]) -> MatrixVerdict:
    """The most severe of ``verdicts`` (AGREE for none)."""
    return max(verdicts, key=lambda v: v.severity, default=MatrixVerdict.AGREE)


def verdicts_present(
    backend_verdicts: Iterable[BackendVerdict | None], unique: bool, defined: bool
) -> frozenset[MatrixVerdict]:
    """Every matrix verdict that is true of one matrix: what each backend forces and what the
    reference says. ``--fail-on`` and the exit code read all of them, so a backend that failed or
    returned NaN is not hidden behind another backend's worse verdict."""
    present = {RAISES[v] for v in backend_verdicts if v in RAISES}
    if not defined:
        present.add(MatrixVerdict.UNDEFINED)
    elif not unique:
        present.add(MatrixVerdict.NON_UNIQUE)
    return frozenset(present or {MatrixVerdict.AGREE})


def matrix_verdict(
    backend_verdicts: Iterable[BackendVerdict | None], unique: bool, defined: bool
) -> MatrixVerdict:
    """The worst news of one matrix (the verdict it is reported under)."""
    return worst(verdicts_present(backend_verdicts, unique, defined))
