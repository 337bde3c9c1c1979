"""--save-repro DIR: a matrix and a stand-alone script per finding, to attach to a framework bug report.

For every backend judged ``wrong`` or ``non-finite`` svdgrad writes ``<name>.npz`` (the matrix, the
float64 reference gradient and the loss constants) and ``<name>.py``, a script that needs only NumPy
and that framework: it carries the backend's own SVD call and differentiation (their source, so the
script cannot drift from what svdgrad ran), evaluates the loss's own expression (losses.py), and prints
how far the result is from the reference.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from svdgrad_cli._version import __version__
from svdgrad_cli.backends import registry
from svdgrad_cli.model import MatrixReport
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.pipeline.explain import REPORT_UPSTREAM

SCRIPT = '''\
"""svdgrad {version} reproducer: {backend} {backend_version}, loss {loss}, {label}: {verdict}.

{explanation}

Run it beside {npz}: python {script}
The SVD call, the ops and the differentiation below are svdgrad's {backend} backend, verbatim.
"""

import functools
import os
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np

data = np.load(Path(__file__).with_name("{npz}"))  # beside this script, wherever it is run from
A = data["matrix"]
REFERENCE = data["reference_gradient"]
CONSTANTS = {{name: data[name] for name in {constant_names!r}}}
NEEDS_VECTORS = {needs_vectors!r}
FULL_MATRICES = {full_matrices!r}
EXPRESSION = {expression!r}  # the loss, exactly as svdgrad evaluates it in every backend


{backend_source}

ops = framework_ops()


def objective(x, constants):
    u, s, v = thin_factors(x, NEEDS_VECTORS, FULL_MATRICES)
    return eval(EXPRESSION, {{"ops": ops, "u": u, "s": s, "v": v, **constants}}), (s, u, v)


constants = {{name: ops.const(value.astype(A.dtype)) for name, value in CONSTANTS.items()}}
_, g, _, _ = differentiate(A[None], objective, constants)  # a stack of one matrix, as svdgrad calls it
g = np.asarray(g[0], dtype=np.float64)
print("{backend} gradient:")
print(g)
print("non-finite entries:", int(np.sum(~np.isfinite(g))))
print("Frobenius distance to the float64 reference:", np.linalg.norm(g - REFERENCE))
'''


def _backend_source(name: str) -> str:
    """The source of the functions a built-in backend runs (its SCRIPT_FUNCTIONS), for a script."""
    module = registry.BUILTIN[name].module
    return "\n\n".join(inspect.getsource(getattr(module, function)) for function in module.SCRIPT_FUNCTIONS)


def _file_stem(report: MatrixReport, backend: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{report.label}-{backend}").strip("_")


def write_reproducers(
    report: MatrixReport,
    loss_spec: str,
    directory: Path,
    versions: dict[str, str | None],
    full_matrices: bool,
) -> list[Path]:
    """Write the .npz and .py of each finding of one matrix; return the scripts written.

    The report must still hold its arrays (the matrix and the reference gradient).
    """
    findings = [b for b in report.backends if b.verdict.is_finding and b.name in registry.BUILTIN]
    if not findings or report.matrix is None or report.reference is None or report.reference.gradient is None:
        return []
    matrix = report.matrix
    loss = parse_loss(loss_spec)
    if loss.needs_vectors:
        loss = replace(loss, arrays=report.loss_weights)
    directory.mkdir(parents=True, exist_ok=True)
    constants = loss.constants(min(matrix.shape))
    written = []
    for backend in findings:
        stem = _file_stem(report, backend.name)
        np.savez(
            directory / f"{stem}.npz",
            matrix=matrix,
            reference_gradient=report.reference.gradient,
            **constants,
        )
        script = directory / f"{stem}.py"
        source = _backend_source(backend.name)
        script.write_text(
            SCRIPT.format(
                version=__version__,
                backend=backend.name,
                backend_version=versions.get(backend.name) or "",
                loss=loss.name,
                label=report.label,
                verdict=backend.verdict,
                explanation=report.explanation.replace(" " + REPORT_UPSTREAM, "").replace('"""', "'''"),
                npz=f"{stem}.npz",
                script=script.name,
                constant_names=tuple(constants),
                needs_vectors=loss.needs_vectors,
                full_matrices=full_matrices,
                expression=loss.expression,
                backend_source=source,
            )
        )
        written.append(script)
    return written
