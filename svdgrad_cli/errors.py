"""Exceptions raised by the svdgrad library; the CLI maps them to exit code 2."""


class SvdgradError(Exception):
    """Base class of every error svdgrad reports to the user as one line."""


class InputError(SvdgradError):
    """A file or array that svdgrad cannot check: unreadable, malformed, or refused."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


def error_source(line: str) -> str:
    """The source named by an InputError's line (``str(InputError(source, problem))``): its text up to
    the first ": " (a source holding ": " itself is cut there)."""
    return line.partition(": ")[0]


class BackendUnavailable(SvdgradError):
    """A backend that was asked for by name but cannot be imported here."""


class UsageError(SvdgradError):
    """An option value that makes no sense (unknown loss, bad tolerance, ...)."""
