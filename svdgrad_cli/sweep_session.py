"""One run of ``svdgrad sweep``: the family built, its points checked (pipeline/sweep.py), rendered.

As session.py does for ``check``: the command line hands over a writer for standard output and a
``notify`` for one-line messages on standard error; the points go through the same run loop
(run_loop.py: signals, progress, the interrupted report) to where the same plan says (outputs.py).
``--plot FILE`` draws the points checked (matplotlib, imported only then).
"""

from __future__ import annotations

from svdgrad_cli.errors import UsageError
from svdgrad_cli.model import RunReport
from svdgrad_cli.options import RunOptions, Settings, SweepOptions
from svdgrad_cli.outputs import Writer, draw_plot, require_folder, require_plot_file, require_writable
from svdgrad_cli.pipeline.run import resolve_settings, run_versions
from svdgrad_cli.pipeline.sweep import SweepSpec, build_family, iter_points, parse_shape
from svdgrad_cli.render import SWEEP_RENDERERS
from svdgrad_cli.render.progress import RunProgress
from svdgrad_cli.run_loop import Stream, run_loop
from svdgrad_cli.sweep_model import SweepPoint, SweepReport


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
        require_plot_file(sweep.plot_file)
        require_folder(sweep.save_matrices, "--save-matrices")
        spec = SweepSpec(sweep.vary, sweep.at, sweep.points, parse_shape(sweep.shape), sweep.source)
        self.family = build_family(spec, self.settings, options.max_elements)

    def _draw(self, report: SweepReport, plot_file: str) -> None:
        from svdgrad_cli.render.plots import save_sweep_plot

        draw_plot(save_sweep_plot, report, plot_file, self.notify)

    def run(self, write_stdout: Writer) -> SweepReport:
        o, family = self.options, self.family
        run = RunReport(self.settings, options=o, versions=run_versions(self.settings))
        report = SweepReport(family, run)
        progress = RunProgress(len(family.members))
        points = iter_points(
            family, self.settings, o.jobs, o.include_arrays, progress, self.sweep.save_matrices
        )

        def take(point: SweepPoint) -> SweepPoint:
            report.points.append(point)
            run.results.append(point.report)
            return point

        stream = Stream(run, points, take, report, progress, covers="points checked")
        run_loop(stream, o, write_stdout, self.notify, SWEEP_RENDERERS)
        if self.sweep.plot_file is not None and report.points:
            self._draw(report, self.sweep.plot_file)
        if self.sweep.save_matrices is not None:
            self.notify(f"saved the matrices in {self.sweep.save_matrices}")
        return report
