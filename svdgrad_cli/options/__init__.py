"""Every option of ``svdgrad``, defined once: the machinery (options/machinery.py), the options of
``check`` (options/check.py), those of ``sweep`` (options/sweep.py) and ``scan`` (options/scan.py).
Imports neither numpy nor click: ``svdgrad --help`` stays fast. A test checks the README's key list."""

from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS
from svdgrad_cli.options.check import (
    DETAIL_LIMIT,
    DTYPE_CHOICES,
    OPTION_CLASSES,
    REFERENCE_CHOICES,
    RunOptions,
    Settings,
    config_keys,
    json_settings,
    option_fields,
    split_options,
)
from svdgrad_cli.options.machinery import DeclaredOption, Option, declared_options, given_flags, option
from svdgrad_cli.options.sweep import SWEEP_RUN_FIELDS, VARY_CHOICES, SweepOptions, sweep_option_fields

__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "DETAIL_LIMIT",
    "DTYPE_CHOICES",
    "OPTION_CLASSES",
    "REFERENCE_CHOICES",
    "SWEEP_RUN_FIELDS",
    "VARY_CHOICES",
    "DeclaredOption",
    "Option",
    "RunOptions",
    "Settings",
    "SweepOptions",
    "config_keys",
    "declared_options",
    "given_flags",
    "json_settings",
    "option",
    "option_fields",
    "split_options",
    "sweep_option_fields",
]
