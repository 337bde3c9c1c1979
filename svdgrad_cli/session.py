"""One run of ``svdgrad check``: files in, reports streamed to the renderers, the RunReport out.

The command line is a thin shell over this: it builds Settings and RunOptions, hands over a writer for
standard output and a ``notify`` for one-line messages on standard error, and turns the RunReport
into an exit code. ``-o FILE`` adds a second renderer that writes the chosen format to the file
while the terminal gets the table.

Ctrl-C ends the run promptly and reliably: a handler records it and raises KeyboardInterrupt, and the
record is checked again after every matrix, because a framework may swallow the exception (JAX's
garbage-collection callback prints and drops it). Every format then marks the run as interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from svdgrad_cli.backends.protocol import own_frame
from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.shards import parse_shard, plan_shard
from svdgrad_cli.model import ARCHIVE_MEMBER, MatrixReport, RunReport
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.pipeline.run import iter_reports_for_files, resolve_settings, run_versions
from svdgrad_cli.render import renderer_class
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.verdicts import BackendVerdict

Writer = Callable[[str], None]


class Interrupt:
    """Whether Ctrl-C was pressed during the run (survives a swallowed KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False

    def handler(self, signum, frame) -> None:
        self.requested = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


@contextmanager
def catching_ctrl_c(interrupt: Interrupt):
    """Route SIGINT to ``interrupt`` (signal handlers can only be set from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, interrupt.handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def require_writable(path: str | None, option: str) -> None:
    """A file the run will write must have a directory to go into, checked before any work is done."""
    if path is None or path == "-":
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: cannot write into {folder}")


NO_SCRIPT = (
    "no reproducer for {names}: a python: function or a register_backend plug-in has no framework code "
    "to script; -f json --include-arrays holds each matrix and its gradients"
)


def _nothing_written(reports: list[MatrixReport]) -> str:
    """Why --save-repro wrote no script: no finding, findings of plug-ins svdgrad cannot script, or
    a backend that failed (named with where it failed: a failure has no gradient to reproduce)."""
    from svdgrad_cli.render.repro import NOTHING_TO_REPRODUCE, REPRODUCED

    defined = [r for r in reports if r.reference is not None and r.reference.defined]
    names = sorted(
        {b.name for r in defined for b in r.backends if b.verdict in REPRODUCED and b.origin != "built-in"}
    )
    if names:
        return NO_SCRIPT.format(names=", ".join(names))
    failed = {b.name: b for r in reports for b in r.backends if b.verdict == BackendVerdict.FAILED}
    if not failed:
        return NOTHING_TO_REPRODUCE
    where = "; ".join(
        f"{name} failed: {b.message}" + (f", at {own_frame(b.trace)}" if b.trace else "")
        for name, b in failed.items()
    )
    return (
        f"no reproducer: {where} (a failure has no gradient to compare; -v and -f json show its last frames)"
    )


def _close_quietly(handle) -> None:
    with suppress(OSError):
        handle.close()


def report_file(stack: ExitStack, path: str) -> Writer:
    """A writer into the -o file, open for the run: every write is flushed (a streamed jsonl survives
    an interrupted run), and a file that cannot be opened or written is one line, not a crash."""

    def refused(exc: OSError) -> UsageError:
        return UsageError(f"-o {path}: cannot write it ({exc.strerror or exc})")

    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise refused(exc) from None
    # Each write is flushed, so closing has nothing left to write unless a write failed (and said so).
    stack.callback(_close_quietly, handle)

    def write(text: str) -> None:
        try:
            handle.write(text)
            handle.flush()
        except OSError as exc:
            raise refused(exc) from None

    return write


class CheckSession:
    """Everything one ``svdgrad check`` needs; ``run(write)`` does it and returns the RunReport."""

    def __init__(self, paths: list[str], settings: Settings, options: RunOptions, notify: Writer) -> None:
        self.paths = paths
        self.settings = resolve_settings(settings)
        self.options = options
        self.notify = notify
        self.shard = parse_shard(options.shard, paths)  # (K, N) of --shard K/N, else None
        require_writable(options.output, "-o")
        self.reproduced: set[str] = set()  # the stems of the reproducers written so far (render/repro.py)
        self.pictured: set[str] = set()  # the stems of the pictures written so far (--plot)
        self.told: set[tuple[str, str | None]] = set()  # failures whose frames -v has shown
        if options.plot is not None:
            from svdgrad_cli.render.plots import require_matplotlib

            require_matplotlib()

    def _outputs(self, stack: ExitStack, write_stdout: Writer):
        """(renderer, writer) pairs: the report for stdout, and the -o file's (json for a table)."""
        o = self.options
        if o.output is None:
            return [(renderer_class(o.output_format)(o), write_stdout)]
        file_format = "json" if o.output_format == "table" else o.output_format
        if o.output == "-":
            return [(renderer_class(file_format)(o), write_stdout)]
        return [
            (renderer_class("table")(o), write_stdout),
            (renderer_class(file_format)(o), report_file(stack, o.output)),
        ]

    def _save_reproducers(self, report: MatrixReport) -> None:
        from svdgrad_cli.backends import registry
        from svdgrad_cli.render.repro import write_reproducers

        s = self.settings
        versions = registry.backend_versions(s.backends)
        folder = Path(self.options.save_repro)
        backends = {registry.display_name(name): registry.load_backend(name) for name in s.backends}
        written = write_reproducers(
            report, s.loss, folder, versions, s.full_matrices, self.reproduced, backends
        )
        for script in written:
            self.notify(f"wrote reproducer {script}")

    def _skip(self, run: RunReport, skipped: Skipped) -> None:
        run.skipped.append(skipped)
        if self.options.verbose:
            self.notify(f"skipped {skipped.source}: {skipped.reason}")

    def _tell_failures(self, report: MatrixReport) -> None:
        """-v: where each backend failed (its last frames), once per backend and message."""
        for b in report.backends:
            if b.verdict == BackendVerdict.FAILED and b.trace and (b.name, b.message) not in self.told:
                self.told.add((b.name, b.message))
                self.notify(f"{b.name} failed on {report.label}: {b.message}; its last frames:")
                for frame in b.trace:
                    self.notify(f"  {frame}")

    def _take(self, run: RunReport, report: MatrixReport, outputs, progress: RunProgress) -> None:
        if report.status == "error":
            self.notify(f"error: {report.label}: {report.error}")
        if self.options.verbose:
            self._tell_failures(report)
        if self.options.save_repro is not None:
            self._save_reproducers(report)
        if self.options.plot is not None:
            from svdgrad_cli.render.matrix_plots import save_matrix_pictures

            save_matrix_pictures(report, self.settings, self.options.plot, self.pictured)
        for renderer, write in outputs:
            write(renderer.item(report))
        run.results.append(report if self.options.keep_arrays else report.without_arrays())
        progress.matrix(report.source)

    def _discover(self):
        """The files to read and, with --shard, this shard's part of them and its plan (else None)."""
        o = self.options
        if self.shard is None:
            return collect_files(self.paths, o.recursive, o.globs, o.excludes), None
        plan = plan_shard(self.shard, self.paths, self.settings, o)
        self.notify(plan.summary())
        return plan.files, plan

    def run(self, write_stdout: Writer) -> RunReport:
        o = self.options
        files, plan = self._discover()
        run = RunReport(self.settings, options=o, versions=run_versions(self.settings))
        run.shard = None if plan is None else plan.info
        for skipped in files.skipped:
            self._skip(run, skipped)
        draws = o.plot is not None or o.output_format == "html"  # drawn as they come, from the gradients
        keep_for_repro = o.keep_arrays or o.save_repro is not None or draws
        progress = RunProgress(len(files.entries))
        reports = iter_reports_for_files(
            files.entries, self.settings, o.max_elements, o.jobs, keep_for_repro, progress
        )
        reports = reports if plan is None else plan.positioned(reports)  # each result's place in the run
        if "-" in files.entries and sys.stdin is not None and sys.stdin.isatty():
            self.notify("reading the matrix from standard input (end it with Ctrl-D)")
        interrupt = Interrupt()
        with ExitStack() as stack:
            outputs = self._outputs(stack, write_stdout)
            with progress, catching_ctrl_c(interrupt):
                try:
                    for item in reports:
                        interrupt.check()
                        if isinstance(item, Skipped):
                            self._skip(run, item)
                        else:
                            self._take(run, item, outputs, progress)
                    interrupt.check()
                except KeyboardInterrupt:
                    run.interrupted = True
                    reports.close()  # stops worker processes and frameworks' batches now
                    self.notify("interrupted; the report covers the matrices checked so far")
            for renderer, write in outputs:
                write(renderer.finish(run, streamed=renderer.streaming))
        self._closing_notes(run)
        return run

    def _closing_notes(self, run: RunReport) -> None:
        """What the run did not do that a user may have expected, and where its files went."""
        o = self.options
        if run.nothing_checked:
            self.notify("nothing was checked: every input was skipped (-v names each, with the reason)")
        elif self.settings.select and not any(ARCHIVE_MEMBER.match(r.source) for r in run.results):
            patterns = " or ".join(repr(p) for p in self.settings.select)
            self.notify(f"--select {patterns} matched no tensor of any archive or checkpoint")
        if o.save_repro is not None and not self.reproduced and not run.interrupted:
            self.notify(_nothing_written(run.results))
        if o.plot is not None:
            self.notify(f"wrote the pictures of {len(self.pictured)} matrices into {o.plot}")
