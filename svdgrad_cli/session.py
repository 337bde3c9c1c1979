"""One run of ``svdgrad check``: files in, reports streamed to the renderers, the RunReport out.

The command line is a thin shell over this: it builds Settings and RunOptions, hands over a writer for
standard output and a ``notify`` for one-line messages on standard error, and turns the RunReport
into an exit code. ``-o FILE`` adds a second renderer that writes the chosen format to the file
while the terminal gets the table.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.pipeline.run import iter_reports_for_files, resolve_settings
from svdgrad_cli.render import renderer_class
from svdgrad_cli.render.progress import progress_on_stderr

Writer = Callable[[str], None]


class CheckSession:
    """Everything one ``svdgrad check`` needs; ``run(write)`` does it and returns the RunReport."""

    def __init__(self, paths: list[str], settings: Settings, options: RunOptions, notify: Writer) -> None:
        self.paths = paths
        self.settings = resolve_settings(settings)
        self.options = options
        self.notify = notify

    def _outputs(self, stack: ExitStack, write_stdout: Writer):
        """(renderer, writer) pairs: the report for stdout, and the -o file's (json for a table)."""
        o = self.options
        if o.output is None:
            return [(renderer_class(o.output_format)(o), write_stdout)]
        file_format = "json" if o.output_format == "table" else o.output_format
        if o.output == "-":
            return [(renderer_class(file_format)(o), write_stdout)]
        handle = stack.enter_context(open(o.output, "w", encoding="utf-8"))  # noqa: SIM115
        return [(renderer_class("table")(o), write_stdout), (renderer_class(file_format)(o), handle.write)]

    def _save_reproducers(self, report: MatrixReport) -> None:
        from svdgrad_cli.backends import registry
        from svdgrad_cli.render.repro import write_reproducers

        versions = {name: registry.installed_version(name) for name in self.settings.backends}
        s = self.settings
        for script in write_reproducers(
            report, s.loss, Path(self.options.save_repro), versions, s.full_matrices
        ):
            self.notify(f"wrote reproducer {script}")

    def run(self, write_stdout: Writer) -> RunReport:
        o = self.options
        files = collect_files(self.paths, o.recursive, o.globs, o.excludes)
        run = RunReport(self.settings, skipped=len(files.skipped), options=o)
        keep_for_repro = o.keep_arrays or o.save_repro is not None
        reports = iter_reports_for_files(files.entries, self.settings, o.max_elements, o.jobs, keep_for_repro)
        with ExitStack() as stack:
            outputs = self._outputs(stack, write_stdout)
            with progress_on_stderr(enabled=not o.quiet) as advance:
                try:
                    for report in reports:
                        if report.status == "error":
                            self.notify(f"error: {report.label}: {report.error}")
                        if o.save_repro is not None:
                            self._save_reproducers(report)
                        for renderer, write in outputs:
                            write(renderer.item(report))
                        run.results.append(report if o.keep_arrays else report.without_arrays())
                        advance(report.label)
                except KeyboardInterrupt:
                    run.interrupted = True
                    self.notify("interrupted; the summary covers the matrices checked so far")
            for renderer, write in outputs:
                write(renderer.finish(run, streamed=renderer.streaming))
        return run
