"""One run of ``svdgrad check``: files in, reports streamed to the renderers, the RunReport out.

The command line is a thin shell over this: it builds Settings and RunOptions, hands over a writer for
standard output and a ``notify`` for one-line messages on standard error, and turns the RunReport
into an exit code. ``-o FILE`` adds a second renderer that writes the chosen format to the file
while the terminal gets the table.

Ctrl-C and SIGTERM end the run promptly and reliably (interrupts.py); every format then marks the run
as interrupted. The -o file is written whole or not at all (report_file.py), before the terminal's
summary, with signals held off while it is finished and renamed into place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from svdgrad_cli.backends.protocol import own_frame
from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.shards import parse_shard, plan_shard
from svdgrad_cli.inputs.tensors import closest_names
from svdgrad_cli.interrupts import Interrupt, catching_signals
from svdgrad_cli.model import BackendResult, MatrixReport, RunReport, unmatched_text
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.pipeline.run import iter_reports_for_files, resolve_settings, run_versions
from svdgrad_cli.render import renderer_class
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.report_file import ReportFile
from svdgrad_cli.verdicts import BackendVerdict

Writer = Callable[[str], None]


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
    from svdgrad_cli.render.repro import NOTHING_TO_REPRODUCE

    names = _unscriptable(reports)
    if names:
        return NO_SCRIPT.format(names=", ".join(names))
    failed = {b.name: b for r in reports for b in r.backends if b.verdict == BackendVerdict.FAILED}
    if not failed:
        return NOTHING_TO_REPRODUCE
    return _failures_note(failed)


def _unscriptable(reports: list[MatrixReport]) -> list[str]:
    """The plug-ins with a finding to reproduce where the loss has a gradient (no framework code)."""
    from svdgrad_cli.render.repro import REPRODUCED

    defined = [r for r in reports if r.reference is not None and r.reference.defined]
    found = {
        b.name for r in defined for b in r.backends if b.verdict in REPRODUCED and b.origin != "built-in"
    }
    return sorted(found)


def _failures_note(failed: dict[str, BackendResult]) -> str:
    """The backends that failed, each with where: a failure has no gradient to reproduce."""
    where = "; ".join(
        f"{name} failed: {b.message}" + (f", at {own_frame(b.trace)}" if b.trace else "")
        for name, b in failed.items()
    )
    return (
        f"no reproducer: {where} (a failure has no gradient to compare; -v and -f json show its last frames)"
    )


def checked_line(report: MatrixReport) -> str:
    """What -v says of a matrix checked: its name, shape, dtype and verdict, and a kernel's reshape."""
    m, n = report.shape
    kernel = f"; kernel {report.reshaped}" if report.reshaped else ""
    return f"checked {report.label}: {m}x{n} {report.dtype}, {report.verdict}{kernel}"


class Outputs:
    """Where a run's report goes: ``screen``, a (renderer, write) pair for stdout, and with ``-o FILE``
    ``file``, a (renderer, ReportFile) pair, put in place when finished."""

    def __init__(self, screen: tuple, file: tuple | None = None) -> None:
        self.screen, self.file = screen, file

    def item(self, item) -> None:
        renderer, write = self.screen
        write(renderer.item(item))
        if self.file is not None:
            renderer, report = self.file
            report.write(renderer.item(item))

    def finish(self, end: Callable) -> None:
        """Each report's end, ``end(renderer)``: the file's first, renamed into place before the
        terminal's summary says that the run is done."""
        if self.file is not None:
            renderer, report = self.file
            report.write(end(renderer))
            report.commit()
        renderer, write = self.screen
        write(end(renderer))


