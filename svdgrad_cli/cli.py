"""The ``svdgrad`` command: parse options, call the library, render, and set the exit code.

This is the only module that imports click. Its options are built from options.py; at start-up it
imports neither numpy nor the rest of the library, so ``svdgrad --help`` is immediate.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from svdgrad_cli._version import __version__
from svdgrad_cli.options import Option, option_fields, split_options, sweep_option_fields

EXIT_CODES = """\b
Exit codes:
  0  every matrix checked; no verdict in --fail-on (by default, warnings never fail)
  1  findings: some verdict is in --fail-on (default: wrong, non-finite)
  2  usage error, unreadable or invalid input, a backend that could not run,
     or nothing to check
  130 interrupted (Ctrl-C); the partial summary is printed
  143 stopped by SIGTERM (as Ctrl-C: the report says it was interrupted)
  141 stdout was closed by its reader (e.g. piped into head)
"""
LONGEST_CHOICE_LIST = 60  # longer [a|b|...] lists would overflow an 80-column terminal's help
CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away
# Option types that click spells differently from options.py.
CLICK_TYPES = {
    "float": float,
    "int": int,
    "count": click.IntRange(min=0),
    "positive": click.IntRange(min=1),
    "path": click.Path(dir_okay=False, allow_dash=True),
    "directory": click.Path(file_okay=False),
}


def quiet_on_closed_pipe(command):
    """Exit CLOSED_PIPE without a word when stdout's reader goes away (``svdgrad check dir | head``).

    Inside the command, because click would otherwise turn the error into exit code 1 (findings)."""

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
        _notify(f"error: {self.format_message()}")


def click_option(name: str, default, opt: Option):
    """The click decorator of one option of options.py."""
    details = {"help": opt.help, "show_default": opt.show_default, "default": default}
    if opt.kind == "flag":
        details["is_flag"] = True
    elif opt.kind == "multiple":
        details["multiple"] = True
    if isinstance(opt.type, tuple):
        details["type"] = click.Choice(opt.type)
        if len("|".join(opt.type)) > LONGEST_CHOICE_LIST:  # listed in the help text, which wraps
            details["metavar"] = "CHOICE"
            details["help"] = f"{opt.help} Choices: {', '.join(opt.type)}."
    elif opt.kind not in ("flag", "switch") and opt.type in CLICK_TYPES:
        details["type"] = CLICK_TYPES[opt.type]
    return click.option(*opt.flags, name, **details)


def with_options(command, fields=option_fields):
    """Add every option of options.py (or of ``fields()``) to a click command, in declaration order."""
    for _, field, opt in reversed(fields()):
        command = click_option(field.name, field.default, opt)(command)
    return command


def with_sweep_options(command):
    return with_options(command, sweep_option_fields)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="svdgrad")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Diagnose SVD gradients: run each framework's SVD gradient, compare with a float64
    reference, and say whether they agree, whether the gradient is unique, and who is right.

    Defaults for 'check' may be set under [tool.svdgrad] in the nearest pyproject.toml."""
    from svdgrad_cli.config import load_defaults
    from svdgrad_cli.errors import SvdgradError

    try:
        defaults, config = load_defaults(Path.cwd())
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    # a configured format may be one sweep does not offer (junit): sweep's is given on its command line
    sweep_keys = {f.name for _, f, o in sweep_option_fields() if o.config} - {"output_format"}
    ctx.default_map = {"check": defaults, "sweep": {k: v for k, v in defaults.items() if k in sweep_keys}}
    # scan (issue 26): check's Settings and a part of its RunOptions; its format is given on its command line
    ctx.default_map["scan"] = {k: v for k, v in defaults.items() if k != "output_format"}
    ctx.default_map["merge"] = {k: v for k, v in defaults.items() if k in MERGE_FIELDS}  # format, top
    ctx.obj = None if config is None else str(config)  # named in every report of check


@cli.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@with_options
@quiet_on_closed_pipe
def check(paths, **values) -> None:
    """Check the SVD gradients of the matrices in PATHS.

    PATHS are .npy, .npz, .csv, .tsv or .txt files, checkpoints (.safetensors, .pt, .pth, .bin,
    .h5, .keras), directories (searched recursively, in sorted order), or - for standard input. An
    array of shape (..., m, n) is a stack of matrices; a checkpoint's tensors are reported by name.

    \b
    Examples:
      svdgrad check weights.npy
      svdgrad check fixtures/ --format json -o report.json
      svdgrad check A.csv --loss sv:2 --backend tensorflow --show-gradients
      svdgrad check fixtures/ --format junit > svdgrad.xml
      cat A.txt | svdgrad check -
    """
    settings, run_options = split_options(_fail_on_layers(values))
    hosted = (settings.mode, settings.decomposition, run_options.jobs) == ("vjp", "svd", 1)
    _configure_runtime(values, processes=2 if hosted else 1)  # beside the backends' worker processes
    if hosted:
        from svdgrad_cli.backends.registry import start_early  # the frameworks start while svdgrad loads

        start_early(settings.backends)
    from svdgrad_cli.errors import SvdgradError
    from svdgrad_cli.session import CheckSession

    _run_in_mode(
        settings,
        lambda session, target: session.run_mode_check(
            list(paths), target, settings, run_options, _write_stdout, _notify
        ),
        lambda session: session.run_eigh_check(list(paths), settings, run_options, _write_stdout, _notify),
    )
    try:
        ctx = click.get_current_context()
        from_config = click.core.ParameterSource.DEFAULT_MAP
        configured = frozenset(n for n in ("select", "skip") if ctx.get_parameter_source(n) is from_config)
        session = CheckSession(list(paths), settings, run_options, _notify, ctx.find_root().obj, configured)
        run = session.run(_write_stdout)
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    sys.exit(run.exit_code)


