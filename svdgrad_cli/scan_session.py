"""One run of ``svdgrad scan``: the screen (pipeline/scan.py), its report, the files it writes for
later runs (names for ``check --select``, a shard plan for ``check --plan``), and ``--then-check``.

As session.py does for ``check``: the command line hands over a writer for standard output and a
``notify`` for one-line messages on standard error; the screened matrices go through the run loop
every command shares (run_loop.py: signals, progress, the interrupted report) to where the same plan
says (outputs.py), in scan's formats (SCAN_RENDERERS). With ``--then-check`` the check's own session
runs over the matrices at risk only (each file read for just those, parts.py): its report and exit
code are the run's, and a matrix the screen found clear is never reported as checked; the screen's
report is written only if the screen was interrupted (table or json, whatever the check's format).
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from svdgrad_cli.errors import UsageError
from svdgrad_cli.inputs.arrays import Skipped
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.plan import PlannedShard, plan_document, plan_items
from svdgrad_cli.model import ARCHIVE_MEMBER
from svdgrad_cli.options import RunOptions, Settings, json_settings
from svdgrad_cli.options.scan import ScanOptions
from svdgrad_cli.outputs import Writer, require_writable
from svdgrad_cli.pipeline.run import resolve_settings, validate_settings
from svdgrad_cli.pipeline.scan import screen_files
from svdgrad_cli.render import SCAN_FORMATS, SCAN_RENDERERS
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.render.scan_report import summary_text
from svdgrad_cli.report_file import ReportFile
from svdgrad_cli.run_loop import Stream, run_loop
from svdgrad_cli.scan_model import ScanRun, Screened
from svdgrad_cli.session import CheckSession

FNMATCH_SPECIAL = re.compile(r"([*?\[])")


def select_pattern(name: str) -> str:
    """A --select pattern that matches exactly the tensor ``name`` (fnmatch's *, ? and [ bracketed)."""
    return FNMATCH_SPECIAL.sub(r"[\1]", name)


def tensor_name(screened: Screened) -> str | None:
    """The tensor (or archive member) name of a matrix of a checkpoint or archive, else None."""
    match = ARCHIVE_MEMBER.match(screened.source)
    return screened.source[match.end() :] if match else None


class ScanSession:
    """Everything one ``svdgrad scan`` needs; ``run(write)`` does it and returns the exit code."""

    def __init__(
        self,
        paths: list[str],
        settings: Settings,
        options: RunOptions,
        scan: ScanOptions,
        notify: Writer,
        config: str | None = None,
    ) -> None:
        validate_settings(settings)
        self.settings = resolve_settings(settings) if scan.then_check else settings
        self.paths, self.options, self.scan, self.notify, self.config = paths, options, scan, notify, config
        if not scan.then_check and options.output_format not in SCAN_FORMATS:
            raise UsageError(
                f"scan writes {' or '.join(SCAN_FORMATS)}; -f {options.output_format} needs --then-check"
            )
        if (scan.plan_shards is None) != (scan.plan_file is None):
            raise UsageError("--plan-shards N and --write-plan FILE go together")
        if "-" in paths and (scan.then_check or scan.plan_file):
            raise UsageError("--then-check and --write-plan read the files again: not standard input (-)")
        for path, flag in (
            (options.output, "-o"),
            (scan.select_file, "--write-select"),
            (scan.plan_file, "--write-plan"),
        ):
            require_writable(path, flag)

    def screen(self, write_stdout: Writer) -> tuple[ScanRun, list]:
        """The screen of every matrix of the PATHS through the run loop (its report written unless
        --then-check follows), and the file entries found."""
        o = self.options
        files = collect_files(self.paths, o.recursive, o.globs, o.excludes)
        run = ScanRun(self.settings, skipped=list(files.skipped))
        progress = RunProgress(len(files.entries))
        screened = screen_files(files.entries, self.settings, o.max_elements, progress)
        take = functools.partial(self._take, run)
        then = self.scan.then_check  # the check follows: its report is the run's
        stream = Stream(run, screened, take, progress=progress, covers="matrices screened", first_stage=then)
        run_loop(stream, self._report_options(), write_stdout, self.notify, SCAN_RENDERERS)
        return run, files.entries

    def _report_options(self) -> RunOptions:
        """The options the screen's report is written by: --then-check's format of check is the
        table's where scan has no such format."""
        if self.options.output_format in SCAN_FORMATS:
            return self.options
        return replace(self.options, output_format="table")

    def _take(self, run: ScanRun, item: Screened | Skipped) -> Screened | None:
        if isinstance(item, Skipped):
            run.skipped.append(item)
            if self.options.verbose:
                self.notify(f"skipped {item.source}: {item.reason}")
            return None
        run.results.append(item)
        if item.error is not None:
            self.notify(f"error: {item.label}: {item.error}")
        elif self.options.verbose:
            self.notify(
                f"screened {item.label}: {'x'.join(map(str, item.shape))} {item.dtype}, {item.verdict}"
            )
        return item

    def run(self, write_stdout: Writer) -> int:
        run, entries = self.screen(write_stdout)
        if self.scan.select_file is not None:
            self._write(self.scan.select_file, self._select_lines(run))
        if self.scan.plan_file is not None and self.scan.plan_shards is not None:  # together (__init__)
            items = plan_items(self._planned(run), self.scan.plan_shards)
            self._write(self.scan.plan_file, plan_document(items, self.scan.plan_shards, self._echo()))
        if self.scan.then_check and not run.interrupted:
            return self._then_check(run, entries, write_stdout)
        return run.exit_code

    def _echo(self) -> dict:
        return json_settings(self.settings, self.options)

    def _select_lines(self, run: ScanRun) -> str:
        names = [tensor_name(r) for r in run.at_risk]
        unnamed = names.count(None)
        if unnamed:
            self.notify(
                f"--write-select: {unnamed} matrices at risk are not checkpoint or archive tensors (no name)"
            )
        return "".join(f"{select_pattern(n)}\n" for n in dict.fromkeys(names) if n is not None)

    @staticmethod
    def _planned(run: ScanRun):
        return ((r.file, r.source, r.index, r.work) for r in run.at_risk if r.file is not None)

    def _write(self, path: str, text: str) -> None:
        with ReportFile(path) as report:
            report.write(text)
            report.commit()

    def _then_check(self, run: ScanRun, entries: list, write_stdout: Writer) -> int:
        """Check the matrices at risk, none if none is (its report, saying 0 checked, is still written
        where -o asks); the check's exit code, 2 where the screen met an input error."""
        planned = list(self._planned(run))
        self.notify(f"{summary_text(run)}; checking the {len(planned)} at risk")
        document = {"shards": 1, "items": plan_items(planned, 1)}
        plan = PlannedShard(
            None, document, "the matrices at risk", [e for e in entries if isinstance(e, str)]
        )
        options = replace(self.options, shard=None, plan=None)
        session = CheckSession(self.paths, self.settings, options, self.notify, self.config, files=plan.files)
        code = session.run(write_stdout).exit_code
        return 2 if code in (0, 1) and run.exit_code == 2 else code
