"""One run of ``svdgrad check``: files in, reports streamed to the renderers, the RunReport out.

The command line is a thin shell over this: it builds Settings and RunOptions, hands over a writer for
standard output and a ``notify`` for one-line messages on standard error, and turns the RunReport
into an exit code. The reports go through the run loop every command shares (run_loop.py: signals,
progress, the interrupted report), to where outputs.py says (``-o FILE``: the chosen format into the
file, written whole or not at all, while the terminal gets the table).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from svdgrad_cli.backends.protocol import own_frame
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import FileList, collect_files
from svdgrad_cli.inputs.plan import planned_files
from svdgrad_cli.inputs.shards import parse_shard
from svdgrad_cli.inputs.tensors import closest_names
from svdgrad_cli.model import MatrixReport, RunReport, unmatched_text
from svdgrad_cli.options import RunOptions, Settings
from svdgrad_cli.outputs import Writer, require_writable
from svdgrad_cli.pipeline.run import iter_reports_for_files, resolve_settings, run_versions
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.run_loop import Stream, run_loop
from svdgrad_cli.verdicts import BackendVerdict, MatrixStatus

NO_SCRIPT = (
    "no reproducer for {names}: a python: function or a register_backend plug-in has no framework code "
    "to script; -f json --include-arrays holds each matrix and its gradients"
)


def _nothing_written(reports: list[MatrixReport]) -> str:
    """Why --save-repro wrote no script: no finding, findings of plug-ins svdgrad cannot script, or
    a backend that failed (named with where it failed: a failure has no gradient to reproduce)."""
    from svdgrad_cli.repro import NOTHING_TO_REPRODUCE, REPRODUCED

    names = _unscriptable(reports, REPRODUCED)
    if names:
        return NO_SCRIPT.format(names=", ".join(names))
    failed = {b.name: b for r in reports for b in r.backends if b.verdict == BackendVerdict.FAILED}
    if not failed:
        return NOTHING_TO_REPRODUCE
    return _no_reproducer(failed)


def _unscriptable(reports: list[MatrixReport], reproduced) -> list[str]:
    """The plug-ins with a finding at a defined reference (svdgrad cannot script them)."""
    defined = [r for r in reports if r.reference is not None and r.reference.defined]
    return sorted({b.name for r in defined for b in r.backends if b.verdict in reproduced and not b.built_in})


def _no_reproducer(failed: dict) -> str:
    """The line naming each failed backend, with where it failed."""
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
        files: FileList | None = None,
    ) -> None:
        self.paths = paths
        self.files = files  # the files to check, if found already (scan --then-check's at risk)
        self.config = config  # the pyproject.toml whose [tool.svdgrad] applied (config.py), if any
        self.configured = configured  # the options ("select", "skip") whose value came from it
        self.settings = resolve_settings(settings)
        self.options = options
        self.notify = notify
        self.shard = parse_shard(options.shard, paths)  # (K, N) of --shard K/N, else None
        require_writable(options.output, "-o")
        self.reproduced: set[str] = set()  # the stems of the reproducers written so far (repro.py)
        self.pictured: set[str] = set()  # the stems of the pictures written so far (--plot)
        self.told: set[tuple[str, str | None]] = set()  # failures whose frames -v has shown
        if options.plot is not None:
            from svdgrad_cli.render.plots import require_matplotlib

            require_matplotlib()

    def _save_reproducers(self, report: MatrixReport, folder: Path) -> None:
        from svdgrad_cli.backends import registry
        from svdgrad_cli.repro import write_reproducers

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

    def _take(self, run: RunReport, item: MatrixReport | Skipped) -> MatrixReport | None:
        """A matrix's report told of (-v), pictured, reproduced and kept; a skipped input noted."""
        if isinstance(item, Skipped):
            self._skip(run, item)
            return None
        if item.status is MatrixStatus.ERROR:
            self.notify(f"error: {item.label}: {item.error}")
        elif self.options.verbose:  # -v names every matrix checked, agreeing ones too
            self.notify(checked_line(item))
            self._tell_failures(item)
        if self.options.save_repro is not None:
            self._save_reproducers(item, Path(self.options.save_repro))
        if self.options.plot is not None:
            from svdgrad_cli.render.matrix_plots import save_matrix_pictures

            save_matrix_pictures(item, self.settings, self.options.plot, self.pictured)
        run.results.append(item if self.options.keep_arrays else item.without_arrays())
        return item

    def _discover(self):
        """The files to read (those given, else found from the PATHS) and, with --shard, this shard's
        part of them and its plan (else None); --plan FILE: the planned matrices (inputs/plan.py)."""
        o = self.options
        if self.files is not None:
            return self.files, None
        plan = planned_files(self.paths, self.shard, self.settings, o)
        if plan is None:
            return collect_files(self.paths, o.recursive, o.globs, o.excludes), None
        self.notify(plan.summary())
        return plan.files, (plan if self.shard is not None else None)

    def run(self, write_stdout: Writer) -> RunReport:
        o = self.options
        files, plan = self._discover()
        run = RunReport(self.settings, options=o, versions=run_versions(self.settings), config=self.config)
        if o.verbose:
            self.notify(f"config: {run.config_shown}")
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
        take = functools.partial(self._take, run)
        run_loop(Stream(run, reports, take, progress=progress), o, write_stdout, self.notify)
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
