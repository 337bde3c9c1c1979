"""Exceptions raised by the svdgrad library; the CLI maps them to exit code 2."""


class SvdgradError(Exception):
    """Base class of every error svdgrad reports to the user as one line."""


class InputError(SvdgradError):
    """A file or array that svdgrad cannot check: unreadable, malformed, or refused."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class BackendUnavailable(SvdgradError):
    """A backend that was asked for by name but cannot be imported here."""


class UsageError(SvdgradError):
    """An option value that makes no sense (unknown loss, bad tolerance, ...)."""
