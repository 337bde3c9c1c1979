"""The ``svdgrad`` command: parse options, call the library, render, and set the exit code.

This is the only module that imports click; rich is imported by the table renderer only.
"""

from __future__ import annotations

import os
import sys

import click

from svdgrad_cli import __version__
from svdgrad_cli.errors import SvdgradError
from svdgrad_cli.loading import DEFAULT_MAX_ELEMENTS, DTYPE_CHOICES
from svdgrad_cli.losses import LOSS_HELP
from svdgrad_cli.model import Settings
from svdgrad_cli.render import FORMATS, render_document

EXIT_CODES = """\b
Exit codes:
  0  every matrix checked; no verdict in --fail-on (warnings alone never fail)
  1  findings: some verdict is in --fail-on (default: wrong, non-finite)
  2  usage error, unreadable or invalid input, or a backend that could not run
"""


class InputFailure(click.ClickException):
    """A library error shown as one line; exit code 2 so that 1 always means findings."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"svdgrad: error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="svdgrad")
def cli() -> None:
    """Diagnose SVD gradients: run each framework's SVD gradient, compare with a float64
    reference, and say whether they agree, whether the gradient is unique, and who is right."""


@cli.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--loss", default="sum", show_default=True, help=f"Loss of the singular values: {LOSS_HELP}.")
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
    help="Report format: table (for people), json, jsonl, junit (JUnit XML), github (workflow "
    "annotations) or markdown.",
)
@click.option(
    "--output",
    "-o",
    type=click.File("w", lazy=True),
    help="Write the --format report (json if --format is table) to this file and print the table on stdout.",
)
@click.option(
    "--zero-tol",
    type=float,
    default=None,
    help="A singular value is zero (and two are tied) within this times s_1. "
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
    help="Safety factor of the error budget (see README, 'Tolerances').",
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
    type=click.Choice(("wrong", "non-finite", "non-unique", "undefined", "never")),
    help="Matrix verdicts that make the exit code 1 (repeatable). Default: wrong, non-finite.",
)
@click.option("--show-gradients", is_flag=True, help="Print each backend's gradient (small matrices).")
@click.option(
    "--show-reference",
    is_flag=True,
    help="Print the reference gradient, or the minimum-norm member of the gradient set.",
)
@click.option("--include-arrays", is_flag=True, help="JSON: include gradients and the reference.")
@click.option(
    "--max-elements",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_ELEMENTS,
    show_default=True,
    help="Refuse arrays with more entries than this, before reading them.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random directions that check the reference.",
)
def check(
    paths,
    loss,
    backends,
    dtype,
    output_format,
    output,
    zero_tol,
    dup_tol,
    budget_factor,
    rtol,
    atol,
    fail_on,
    show_gradients,
    show_reference,
    include_arrays,
    max_elements,
    seed,
) -> None:
    """Check the SVD gradients of the matrices in PATHS.

    PATHS are .npy, .npz, .csv, .tsv or .txt files, directories (searched recursively, sorted),
    or - for standard input. An array of shape (..., m, n) is a stack of matrices.

    \b
    Examples:
      svdgrad check weights.npy
      svdgrad check sample_matrices/ --format json > report.json
      svdgrad check A.csv --loss sv:2 --backend tensorflow --show-gradients
      cat A.txt | svdgrad check -
    """
    from svdgrad_cli.check import check_paths

    fail = () if "never" in fail_on else (tuple(fail_on) or Settings.fail_on)
    settings = Settings(
        loss=loss,
        dtype=dtype,
        backends=backends,
        rtol=rtol,
        atol=atol,
        zero_tol=zero_tol,
        dup_tol=dup_tol,
        budget_factor=budget_factor,
        fail_on=fail,
        seed=seed,
    )
    try:
        run = check_paths(list(paths), settings, max_elements)
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    for report in run.results:
        if report.status == "error":
            click.echo(f"svdgrad: error: {report.label}: {report.error}", err=True)
    if output is not None:
        output.write(
            render_document(output_format if output_format != "table" else "json", run, include_arrays)
        )
        output.write("\n")
        output_format = "table"
    if output_format == "table":
        from rich.console import Console

        from svdgrad_cli.render.table import render_table

        render_table(Console(), run, show_gradients, show_reference)
    else:
        text = render_document(output_format, run, include_arrays)
        if text:
            click.echo(text)
    sys.exit(run.exit_code)


@cli.command()
def backends() -> None:
    """List the backends, whether each is installed, and its version (imports no framework)."""
    from svdgrad_cli import backends as registry

    for name in registry.backend_names():
        if registry.is_available(name):
            click.echo(f"{name:<12} available   {registry.installed_version(name)}")
        else:
            click.echo(f"{name:<12} missing     install with: {registry.install_hint(name)}")


def main() -> None:
    """Console entry point: no tracebacks, quiet on a closed pipe, 130 on Ctrl-C."""
    try:
        cli.main(prog_name="svdgrad", standalone_mode=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("svdgrad: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # never a traceback: one line, exit 2
        click.echo(f"svdgrad: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
