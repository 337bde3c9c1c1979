"""The options of ``svdgrad sweep``: what it varies, over which matrices, and which check options it
shares (every Settings field and the RunOptions of SWEEP_RUN_FIELDS)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from svdgrad_cli.options.check import Settings, option_fields
from svdgrad_cli.options.machinery import DeclaredOption, declared_options, option
from svdgrad_cli.render import MODE_SWEEP_RENDERERS, SWEEP_FORMATS

VARY_CHOICES = ("gap", "zero", "scale", "cut")
SWEEP_RUN_FIELDS = ("output_format", "output", "max_elements", "quiet", "include_arrays", "jobs", "cache")
SWEEP_FORMAT_HELP = "Report format: table, json or jsonl; with --mode jvp|hvp table, json or html."
# --format's choices: the vjp sweep's formats and the mode sweep's (each run refuses the other's)
SWEEP_COMMAND_FORMATS = tuple(dict.fromkeys([*SWEEP_FORMATS, *MODE_SWEEP_RENDERERS]))


@dataclass(frozen=True)
class SweepOptions:
    """What ``svdgrad sweep`` varies, over which matrices, and where it draws them (no config keys)."""

    vary: str = option(
        "gap",
        "--vary",
        type=VARY_CHOICES,
        show_default=True,
        config=False,
        help="gap: s_K and s_K+1 pulled together, (s_K - s_K+1)/s_1 from 0.1 down to exact 0; zero: s_K "
        "and below toward 0, ending at 0; scale: A * 2^e, e from -100 to 100; cut: s_K+1 and below "
        "against s_K, s_K+1/s_K from exact 0 to the multiplet at 1 (truncated SVDs keeping K).",
    )
    at: int | None = option(
        None,
        "--at",
        type="positive",
        config=False,
        help="K. Default: the closest pair of non-zero values (gap); the first zero value, else the "
        "smallest (zero); the loss's K (cut).",
    )
    points: int = option(
        16,
        "--points",
        type="positive",
        show_default=True,
        config=False,
        help="Points, log-spaced (the last at exact 0 for gap and zero; cut: exact 0, logit-spaced, "
        "exact 1).",
    )
    shape: str = option(
        "8x8",
        "--shape",
        show_default=True,
        config=False,
        help="MxN of the synthetic family: exactly orthogonal dyadic factors where M, N >= 4, "
        "else seeded QR ones.",
    )
    source: str | None = option(
        None,
        "--from",
        type="path",
        config=False,
        help="Start from this matrix (its singular vectors and values), not a synthetic one.",
    )
    plot_file: str | None = option(
        None,
        "--plot",
        type="path",
        config=False,
        help="Draw the sweep into FILE.png or FILE.svg (needs svdgrad[plot]).",
    )
    save_matrices: str | None = option(
        None,
        "--save-matrices",
        type="directory",
        config=False,
        help="Keep each point's matrix as an .npy file in this directory.",
    )


def _as_sweep_option(declared: DeclaredOption) -> DeclaredOption:
    """A check option as the sweep offers it: --format lists SWEEP_FORMATS only."""
    cls, field, opt = declared
    if field.name != "output_format":
        return declared
    return cls, field, dataclasses.replace(opt, type=SWEEP_COMMAND_FORMATS, help=SWEEP_FORMAT_HELP)


def sweep_option_fields() -> list[DeclaredOption]:
    """(owning class, field, option) of ``svdgrad sweep``: SweepOptions, Settings, and the RunOptions
    of SWEEP_RUN_FIELDS (--format offering SWEEP_FORMATS)."""
    shared = [d for d in option_fields() if d[0] is Settings or d[1].name in SWEEP_RUN_FIELDS]
    return declared_options(SweepOptions) + [_as_sweep_option(d) for d in shared]
