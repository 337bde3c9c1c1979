"""--save-repro DIR: a matrix and a stand-alone script per finding, to attach to a framework bug report.

For every backend judged ``wrong`` or ``non-finite`` svdgrad writes ``<name>.npz`` (the matrix, the
float64 reference gradient and the loss constants) and ``<name>.py``, a script that needs only NumPy
and that framework: it makes the same SVD call as the backend, differentiates the loss's own
expression (losses.py), and prints how far the result is from the reference.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from svdgrad_cli import __version__
from svdgrad_cli.losses import parse_loss
from svdgrad_cli.model import MatrixReport

FINDINGS = ("wrong", "non-finite")

# How each backend computes thin factors and the gradient (the same calls as svdgrad_cli/backends).
PRELUDES = {
    "autograd": """\
import autograd.numpy as anp
from autograd import grad

ops = SimpleNamespace(const=lambda x: x, matmul=anp.matmul, t=lambda x: anp.swapaxes(x, -1, -2),
                      sum=lambda x, axes=None: anp.sum(x, axis=axes), sqrt=anp.sqrt)


def factors(a):
    if not NEEDS_VECTORS:
        return None, anp.linalg.svd(a, compute_uv=False), None
    u, s, vh = anp.linalg.svd(a, full_matrices=FULL_MATRICES)
    k = s.shape[-1]
    return u[..., :, :k], s, anp.swapaxes(vh, -1, -2)[..., :, :k]


def gradient(a):
    return grad(lambda x: loss(*factors(x)))(a)
""",
    "tensorflow": """\
import tensorflow as tf

ops = SimpleNamespace(const=tf.constant, matmul=tf.linalg.matmul, t=tf.linalg.matrix_transpose,
                      sum=lambda x, axes=None: tf.reduce_sum(x, axis=axes), sqrt=tf.sqrt)


def factors(x):
    if not NEEDS_VECTORS:
        return None, tf.linalg.svd(x, compute_uv=False), None
    s, u, v = tf.linalg.svd(x, full_matrices=FULL_MATRICES)
    k = s.shape[-1]
    return u[..., :, :k], s, v[..., :, :k]


def gradient(a):
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(*factors(x))
    return tape.gradient(value, x).numpy()
""",
    "torch": """\
import torch

ops = SimpleNamespace(const=torch.as_tensor, matmul=torch.matmul, t=lambda x: x.mT, sqrt=torch.sqrt,
                      sum=lambda x, axes=None: torch.sum(x) if axes is None else torch.sum(x, dim=axes))


def factors(x):
    if not NEEDS_VECTORS:
        return None, torch.linalg.svdvals(x), None
    u, s, vh = torch.linalg.svd(x, full_matrices=FULL_MATRICES)
    k = s.shape[-1]
    return u[..., :, :k], s, vh.mT[..., :, :k]


def gradient(a):
    x = torch.from_numpy(a.copy()).requires_grad_(True)
    loss(*factors(x)).backward()
    return x.grad.numpy()
""",
    "jax": """\
import jax

jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
ops = SimpleNamespace(const=jnp.asarray, matmul=jnp.matmul, t=lambda x: jnp.swapaxes(x, -1, -2),
                      sum=lambda x, axes=None: jnp.sum(x, axis=axes), sqrt=jnp.sqrt)


def factors(a):
    if not NEEDS_VECTORS:
        return None, jnp.linalg.svd(a, compute_uv=False), None
    u, s, vh = jnp.linalg.svd(a, full_matrices=FULL_MATRICES)
    k = s.shape[-1]
    return u[..., :, :k], s, jnp.swapaxes(vh, -1, -2)[..., :, :k]


def gradient(a):
    return np.asarray(jax.grad(lambda x: loss(*factors(x)))(jnp.asarray(a)))
""",
}

SCRIPT = '''\
"""svdgrad {version} reproducer: {backend} {backend_version}, loss {loss}, {label}: {verdict}.

{explanation}

Run it beside {npz}: python {script}
"""

from types import SimpleNamespace

import numpy as np

data = np.load("{npz}")
A = data["matrix"]
REFERENCE = data["reference_gradient"]
CONSTANTS = {{name: data[name] for name in {constant_names!r}}}
NEEDS_VECTORS = {needs_vectors!r}
FULL_MATRICES = {full_matrices!r}


def loss(u, s, v):
    """The loss exactly as svdgrad evaluates it in every backend."""
    names = {{name: ops.const(value.astype(A.dtype)) for name, value in CONSTANTS.items()}}
    return eval({expression!r}, {{"ops": ops, "u": u, "s": s, "v": v, **names}})


{prelude}

g = np.asarray(gradient(A), dtype=np.float64)
print("{backend} gradient:")
print(g)
print("non-finite entries:", int(np.sum(~np.isfinite(g))))
print("Frobenius distance to the float64 reference:", np.linalg.norm(g - REFERENCE))
'''


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
    findings = [b for b in report.backends if b.verdict in FINDINGS and b.name in PRELUDES]
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
        script.write_text(
            SCRIPT.format(
                version=__version__,
                backend=backend.name,
                backend_version=versions.get(backend.name) or "",
                loss=loss.name,
                label=report.label,
                verdict=backend.verdict,
                explanation=report.explanation.replace('"""', "'''"),
                npz=f"{stem}.npz",
                script=script.name,
                constant_names=tuple(constants),
                needs_vectors=loss.needs_vectors,
                full_matrices=full_matrices,
                expression=loss.expression,
                prelude=PRELUDES[backend.name],
            )
        )
        written.append(script)
    return written
