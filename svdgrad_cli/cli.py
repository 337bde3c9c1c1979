"""The ``svdgrad`` command: parse options, call the library, render, and set the exit code.

This is the only module that imports click; rich is imported by the renderers that need it.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from svdgrad_cli import __version__
from svdgrad_cli.errors import SvdgradError
from svdgrad_cli.inputs.loading import DEFAULT_MAX_ELEMENTS, DTYPE_CHOICES
from svdgrad_cli.model import RunReport, Settings
from svdgrad_cli.numerics.losses import LOSS_HELP
from svdgrad_cli.render import FORMATS, render_document

EXIT_CODES = """\b
Exit codes:
  0  every matrix checked; no verdict in --fail-on (warnings alone never fail)
  1  findings: some verdict is in --fail-on (default: wrong, non-finite)
  2  usage error, unreadable or invalid input, or a backend that could not run
  130 interrupted (Ctrl-C); the partial summary is printed
  141 stdout was closed by its reader (e.g. piped into head)
"""
FAIL_ON = ("wrong", "non-finite", "non-unique", "undefined", "warning", "never")
DETAIL_LIMIT = 10  # runs with more matrices print the summary only, unless --details


CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away


def quiet_on_closed_pipe(command):
    """Exit CLOSED_PIPE without a word when stdout's reader goes away (``svdgrad check dir | head``).

    Inside the command, because click would otherwise turn the error into exit code 1 (findings).
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(CLOSED_PIPE)

    return wrapper


class InputFailure(click.ClickException):
    """A library error shown as one line; exit code 2 so that 1 always means findings."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"svdgrad: error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="svdgrad")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Diagnose SVD gradients: run each framework's SVD gradient, compare with a float64
    reference, and say whether they agree, whether the gradient is unique, and who is right.

    Defaults for 'check' may be set under [tool.svdgrad] in the nearest pyproject.toml."""
    from svdgrad_cli.config import load_defaults

    try:
        defaults, _ = load_defaults(Path.cwd())
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    ctx.default_map = {"check": defaults}


