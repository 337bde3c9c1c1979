"""One run of ``svdgrad sweep``: the family built, its points checked (pipeline/sweep.py), rendered.

As session.py does for ``check``: the command line hands over a writer for standard output and a
``notify`` for one-line messages on standard error; ``-o FILE`` writes the chosen format (json for a
table) to the file, whole or not at all, while the terminal gets the picture; Ctrl-C or SIGTERM ends
the run and every format says so.
``--plot FILE`` draws the points checked (matplotlib, imported only then).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from svdgrad_cli.errors import UsageError
from svdgrad_cli.interrupts import Interrupt, catching_signals
from svdgrad_cli.model import RunReport
from svdgrad_cli.options import RunOptions, Settings, SweepOptions
from svdgrad_cli.pipeline.run import resolve_settings, run_versions
from svdgrad_cli.pipeline.sweep import SweepReport, SweepSpec, build_family, iter_points, parse_shape
from svdgrad_cli.render import SWEEP_RENDERERS, renderer_class
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.report_file import ReportFile
from svdgrad_cli.session import Outputs, Writer, require_writable

PLOT_SUFFIXES = (".png", ".svg")


class SweepSession:
    """Everything one ``svdgrad sweep`` needs; ``run(write)`` does it and returns the SweepReport."""

    def __init__(self, settings: Settings, options: RunOptions, sweep: SweepOptions, notify: Writer) -> None:
        self.settings = resolve_settings(settings)
        self.options = options
        self.sweep = sweep
        self.notify = notify
        if options.output_format not in SWEEP_RENDERERS:
            raise UsageError(f"sweep writes {', '.join(SWEEP_RENDERERS)}; not {options.output_format}")
        require_writable(options.output, "-o")
        require_writable(sweep.plot_file, "--plot")
        if sweep.plot_file is not None:
            if Path(sweep.plot_file).suffix.lower() not in PLOT_SUFFIXES:
                raise UsageError(f"--plot {sweep.plot_file}: the file must end in .png or .svg")
            from svdgrad_cli.render.plots import require_matplotlib

            require_matplotlib()
        spec = SweepSpec(sweep.vary, sweep.at, sweep.points, parse_shape(sweep.shape), sweep.source)
        self.family = build_family(spec, self.settings, options.max_elements)

    def _outputs(self, stack: ExitStack, write_stdout: Writer) -> Outputs:
        o = self.options

        def make(name: str):
            return renderer_class(name, SWEEP_RENDERERS)(o)

        if o.output is None or o.output == "-":
            return Outputs((make(o.output_format), write_stdout))
        file_format = "json" if o.output_format == "table" else o.output_format
        report = stack.enter_context(ReportFile(o.output))
        return Outputs((make("table"), write_stdout), (make(file_format), report))

    def _draw(self, report: SweepReport, plot_file: str) -> None:
        from svdgrad_cli.render.plots import save_sweep_plot

        try:
            save_sweep_plot(report, plot_file)
        except OSError as exc:
            raise UsageError(f"--plot {self.sweep.plot_file}: {exc.strerror or exc}") from None
        self.notify(f"wrote {self.sweep.plot_file}")

    def run(self, write_stdout: Writer) -> SweepReport:
        o, family = self.options, self.family
        run = RunReport(self.settings, options=o, versions=run_versions(self.settings))
        report = SweepReport(family, run)
        progress = RunProgress(len(family.members))
        points = iter_points(
            family, self.settings, o.jobs, o.include_arrays, progress, self.sweep.save_matrices
        )
        interrupt = Interrupt()
        with catching_signals(interrupt), ExitStack() as stack:
            outputs = self._outputs(stack, write_stdout)
            with progress:
                try:
                    for point in points:
                        interrupt.check()
                        report.points.append(point)
                        run.results.append(point.report)
                        outputs.item(point)
                        progress.matrix(point.report.source)
                    interrupt.check_last()
                except KeyboardInterrupt:
                    run.interrupted, run.interrupted_by = True, interrupt.signum or run.interrupted_by
                    points.close()
                    self.notify("interrupted; the report covers the points checked so far")
            with interrupt.deferred():
                outputs.finish(lambda renderer: renderer.finish(report))
            interrupt.check_held(self.notify)
        if self.sweep.plot_file is not None and report.points:
            self._draw(report, self.sweep.plot_file)
        if self.sweep.save_matrices is not None:
            self.notify(f"saved the matrices in {self.sweep.save_matrices}")
        return report