@cli.command(epilog=EXIT_CODES)
@with_sweep_options
@quiet_on_closed_pipe
def sweep(**values) -> None:
    """Check a family of matrices with exactly known spectra, point by point, as 'check' does:
    where does each framework's gradient stop being right?

    A synthetic family is A = U diag(s) V^T with exactly orthogonal dyadic factors (seeded QR below
    4); --from starts from your matrix. Each point's realised spectrum is reported beside the
    requested one. The table draws one row per backend and one cell per point.

    \b
    Examples:
      svdgrad sweep --loss polar --vary gap --at 2 --shape 6x6
      svdgrad sweep --from weights.npy --vary zero --at 3 --plot sweep.png
      svdgrad sweep --vary scale -b torch -b jax --format json -o sweep.json
      svdgrad sweep --vary gap -b torch:mypkg.linalg:safe_svd --points 24 --jobs 2
    """
    _configure_runtime(values)
    from svdgrad_cli.errors import SvdgradError
    from svdgrad_cli.options import SweepOptions
    from svdgrad_cli.sweep_session import SweepSession

    settings, run_options = split_options(_fail_on_layers(values))
    names = SweepOptions.__dataclass_fields__
    sweep_options = SweepOptions(**{k: v for k, v in values.items() if k in names})
    _run_in_mode(
        settings,
        lambda session, target: session.run_mode_sweep(
            target, settings, run_options, sweep_options, _write_stdout, _notify
        ),
        lambda session: session.run_eigh_sweep(settings, run_options, sweep_options, _write_stdout, _notify),
    )
    try:
        report = SweepSession(settings, run_options, sweep_options, notify=_notify).run(_write_stdout)
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    sys.exit(report.run.exit_code)


MERGE_FIELDS = ("output_format", "output", "details", "quiet", "top", "include_arrays")  # how merge shows


def with_merge_options(command):
    """The RunOptions of MERGE_FIELDS: what decided the results comes from the shards' reports."""

    def fields():
        return [(c, f, o) for c, f, o in option_fields() if f.name in MERGE_FIELDS]

    return with_options(command, fields)


@cli.command(epilog=EXIT_CODES)
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@with_merge_options
@quiet_on_closed_pipe
def merge(reports, **values) -> None:
    """Combine the jsonl reports of the shards of one run (check --shard K/N -f jsonl) into one
    report in any format, with the summary and exit code of a single run.

    Refused (exit 2): reports of different settings or versions, a shard given twice or missing, and
    files that are not whole jsonl reports.

    \b
    Examples:
      for k in 1 2 3 4; do
        svdgrad check w/ --shard $k/4 -f jsonl -o part$k.jsonl -q &
      done; wait
      svdgrad merge part*.jsonl -f junit -o report.xml
      svdgrad merge part*.jsonl -f markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from svdgrad_cli.errors import SvdgradError
    from svdgrad_cli.merge_checked import merge_paths, write_merged
    from svdgrad_cli.options import RunOptions

    options = RunOptions(**values)
    try:
        run = merge_paths(list(reports), options)
        write_merged(run, options, _write_stdout, _notify)
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    sys.exit(run.exit_code)


SCAN_EXIT_CODES = """\b
Exit codes (with --then-check, those of 'check'):
  0  every matrix screened, none at risk (no gradient was checked)
  1  some matrix is at risk for the loss
  2  usage error, unreadable or invalid input, or nothing to screen
  130 interrupted (Ctrl-C)