@cli.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--loss", default="sum", show_default=True, help=f"The loss to differentiate: {LOSS_HELP}.")
@click.option(
    "--backend",
    "-b",
    "backends",
    multiple=True,
    help="Backend to run (repeatable). Default: every installed one; see 'svdgrad backends'.",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPE_CHOICES),
    default="auto",
    show_default=True,
    help="Precision the backends compute in. auto: the file's float type (float64 for integers and text).",
)
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Report format: table (for people), json, jsonl (streamed), junit "
    "(JUnit XML), github (workflow annotations) or markdown.",
)
@click.option(
    "--output",
    "-o",
    type=click.File("w", lazy=True),
    help="Write the --format report (json if --format is table) to this file; the table still "
    "goes to stdout.",
)
@click.option(
    "--zero-tol",
    type=float,
    default=None,
    help="A singular value is zero, and two are tied, within this times s_1. "
    "Default: max(m, n) * eps(dtype).",
)
@click.option(
    "--dup-tol",
    type=float,
    default=None,
    help="Warn about neighbours closer than this times s_1. Default: sqrt(eps(dtype)).",
)
@click.option(
    "--budget-factor",
    type=float,
    default=10.0,
    show_default=True,
    help="Safety factor of the error budget: factor * eps * max(m, n) * (scale + s_1 * amp); "
    "see README, 'Tolerances'.",
)
@click.option(
    "--rtol",
    type=float,
    default=None,
    help="Replace the derived budget by atol + rtol * ||reference gradient||_F.",
)
@click.option("--atol", type=float, default=None, help="See --rtol.")
@click.option(
    "--fail-on",
    multiple=True,
    type=click.Choice(FAIL_ON),
    help="What makes the exit code 1 (repeatable): matrix verdicts, 'warning' (any spectrum "
    "warning) or 'never'. Default: wrong, non-finite.",
)
@click.option(
    "--recursive/--no-recursive", default=True, show_default=True, help="Search directories recursively."
)
@click.option(
    "--glob",
    "globs",
    multiple=True,
    help="In directories, check only files whose name matches (repeatable), e.g. '*.npy'.",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    help="In directories, skip files or folders whose name matches (repeatable).",
)
@click.option("--details", is_flag=True, help=f"Per-matrix tables also in runs over {DETAIL_LIMIT} matrices.")
@click.option("--quiet", "-q", is_flag=True, help="Table format: print the one-line summary only.")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the worst matrices the summary lists.",
)
@click.option("--show-gradients", is_flag=True, help="Print each backend's gradient (small matrices).")
@click.option(
    "--show-reference",
    is_flag=True,
    help="Print the reference gradient, or the minimum-norm member of the gradient set.",
)
@click.option(
    "--include-arrays",
    is_flag=True,
    help="JSON: include gradients, the reference gradient and the loss weights.",
)
@click.option(
    "--max-elements",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_ELEMENTS,
    show_default=True,
    help="Refuse arrays with more entries than this (.npy/.npz: from the header, before reading; "
    "text: while reading).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the weights of U/V losses and of the directions that check the reference.",
)
@click.option(
    "--full-matrices",
    is_flag=True,
    help="Losses of U and V: call the SVD with full_matrices=True, as some user code does.",
)
@click.option(
    "--save-repro",
    type=click.Path(file_okay=False, path_type=Path),
    help="For each backend judged wrong or non-finite, write the matrix and a stand-alone script that "
    "reproduces it (for a bug report) into this directory.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes for large runs (each imports the frameworks once).",
)
@quiet_on_closed_pipe
def check(paths, output_format, output, include_arrays, show_gradients, show_reference, details, quiet, top,
          recursive, globs, excludes, max_elements, save_repro, jobs, **options) -> None:  # fmt: skip
    """Check the SVD gradients of the matrices in PATHS.

    PATHS are .npy, .npz, .csv, .tsv or .txt files, directories (searched recursively, in sorted
    order), or - for standard input. An array of shape (..., m, n) is a stack of matrices.

    \b
    Examples:
      svdgrad check weights.npy
      svdgrad check fixtures/ --format json -o report.json
      svdgrad check A.csv --loss sv:2 --backend tensorflow --show-gradients
      svdgrad check fixtures/ --format junit > svdgrad.xml
      cat A.txt | svdgrad check -
    """
    from svdgrad_cli.inputs.discovery import collect_files
    from svdgrad_cli.pipeline.run import iter_reports_for_files, resolve_settings
    from svdgrad_cli.render.progress import progress_on_stderr

    fail_on = options.pop("fail_on")
    options["fail_on"] = () if "never" in fail_on else (tuple(fail_on) or Settings.fail_on)
    options["backends"] = tuple(options["backends"])
    try:
        settings = resolve_settings(Settings(**options))
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    keep_arrays = include_arrays or show_gradients or show_reference
    reports_keep_arrays = keep_arrays or save_repro is not None
    stream_jsonl = output_format == "jsonl" and output is None
    run = RunReport(settings)
    interrupted = False
    files = collect_files(list(paths), recursive, globs, excludes)
    run.skipped = len(files.skipped)
    reports = iter_reports_for_files(files.entries, settings, max_elements, jobs, reports_keep_arrays)
    with progress_on_stderr(enabled=not quiet) as advance:
        try:
            for report in reports:
                if report.status == "error":
                    click.echo(f"svdgrad: error: {report.label}: {report.error}", err=True)
                if save_repro is not None:
                    _save_reproducers(report, settings, save_repro)
                if stream_jsonl:
                    from svdgrad_cli.render.jsonl import render_jsonl_line

                    click.echo(render_jsonl_line(report, include_arrays))
                run.results.append(report if keep_arrays else report.without_arrays())
                advance(report.label)
        except KeyboardInterrupt:
            interrupted = True
            click.echo("svdgrad: interrupted; the summary covers the matrices checked so far", err=True)
    _render(run, output_format, output, include_arrays, show_gradients, show_reference, details, quiet, top,
            stream_jsonl, interrupted)  # fmt: skip
    sys.exit(130 if interrupted else run.exit_code)


def _save_reproducers(report, settings: Settings, directory: Path) -> None:
    from svdgrad_cli.backends import registry
    from svdgrad_cli.render.repro import write_reproducers

    versions = {name: registry.installed_version(name) for name in settings.backends}
    for script in write_reproducers(report, settings.loss, directory, versions, settings.full_matrices):
        click.echo(f"svdgrad: wrote reproducer {script}", err=True)


def _render(run, output_format, output, include_arrays, show_gradients, show_reference, details, quiet, top,
            stream_jsonl, interrupted) -> None:  # fmt: skip
    if output is not None:
        document_format = "json" if output_format == "table" else output_format
        output.write(render_document(document_format, run, include_arrays) + "\n")
        output_format = "table"
    if stream_jsonl:
        from svdgrad_cli.render.jsonl import render_jsonl_summary

        click.echo(render_jsonl_summary(run))
    elif output_format != "table":
        text = render_document(output_format, run, include_arrays)
        if text:
            click.echo(text)
    else:
        from svdgrad_cli.render.table import ReportConsole, render_table

        detailed = (details or len(run.results) <= DETAIL_LIMIT) and not quiet and not interrupted
        render_table(ReportConsole(), run, show_gradients, show_reference, detailed, quiet, top)


@cli.command()
def backends() -> None:
    """List the backends, whether each is installed, and its version (imports no framework)."""
    from svdgrad_cli.backends import registry

    for name in registry.backend_names():
        if registry.is_available(name):
            click.echo(f"{name:<12} available   {registry.installed_version(name)}")
        else:
            click.echo(f"{name:<12} missing     install with: {registry.install_hint(name)}")


def main() -> None:
    """Console entry point: one-line errors and no tracebacks, quiet on a closed pipe, 130 on Ctrl-C."""
    try:
        cli.main(prog_name="svdgrad", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if isinstance(exc, InputFailure) else 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("svdgrad: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # never a traceback: one line, exit 2
        click.echo(f"svdgrad: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
