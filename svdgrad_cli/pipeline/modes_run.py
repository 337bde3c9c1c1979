"""Entry points of ``--mode jvp|hvp`` (issue 25): matrices from arrays or paths, directions, and the
run's verdicts and exit code. The ``vjp`` mode is the rest of the pipeline (run.py, stream.py).

Hook for the seam of issue 23: ``check_modes`` and ``check_mode_paths`` are what ``check(...,
mode=...)`` and ``svdgrad check --mode`` call; a DerivativeMode seam can call ``modes.check_mode``
per matrix instead.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field

import numpy as np

from svdgrad_cli.backends import registry
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import LoadedArray, MatrixCase, Skipped
from svdgrad_cli.inputs.discovery import collect_files
from svdgrad_cli.inputs.loading import load_files, matrices
from svdgrad_cli.numerics.field import is_complex
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.spectrum import default_zero_tol
from svdgrad_cli.options import DEFAULT_MAX_ELEMENTS
from svdgrad_cli.pipeline.modes import MODES, ModeReport, check_mode
from svdgrad_cli.verdicts import BackendVerdict

FINDING_VERDICTS = {BackendVerdict.WRONG, BackendVerdict.NON_FINITE}


@dataclass
class ModeRun:
    """Every matrix's report in one mode, and the inputs that could not be checked."""

    mode: str
    reports: list[ModeReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per input that was not checked

    @property
    def exit_code(self) -> int:
        """1 on a finding (wrong, non-finite), else 2 if anything failed or nothing was judged, else 0."""
        verdicts = [r.verdict for report in self.reports for d in report.directions for r in d.results]
        if any(v in FINDING_VERDICTS for v in verdicts):
            return 1
        judged = [v for v in verdicts if v not in {BackendVerdict.UNSUPPORTED, BackendVerdict.FAILED}]
        if self.errors or BackendVerdict.FAILED in verdicts or not judged:
            return 2
        return 0


def check_mode_name(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; expected one of: {' | '.join(MODES)}")
    return mode


def load_directions(path: str) -> list[np.ndarray]:
    """The directions of an .npz (each array (m, n), or a stack (d, m, n)), in the file's order;
    read without unpickling."""
    try:
        if not zipfile.is_zipfile(path):
            raise UsageError(f"--directions {path}: not an .npz file")
        with np.load(path, allow_pickle=False) as data:
            arrays = [np.asarray(data[key], dtype=np.float64) for key in data.files]
    except (OSError, ValueError, TypeError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(f"--directions {path}: not a readable .npz of real arrays ({exc})") from None
    out = []
    for array in arrays:
        if array.ndim not in (2, 3) or not np.all(np.isfinite(array)):
            raise UsageError(f"--directions {path}: each array must be finite, (m, n) or (d, m, n)")
        out += list(array) if array.ndim == 3 else [array]
    if not out:
        raise UsageError(f"--directions {path}: no arrays")
    return out


def _directions_for(label: str, shape, given: list[np.ndarray] | None):
    """The user's directions of this shape, None for seeded random ones; InputError where none fit."""
    if given is None:
        return None
    fitting = [e for e in given if e.shape == shape]
    if not fitting:
        raise InputError(label, f"--directions has no array of shape {shape[0]}x{shape[1]}")
    return fitting


def _check_case(case: MatrixCase, mode, loss, backends, seed, zero_tol, given) -> ModeReport:
    if is_complex(case.array):
        raise InputError(case.label, f"--mode {mode} checks real matrices only")
    tol = zero_tol if zero_tol is not None else default_zero_tol(case.array.shape, case.array.dtype)
    directions = _directions_for(case.label, case.array.shape, given)
    return check_mode(case.array, case.label, loss, backends, mode, case.array.dtype, tol, seed, directions)


def _collect(cases, run: ModeRun, mode, loss, backends, seed, zero_tol, given) -> ModeRun:
    for case in cases:
        if isinstance(case, Skipped):
            continue
        if isinstance(case, InputError):
            run.errors.append(str(case))
            continue
        try:
            run.reports.append(_check_case(case, mode, loss, backends, seed, zero_tol, given))
        except InputError as exc:
            run.errors.append(str(exc))
    return run


def check_modes(
    array, mode: str, loss="sum", backends=None, dtype="auto", seed=0, zero_tol=None, directions=None
):
    """``check(array, mode="jvp"|"hvp")``: a ModeRun for one matrix or a stack (..., m, n)."""
    check_mode_name(mode)
    names = registry.resolve_backends(tuple(backends or ()))
    resolved = [registry.load_backend(name) for name in names]
    cases = matrices(LoadedArray("<array>", np.asarray(array)), dtype)
    return _collect(cases, ModeRun(mode), mode, parse_loss(loss), resolved, seed, zero_tol, directions)


def check_mode_paths(
    paths: list[str],
    settings,
    mode: str,
    directions_file: str | None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> ModeRun:
    """``svdgrad check --mode jvp|hvp PATHS``: every matrix of the paths, with ``settings``' loss,
    backends, dtype, seed and zero tolerance."""
    check_mode_name(mode)
    given = load_directions(directions_file) if directions_file else None
    names = registry.resolve_backends(settings.backends)
    resolved = [registry.load_backend(name) for name in names]
    files = collect_files(paths)
    cases = load_files(files.entries, settings.dtype, max_elements)
    loss = parse_loss(settings.loss)
    return _collect(cases, ModeRun(mode), mode, loss, resolved, settings.seed, settings.zero_tol, given)


def mode_failures(run: ModeRun, accept) -> list[str]:
    """``assert_gradients_ok(..., mode=)``: one line per path whose verdict is not in ``accept`` (an
    unsupported path counts only where its backend answered on no other path), and per input error."""
    lines = list(run.errors)
    for report in run.reports:
        answered = {
            r.backend for d in report.directions for r in d.results if r.verdict != BackendVerdict.UNSUPPORTED
        }
        for d in report.directions:
            for r in d.results:
                if r.verdict in accept or (r.verdict == BackendVerdict.UNSUPPORTED and r.backend in answered):
                    continue
                lines.append(
                    f"{report.label} E{d.index + 1}: {r.backend} {r.path} is {r.verdict} ({report.mode})"
                )
    return lines
