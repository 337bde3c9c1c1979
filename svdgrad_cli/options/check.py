"""Every option of ``svdgrad check``, defined once (options/machinery.py says how).

``Settings`` holds what decides the verdicts (it travels to worker processes); ``RunOptions`` which files
are read and how the report is shown. Imports neither numpy nor click: ``svdgrad --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from svdgrad_cli.inputs.kernels import RESHAPES
from svdgrad_cli.inputs.limits import DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_MATRICES
from svdgrad_cli.options.machinery import DeclaredOption, Option, declared_options, option
from svdgrad_cli.render import FORMATS
from svdgrad_cli.verdicts import FAILING, SEVERITY, MatrixVerdict, ReferencePrecision

LOSS_HELP = "sum | sv:K | topk:K | polar[:K] | recon[:K] | proj:K | uv"
DTYPE_CHOICES = ("auto", "float32", "float64", "complex64", "complex128")
DECOMPOSITION_CHOICES = ("svd", "eigh")  # the SVD, or a real symmetric A's eigendecomposition (issue 27)
EIGH_HELP = (
    "svd, or eigh: gradients of losses of a real symmetric A's eigendecomposition, --loss eigsum | eig:K "
    "| lowk:K | topk:K | logdet | entropy | expm | proj:K | vec"
)
SYM_HELP = "--decomposition eigh: check (A + A^T)/2 where A is not symmetric (else it is refused)."
MODE_CHOICES = ("vjp", "jvp", "hvp")  # DerivativeMode's values (numerics/differentiated.py; a test compares)
REFERENCE_CHOICES = tuple(p.value for p in ReferencePrecision)
FAIL_ON_CHOICES = (
    *(v.value for v in reversed(SEVERITY) if v not in (MatrixVerdict.AGREE, MatrixVerdict.ERROR)),
    "warning",
)
DEFAULT_FAIL_ON = tuple(v.value for v in reversed(SEVERITY) if v in FAILING)
DETAIL_LIMIT = 10  # runs with more matrices print the summary only, unless --details


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
    reference: str = option(  # a ReferencePrecision once resolved (pipeline/run.py)
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
        help="An .npz with the loss's weights (C; or C_U, C_V for uv; C_w, C_Q for eigh's wq) to use "
        "instead of random ones: the upstream gradient of your model.",
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
    mode: str = option(
        "vjp",
        "--mode",
        type=MODE_CHOICES,
        config=False,
        json=False,
        help="vjp: reverse-mode gradients, jvp: forward-mode JVPs, hvp: Hessian-vector products",
    )
    decomposition: str = option(
        "svd", "--decomposition", type=DECOMPOSITION_CHOICES, config=False, json=False, help=EIGH_HELP
    )
    symmetrize: bool = option(False, "--symmetrize", kind="flag", config=False, json=False, help=SYM_HELP)
    directions: str | None = option(
        None,
        "--directions",
        type="path",
        config=False,
        json=False,
        help="--mode jvp: an .npz of directions E, each (m, n) or a stack (d, m, n).",
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
    recursive: bool = option(
        True,
        "--recursive/--no-recursive",
        kind="switch",
        show_default=True,
        help="Search directories recursively.",
    )
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
    shard: str | None = option(
        None,
        "--shard",
        config=False,
        help="K/N: check part K of N, balanced by "
        "size and alike on every machine; 'svdgrad merge' joins the parts' -f jsonl reports.",
    )
    plan: str | None = option(
        None,
        "--plan",
        type="path",
        config=False,
        help="Check the matrices of this plan of 'svdgrad scan --write-plan' "
        "(with --shard K/N: part K of it).",
    )
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
        False,
        "--show-gradients",
        kind="flag",
        json=False,
        config=False,
        help="Print each backend's gradient (small matrices).",
    )
    show_reference: bool = option(
        False,
        "--show-reference",
        kind="flag",
        json=False,
        config=False,
        help="Print the reference gradient, or the minimum-norm member of the gradient set.",
    )
    include_arrays: bool = option(
        False,
        "--include-arrays",
        kind="flag",
        json=False,
        config=False,
        help="JSON: include gradients, the reference gradient and the loss weights.",
    )
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
    cache: bool = option(
        True,
        "--cache/--no-cache",
        kind="switch",
        show_default=True,
        json=False,
        help="Keep JAX's compiled programs in svdgrad's cache directory "
        "($SVDGRAD_CACHE_DIR, else ~/.cache/svdgrad) for later runs.",
    )
    plot: str | None = option(
        None,
        "--plot",
        type="directory",
        json=False,
        config=False,
        help="Draw each matrix's spectrum, each backend's error against its budget and |G - G_ref| as "
        "PNG files into this directory (needs svdgrad[plot]).",
    )

    @property
    def keep_arrays(self) -> bool:
        """Whether the run keeps gradient matrices after a report is rendered."""
        return self.include_arrays or self.show_gradients or self.show_reference


OPTION_CLASSES = (Settings, RunOptions)
OptionsT = TypeVar("OptionsT", Settings, RunOptions)


def option_fields() -> list[DeclaredOption]:
    """(owning class, field, option) of every option, in the order --help lists them."""
    return [declared for cls in OPTION_CLASSES for declared in declared_options(cls)]


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
    return _build(Settings, values), _build(RunOptions, values)


def _build(cls: type[OptionsT], values: dict[str, Any]) -> OptionsT:
    """An options object from the values named by its fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
