"""Every option of ``svdgrad check``, defined once.

Each is a dataclass field whose metadata (an :class:`Option`) carries its flags, help, kind and whether
``[tool.svdgrad]`` and the JSON ``settings`` know it: cli.py builds the click command from them, config.py
the pyproject keys, render/json_format.py the settings block; a test checks the README's key list.
``Settings`` holds what decides the verdicts (it travels to worker processes); ``RunOptions`` which files
are read and how the report is shown. Imports neither numpy nor click: ``svdgrad --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from svdgrad_cli.inputs.kernels import RESHAPES
from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_MATRICES
from svdgrad_cli.render import FORMATS, SWEEP_FORMATS
from svdgrad_cli.verdicts import FAILING, SEVERITY, MatrixVerdict

LOSS_HELP = "sum | sv:K | topk:K | polar[:K] | recon[:K] | proj:K | uv"
DTYPE_CHOICES = ("auto", "float32", "float64", "complex64", "complex128")
REFERENCE_CHOICES = ("auto", "float64", "high")
FAIL_ON_CHOICES = (
    *(v.value for v in reversed(SEVERITY) if v not in (MatrixVerdict.AGREE, MatrixVerdict.ERROR)),
    "warning",
)
DEFAULT_FAIL_ON = tuple(v.value for v in reversed(SEVERITY) if v in FAILING)
DETAIL_LIMIT = 10  # runs with more matrices print the summary only, unless --details


@dataclass(frozen=True)
class Option:
    """How one field is set from the command line and from ``[tool.svdgrad]``, and how it is echoed.

    ``kind``: ``value`` (one value of ``type``), ``multiple`` (repeatable, a tuple), ``flag``
    (boolean, off by default) or ``switch`` (``--x/--no-x``). ``type``: ``str``, ``float``, ``int``,
    ``count`` (int >= 0), ``positive`` (int >= 1), ``path``, ``directory``, or a tuple of choices.
    """

    flags: tuple[str, ...]
    help: str
    kind: str = "value"
    type: str | tuple[str, ...] = "str"
    config: bool = True  # a [tool.svdgrad] key
    json: bool = True  # echoed in the JSON ``settings``
    show_default: bool = False
    config_key: str | None = None  # when the key is not the long flag (``backends`` for ``--backend``)

    @property
    def long_flag(self) -> str:
        return next(f for f in self.flags if f.startswith("--")).split("/")[0]

    @property
    def key(self) -> str:
        """The ``[tool.svdgrad]`` key: the long flag without dashes, unless named otherwise."""
        return self.config_key or self.long_flag.removeprefix("--")


def option(default: Any, *flags: str, help: str, **details) -> Any:
    """A dataclass field declared as a command-line option (see :class:`Option`)."""
    meta = {"option": Option(flags, help, **details)}
    if isinstance(default, (list, dict, set)):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """What decides the verdicts (the loss, the backends, the precision and the tolerances) and which
    tensors of a file are judged; it travels to worker processes."""

    loss: str = option("sum", "--loss", help=f"The loss to differentiate: {LOSS_HELP}.", show_default=True)
    backends: tuple[str, ...] = option(
        (),
        "--backend",
        "-b",
        kind="multiple",
        config_key="backends",
        help="Backend to run (repeatable). Default: every installed one; see 'svdgrad backends'.",
    )
    dtype: str = option(
        "auto",
        "--dtype",
        type=DTYPE_CHOICES,
        show_default=True,
        help="Precision the backends compute in. auto: the file's float or complex type "
        "(float64 for integers and real text, complex128 for complex text).",
    )
    zero_tol: float | None = option(
        None,
        "--zero-tol",
        type="float",
        help="A singular value is zero, and two are tied, within this times s_1. "
        "Default: max(m, n) * eps(dtype).",
    )
    dup_tol: float | None = option(
        None,
        "--dup-tol",
        type="float",
        help="Warn about neighbours at most this times s_1 apart. Default: sqrt(eps(dtype)).",
    )
    budget_factor: float | None = option(
        None,
        "--budget-factor",
        type="float",
        help="The constant of the error budget: factor * eps * (||A||_2 ||DG||_2 + sqrt(max(m, n)) "
        "||G||_F). Default: calibrated, 8 in single and 20 in double precision; see README, 'Tolerances'.",
    )
    rtol: float | None = option(
        None,
        "--rtol",
        type="float",
        help="Replace the derived budget by atol + rtol * ||reference gradient||_F.",
    )
    atol: float | None = option(None, "--atol", type="float", help="See --rtol.")
    fail_on: tuple[str, ...] = option(
        (),
        "--fail-on",
        kind="multiple",
        type=FAIL_ON_CHOICES,
        help="Also exit 1 on this (repeatable; added to the defaults wrong, non-finite): a matrix "
        "verdict, or 'warning' (any warning).",
    )
    fail_only_on: tuple[str, ...] = option(
        (),
        "--fail-only-on",
        kind="multiple",
        type=(*FAIL_ON_CHOICES, "never"),
        help="Exit 1 on these only (repeatable; replaces the defaults), or 'never'.",
    )
    seed: int = option(
        0,
        "--seed",
        type="int",
        show_default=True,
        help="Seed of the weights of U/V losses and of the directions that check the reference.",
    )
    reference: str = option(
        "auto",
        "--reference",
        type=REFERENCE_CHOICES,
        show_default=True,
        help="The reference's precision. auto: float64, and mpmath where float64 cannot decide a "
        "verdict, up to 4096 entries; float64: never mpmath; high: mpmath for every unique gradient.",
    )
    cotangents: str | None = option(
        None,
        "--cotangents",
        type="path",
        help="An .npz with the loss's weights (C; or C_U, C_V for uv) to use instead of random ones: "
        "the upstream gradient of your model.",
    )
    select: tuple[str, ...] = option(
        (),
        "--select",
        kind="multiple",
        help="In checkpoints and archives, check only tensors whose name matches (repeatable; fnmatch), "
        "e.g. 'encoder.*.weight'.",
    )
    skip: tuple[str, ...] = option(
        (),
        "--skip",
        kind="multiple",
        help="In checkpoints and archives, skip tensors whose name matches (repeatable; fnmatch).",
    )
    reshape: str = option(
        "auto",
        "--reshape",
        type=RESHAPES,
        show_default=True,
        help="Checkpoint tensors of 3+ dimensions (plain arrays are always stacks): auto, one matrix per "
        "kernel by the format (torch, safetensors: rows; Keras: columns); rows (out, in*kh*kw); "
        "columns (kh*kw*in, out); stack, leading axes are a stack of matrices.",
    )
    max_matrices: int = option(
        DEFAULT_MAX_MATRICES,
        "--max-matrices",
        type="positive",
        show_default=True,
        help="Refuse the matrices of an input (file, archive, checkpoint) past this many, as --reshape "
        "counts them; a stack over it is refused from its header, before it is read.",
    )
    timeout: float | None = option(
        None,
        "--timeout",
        type="float",
        help="Seconds one backend call may take (a plug-in that hangs is then 'failed'). Default: no limit.",
    )
    full_matrices: bool = option(
        False,
        "--full-matrices",
        kind="flag",
        help="Losses of U and V: call the SVD with full_matrices=True, as some user code does.",
    )

    @property
    def failing(self) -> frozenset[str]:
        """What makes the exit code 1: the defaults or --fail-only-on, plus --fail-on (resolved: run.py)."""
        base = DEFAULT_FAIL_ON if not self.fail_only_on else self.fail_only_on
        return frozenset(base) - {"never"} | frozenset(self.fail_on)


@dataclass(frozen=True)
class RunOptions:
    """Which files a run reads and how its report is shown (nothing here changes a verdict)."""

    output_format: str = option(
        "table",
        "--format",
        "-f",
        type=FORMATS,
        show_default=True,
        json=False,
        help="Report format: table (for people), json, jsonl (streamed), junit "
        "(JUnit XML), github (workflow annotations), markdown or html (one file with pictures).",
    )
    output: str | None = option(
        None,
        "--output",
        "-o",
        type="path",
        config=False,
        json=False,
        help="Write the --format report (json if --format is table) to this file; the table still "
        "goes to stdout.",
    )
    recursive: bool = option(True, "--recursive/--no-recursive", kind="switch", show_default=True,
                             help="Search directories recursively.")  # fmt: skip
    globs: tuple[str, ...] = option(
        (),
        "--glob",
        kind="multiple",
        help="In directories, check only files whose name matches (repeatable), e.g. '*.npy'.",
    )
    excludes: tuple[str, ...] = option(
        (),
        "--exclude",
        kind="multiple",
        help="In directories, skip files or folders whose name matches (repeatable).",
    )
    max_elements: int = option(
        DEFAULT_MAX_ELEMENTS,
        "--max-elements",
        type="positive",
        show_default=True,
        help="Refuse arrays with more entries than this (.npy/.npz and checkpoints: from each "
        "header, before reading; text: while reading).",
    )
    shard: str | None = option(None, "--shard", config=False, help="K/N: check part K of N, balanced by "
        "size and alike on every machine; 'svdgrad merge' joins the parts' -f jsonl reports.")  # fmt: skip
    verbose: bool = option(
        False,
        "--verbose",
        "-v",
        kind="flag",
        json=False,
        config=False,
        help="On stderr, name the config used, every matrix checked and each file or tensor skipped, as "
        "they happen; where a backend failed, its last frames; under a wrong or inaccurate one, every "
        "part of its error in the SVD's bases.",
    )
    details: bool = option(
        False,
        "--details",
        kind="flag",
        json=False,
        config=False,
        help=f"Per-matrix tables also in runs over {DETAIL_LIMIT} matrices.",
    )
    quiet: bool = option(
        False,
        "--quiet",
        "-q",
        kind="flag",
        json=False,
        config=False,
        help="Table format: print the one-line summary only.",
    )
    top: int = option(
        10,
        "--top",
        type="count",
        json=False,
        show_default=True,
        help="How many of the worst matrices the summary lists.",
    )
    show_gradients: bool = option(
        False, "--show-gradients", kind="flag", json=False, config=False,
        help="Print each backend's gradient (small matrices).",
    )  # fmt: skip
    show_reference: bool = option(
        False, "--show-reference", kind="flag", json=False, config=False,
        help="Print the reference gradient, or the minimum-norm member of the gradient set.",
    )  # fmt: skip
    include_arrays: bool = option(
        False, "--include-arrays", kind="flag", json=False, config=False,
        help="JSON: include gradients, the reference gradient and the loss weights.",
    )  # fmt: skip
    save_repro: str | None = option(
        None,
        "--save-repro",
        type="directory",
        json=False,
        config=False,
        help="For each backend judged wrong, inaccurate or non-finite, write the matrix and a stand-alone "
        "script that reproduces it (for a bug report) into this directory.",
    )
    jobs: int = option(
        1,
        "--jobs",
        "-j",
        type="positive",
        json=False,
        show_default=True,
        help="Worker processes for large runs (each imports the frameworks once).",
    )
    cache: bool = option(True, "--cache/--no-cache", kind="switch", show_default=True, json=False,
                         help="Keep JAX's compiled programs in svdgrad's cache directory "
                         "($SVDGRAD_CACHE_DIR, else ~/.cache/svdgrad) for later runs.")  # fmt: skip
    plot: str | None = option(None, "--plot", type="directory", json=False, config=False,
        help="Draw each matrix's spectrum, each backend's error against its budget and |G - G_ref| as "
        "PNG files into this directory (needs svdgrad[plot]).")  # fmt: skip

    @property
    def keep_arrays(self) -> bool:
        """Whether the run keeps gradient matrices after a report is rendered."""
        return self.include_arrays or self.show_gradients or self.show_reference


OPTION_CLASSES = (Settings, RunOptions)
VARY_CHOICES = ("gap", "zero", "scale")
SWEEP_RUN_FIELDS = ("output_format", "output", "max_elements", "quiet", "include_arrays", "jobs", "cache")


@dataclass(frozen=True)
class SweepOptions:
    """What ``svdgrad sweep`` varies, over which matrices, and where it draws them (no config keys)."""

    vary: str = option("gap", "--vary", type=VARY_CHOICES, show_default=True, config=False,
        help="gap: s_K and s_K+1 pulled together, (s_K - s_K+1)/s_1 from 0.1 down to exact 0; zero: s_K "
        "and below toward 0, ending at 0; scale: A * 2^e, e from -100 to 100.")  # fmt: skip
    at: int | None = option(None, "--at", type="positive", config=False,
        help="K. Default: the closest pair of non-zero values (gap); the first zero value, else the "
        "smallest (zero).")  # fmt: skip
    points: int = option(16, "--points", type="positive", show_default=True, config=False,
        help="Points, log-spaced (the last at exact 0 for gap and zero).")  # fmt: skip
    shape: str = option("8x8", "--shape", show_default=True, config=False,
        help="MxN of the synthetic family: exactly orthogonal dyadic factors where M, N >= 4, "
        "else seeded QR ones.")  # fmt: skip
    source: str | None = option(None, "--from", type="path", config=False,
        help="Start from this matrix (its singular vectors and values), not a synthetic one.")  # fmt: skip
    plot_file: str | None = option(None, "--plot", type="path", config=False,
        help="Draw the sweep into FILE.png or FILE.svg (needs svdgrad[plot]).")  # fmt: skip
    save_matrices: str | None = option(None, "--save-matrices", type="directory", config=False,
        help="Keep each point's matrix as an .npy file in this directory.")  # fmt: skip


def sweep_option_fields() -> list[tuple[type, dataclasses.Field, Option]]:
    """(owning class, field, option) of ``svdgrad sweep``: SweepOptions, Settings, and the RunOptions
    of SWEEP_RUN_FIELDS (--format offering SWEEP_FORMATS)."""
    fields = [(c, f, o) for c, f, o in option_fields() if c is Settings or f.name in SWEEP_RUN_FIELDS]
    fields = [
        (c, f, dataclasses.replace(o, type=SWEEP_FORMATS, help="Report format: table, json or jsonl."))
        if f.name == "output_format" else (c, f, o)
        for c, f, o in fields
    ]  # fmt: skip
    return [(SweepOptions, f, f.metadata["option"]) for f in dataclasses.fields(SweepOptions)] + fields


def option_fields() -> list[tuple[type, dataclasses.Field, Option]]:
    """(owning class, field, option) of every option, in the order --help lists them."""
    return [(cls, f, f.metadata["option"]) for cls in OPTION_CLASSES for f in dataclasses.fields(cls)]


def config_keys() -> dict[str, tuple[str, Option]]:
    """``[tool.svdgrad]`` key -> (field name, option), for every option a config file may set."""
    return {o.key: (f.name, o) for _, f, o in option_fields() if o.config}


def json_settings(settings: Settings, run_options: RunOptions | None = None) -> dict[str, Any]:
    """The ``settings`` block of the JSON report: every option marked ``json``, by field name."""
    out: dict[str, Any] = {}
    for obj in (settings, run_options or RunOptions()):
        for f in dataclasses.fields(obj):
            if f.metadata["option"].json:
                value = getattr(obj, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def split_options(values: dict[str, Any]) -> tuple[Settings, RunOptions]:
    """Build Settings and RunOptions from a dict of field values (missing ones take defaults)."""
    built = []
    for cls in OPTION_CLASSES:
        names = {f.name for f in dataclasses.fields(cls)}
        built.append(cls(**{k: v for k, v in values.items() if k in names}))
    return built[0], built[1]
