"""Entry points of ``--mode jvp|hvp`` (issue 25): matrices from arrays or paths, directions, and the
run's verdicts and exit code. The ``vjp`` mode is the rest of the pipeline (run.py, stream.py).

``--mode`` selects a Target (numerics/differentiated.py) whose DerivativeMode is JVP or HVP; a
:class:`ModeCheck` judges each matrix in it. ``check(..., mode=...)`` calls ``check_modes``;
``svdgrad check --mode`` (mode_session.py) runs the same ModeCheck through the one run loop.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from svdgrad_cli.backends import registry
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.inputs.arrays import LoadedArray, Skipped
from svdgrad_cli.inputs.discovery import FileList
from svdgrad_cli.inputs.loading import load_files, matrices
from svdgrad_cli.mode_model import ModeReport, ModeRun
from svdgrad_cli.numerics.differentiated import DerivativeMode, Target
from svdgrad_cli.numerics.field import is_complex
from svdgrad_cli.numerics.losses import SpectralLoss, VectorLoss, parse_loss
from svdgrad_cli.numerics.spectrum import default_zero_tol
from svdgrad_cli.pipeline.modes import check_mode
from svdgrad_cli.verdicts import BackendVerdict


def mode_target(mode: str) -> Target:
    """The Target ``--mode`` selects (numerics/differentiated.py); a UsageError for an unknown mode."""
    try:
        return Target(mode=DerivativeMode(mode))
    except ValueError:
        known = " | ".join(m.value for m in DerivativeMode)
        raise UsageError(f"unknown mode {mode!r}; expected one of: {known}") from None


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


def _ignore(line: str) -> None:
    return None


@dataclass(frozen=True)
class ModeCheck:
    """How each matrix of a run is judged in the mode of ``target``: the loss, the backends, the seed,
    the zero tolerance (None: each matrix's default) and the directions (None: seeded ones)."""

    target: Target
    loss: SpectralLoss | VectorLoss
    backends: list
    seed: int = 0
    zero_tol: float | None = None
    given: list[np.ndarray] | None = None
    timeout: float | None = None  # seconds a plug-in's path may take (contained.py)

    @classmethod
    def resolve(
        cls, target: Target, loss: str, backends, seed=0, zero_tol=None, given=None, timeout=None
    ) -> ModeCheck:
        """The check of backend names or specs (the defaults where none) and a loss's text (the start
        of a run: the plug-in workers' restarts are counted anew)."""
        registry.end_run()
        names = registry.resolve_backends(tuple(backends or ()))
        resolved = [registry.load_backend(name) for name in names]
        return cls(target, parse_loss(loss), resolved, seed, zero_tol, given, timeout)

    def judge(self, array: np.ndarray, label: str) -> ModeReport:
        """One real matrix's report; InputError for a complex one, one too small for the loss's K or
        with no direction of its shape."""
        mode = self.target.mode
        if is_complex(array):
            raise InputError(label, f"complex input is not supported in --mode {mode} (real matrices only)")
        if (misfit := self.loss.check_fits(array.shape[-2:])) is not None:
            raise InputError(label, misfit)
        tol = self.zero_tol if self.zero_tol is not None else default_zero_tol(array.shape, array.dtype)
        directions = _directions_for(label, array.shape, self.given)
        return check_mode(
            array,
            label,
            self.loss,
            self.backends,
            mode,
            array.dtype,
            tol,
            self.seed,
            directions,
            self.timeout,
        )

    def record(self, item, run: ModeRun, notify: Callable[[str], None] = _ignore) -> ModeReport | None:
        """A loaded item judged into ``run`` (judged_into)."""
        return judged_into(run, item, lambda case: self.judge(case.array, case.label), notify)


def judged_into(run, item, judge: Callable, notify: Callable[[str], None]):
    """A loaded item (a MatrixCase, an InputError, a Skipped) judged into ``run`` by ``judge(case)``:
    its report, or None where there is none (an input error is told through ``notify`` and kept in
    ``run.errors``: exit 2, the other files still checked)."""
    if isinstance(item, Skipped):
        return None
    try:
        if isinstance(item, InputError):
            raise item
        report = judge(item)
    except InputError as exc:
        run.errors.append(str(exc))
        notify(str(exc))
        return None
    run.reports.append(report)
    return report


def check_modes(
    array, mode: str, loss="sum", backends=None, dtype="auto", seed=0, zero_tol=None, directions=None
) -> ModeRun:
    """``check(array, mode="jvp"|"hvp")``: a ModeRun for one matrix or a stack (..., m, n)."""
    target = mode_target(mode)
    check = ModeCheck.resolve(target, loss, backends, seed, zero_tol, directions)
    run = ModeRun(target.mode)
    for case in matrices(LoadedArray("<array>", np.asarray(array)), dtype):
        check.record(case, run)
    return run


def path_cases(files: FileList, s, max_elements: int, on_file=None) -> Iterator:
    """Every matrix of ``files`` as loaded (MatrixCase, InputError or Skipped: the settings'
    --select, --skip, --reshape, --max-matrices), after the files passed over, lazily."""
    yield from files.skipped
    yield from load_files(
        files.entries, s.dtype, max_elements, on_file, s.select, s.skip, s.reshape, None, s.max_matrices
    )


def mode_failures(run: ModeRun, accept) -> list[str]:
    """``assert_gradients_ok(..., mode=)``: one line per path whose verdict is not in ``accept`` (an
    unsupported path counts only where its backend answered on no other path), and per input error."""
    lines = list(run.errors)
    for report in run.reports:
        answered = report.answered
        for d, r in report.rows():
            if r.verdict in accept or (r.verdict == BackendVerdict.UNSUPPORTED and r.backend in answered):
                continue
            lines.append(
                f"{report.label} E{d.index + 1}: {r.backend} {r.path} is {r.verdict} ({report.mode})"
            )
    return lines