"""


def with_scan_options(command):  # svdgrad scan (issue 26): its options are options/scan.py's
    from svdgrad_cli.options.scan import scan_option_fields

    return with_options(command, scan_option_fields)


@cli.command(epilog=SCAN_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@with_scan_options
@quiet_on_closed_pipe
def scan(paths, **values) -> None:
    """Screen the matrices in PATHS from their spectra alone, fast: for the --loss, which have ties,
    zeros or conditioning that make its gradient non-unique or ill-conditioned ('at-risk'), and
    which not ('clear-spectrum'). Nothing is differentiated: a screened matrix is never 'checked'.

    PATHS are as for 'check'. Each matrix's singular values are computed once, in float64, and
    checkpoints are read one tensor at a time.

    \b
    Examples:
      svdgrad scan model.safetensors --loss sv:1
      svdgrad scan model.safetensors --then-check -b torch
      svdgrad scan w/ --write-select at_risk.txt
      svdgrad scan w/ --plan-shards 4 --write-plan plan.json
      svdgrad check w/ --plan plan.json --shard 2/4 -f jsonl -o part2.jsonl
    """
    _configure_runtime(values)
    from svdgrad_cli.errors import SvdgradError
    from svdgrad_cli.options.scan import split_scan_options
    from svdgrad_cli.scan_session import ScanSession

    settings, run_options, scan_options = split_scan_options(_fail_on_layers(values))
    try:
        config = click.get_current_context().find_root().obj
        session = ScanSession(list(paths), settings, run_options, scan_options, _notify, config)
        code = session.run(_write_stdout)
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    sys.exit(code)


def _fail_on_layers(values: dict) -> dict:
    """[tool.svdgrad]'s fail-on and fail-only-on are what the command line builds on, as ruff's select
    and extend-select: --fail-only-on replaces the file's choice, --fail-on adds to it."""
    ctx = click.get_current_context()

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE

    if given("fail_only_on"):
        return values | ({} if given("fail_on") else {"fail_on": ()})
    if not given("fail_on"):
        return values
    added = tuple(ctx.lookup_default("fail_on") or ()) + values["fail_on"]
    if values["fail_only_on"] == ("never",):  # the file's 'never', then these
        return values | {"fail_only_on": added, "fail_on": ()}
    return values | {"fail_on": added}


def _run_in_mode(settings, run, eigh) -> None:
    """--mode jvp|hvp: ``run(mode_session, target)``; --decomposition eigh: ``eigh(eigh_session)``;
    this exits with its code, and returns for the SVD's VJP."""
    from svdgrad_cli import mode_session
    from svdgrad_cli.errors import SvdgradError

    try:
        if settings.decomposition == "eigh":
            from svdgrad_cli import eigh_session

            sys.exit(eigh(eigh_session))
        target = mode_session.mode_run_target(settings)
        if target is None:
            return
        code = run(mode_session, target)
    except SvdgradError as exc:
        raise InputFailure(str(exc)) from None
    sys.exit(code)


def _configure_runtime(values: dict, processes: int = 1) -> None:
    """Thread pools and caches for this run, before NumPy or a framework is imported (runtime.py)."""
    from svdgrad_cli.backends.runtime import configure

    configure(values.get("cache", True), processes)


def _notify(message: str) -> None:
    """One line on stderr, its file and tensor names' control and bidi characters escaped."""
    from svdgrad_cli.render.terminal import terminal_text

    click.echo(f"svdgrad: {terminal_text(message)}", file=sys.stderr)  # above a progress bar, if drawn


def _write_stdout(text: str) -> None:
    if text:
        click.echo(text, nl=False, color=True)  # colour codes are there only if rich chose a terminal


@cli.command()
@click.argument("specs", nargs=-1)
def backends(specs) -> None:
    """List the backends (built-in, entry points, and any SPECS given, e.g.
    torch:mypkg.linalg:safe_svd): whether each loads here, its version and its origin.

    Each installed framework is imported in a child process, so a broken install is reported with its
    error instead of being listed as available. Exit code 2 if a SPEC given does not load."""
    from svdgrad_cli.backends.listing import Availability, backend_rows

    rows = backend_rows(list(specs))
    from svdgrad_cli.render.terminal import terminal_text

    for name, status, version, origin in rows:
        click.echo(terminal_text(f"{name:<14} {status:<10} {version:<26} {origin}".rstrip()))
    if any(status is Availability.BROKEN and name in specs for name, status, _, _ in rows):
        sys.exit(2)  # a spec asked about does not load


def main() -> None:
    """Console entry point: one-line errors and no tracebacks, quiet on a closed pipe, 130 on Ctrl-C
    and 143 on SIGTERM."""
    from svdgrad_cli.interrupts import stopping_exit_code, terminate_as_interrupt

    terminate_as_interrupt()
    try:
        cli.main(prog_name="svdgrad", standalone_mode=False)
    except click.ClickException as exc:
        from svdgrad_cli.render.terminal import terminal_text

        # click's own messages quote file names too; click types the message Final, yet show() reads it
        exc.message = terminal_text(exc.message)  # type: ignore[misc]
        exc.show()
        sys.exit(exc.exit_code if isinstance(exc, InputFailure) else 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        click.echo("svdgrad: interrupted", err=True)
        sys.exit(stopping_exit_code(exc.__cause__ or exc))  # click raises Abort from the interrupt
    except Exception as exc:  # never a traceback: one line, exit 2
        _notify(f"internal error: {type(exc).__name__}: {exc}")
        sys.exit(2)