class CheckSession:
    """Everything one ``svdgrad check`` needs; ``run(write)`` does it and returns the RunReport."""

    def __init__(
        self,
        paths: list[str],
        settings: Settings,
        options: RunOptions,
        notify: Writer,
        config: str | None = None,
        configured: frozenset[str] = frozenset(),
    ) -> None:
        self.paths = paths
        self.config = config  # the pyproject.toml whose [tool.svdgrad] applied (config.py), if any
        self.configured = configured  # the options ("select", "skip") whose value came from it
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

    def _outputs(self, stack: ExitStack, write_stdout: Writer) -> Outputs:
        """The report for stdout, and the -o file's (json for a table)."""
        o = self.options
        if o.output is None:
            return Outputs((renderer_class(o.output_format)(o), write_stdout))
        file_format = "json" if o.output_format == "table" else o.output_format
        if o.output == "-":
            return Outputs((renderer_class(file_format)(o), write_stdout))
        report = stack.enter_context(ReportFile(o.output))
        return Outputs((renderer_class("table")(o), write_stdout), (renderer_class(file_format)(o), report))

    def _save_reproducers(self, report: MatrixReport, folder: Path) -> None:
        from svdgrad_cli.backends import registry
        from svdgrad_cli.render.repro import write_reproducers

        s = self.settings
        versions = registry.backend_versions(s.backends)
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
        elif self.options.verbose:  # -v names every matrix checked, agreeing ones too
            self.notify(checked_line(report))
            self._tell_failures(report)
        if self.options.save_repro is not None:
            self._save_reproducers(report, Path(self.options.save_repro))
        if self.options.plot is not None:
            from svdgrad_cli.render.matrix_plots import save_matrix_pictures

            save_matrix_pictures(report, self.settings, self.options.plot, self.pictured)
        outputs.item(report)
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

    def _reports(self, entries, plan, progress):
        """The run's reports as they come, holding the arrays that what follows them needs."""
        o = self.options
        draws = o.plot is not None or o.output_format == "html"  # drawn as they come, from the gradients
        keep_for_repro = o.keep_arrays or o.save_repro is not None or draws
        reports = iter_reports_for_files(
            entries, self.settings, o.max_elements, o.jobs, keep_for_repro, progress
        )
        return reports if plan is None else plan.positioned(reports)  # each result's place in the run

    def run(self, write_stdout: Writer) -> RunReport:
        o = self.options
        files, plan = self._discover()
        run = RunReport(self.settings, options=o, versions=run_versions(self.settings), config=self.config)
        if o.verbose:
            self.notify(f"config: {run.config_shown}")
        run.shard = None if plan is None else plan.info
        for skipped in files.skipped:
            self._skip(run, skipped)
        progress = RunProgress(len(files.entries))
        reports = self._reports(files.entries, plan, progress)
        if "-" in files.entries and sys.stdin is not None and sys.stdin.isatty():
            self.notify("reading the matrix from standard input (end it with Ctrl-D)")
        interrupt = Interrupt()
        with catching_signals(interrupt), ExitStack() as stack:
            outputs = self._outputs(stack, write_stdout)
            with progress:
                try:
                    for item in reports:
                        interrupt.check()
                        if isinstance(item, Skipped):
                            self._skip(run, item)
                        else:
                            self._take(run, item, outputs, progress)
                    interrupt.check_last()
                except KeyboardInterrupt:
                    run.interrupted, run.interrupted_by = True, interrupt.signum or run.interrupted_by
                    reports.close()  # stops worker processes and frameworks' batches now
                    self.notify("interrupted; the report covers the matrices checked so far")
            with interrupt.deferred():
                outputs.finish(lambda renderer: renderer.finish(run, streamed=renderer.streaming))
            interrupt.check_held(self.notify)
        self._closing_notes(run)
        return run

    def _unmatched_notes(self, run: RunReport) -> None:
        """A --select that matched no tensor is an error (the check it meant did not run); a --skip
        that matched none only a warning (it left more to check, not less)."""
        names = run.tensor_names()
        for name, patterns, level in (
            ("select", self.settings.select, "error"),
            ("skip", self.settings.skip, "warning"),
        ):
            option, origin = f"--{name}", ""
            if name in self.configured:  # a pattern the user did not type: say where it is written
                option, origin = name, f" (set in [tool.svdgrad] of {self.config})"
            for pattern in run.unmatched(patterns):
                close = closest_names(pattern, names)
                hint = f"; closest names: {', '.join(close)}" if close else ""
                self.notify(f"{level}: {unmatched_text(option, pattern, origin)}{hint}")

    def _closing_notes(self, run: RunReport) -> None:
        """What the run did not do that a user may have expected, and where its files went."""
        o = self.options
        if run.nothing_checked:
            self.notify("nothing was checked: every input was skipped (-v names each, with the reason)")
        self._unmatched_notes(run)
        if o.save_repro is not None and not self.reproduced and not run.interrupted:
            self.notify(_nothing_written(run.results))
        if o.plot is not None:
            self.notify(f"wrote the pictures of {len(self.pictured)} matrices into {o.plot}")
