"""The TensorFlow backend: tf.linalg.svd under tf.GradientTape, as a TF 2 user writes it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from types import SimpleNamespace

# A real loss of complex input: whether the framework's gradient is the conjugate of svdgrad's
# steepest-ascent convention (numerics/field.py), and why (docs/theory.md §9).
CONJUGATES_COMPLEX_GRADIENT = False
COMPLEX_GRADIENT = "tf.GradientTape gives dL/dRe A + i dL/dIm A for a real loss (measured: the same as torch)"
SCRIPT_FUNCTIONS = ("stderr_silenced", "framework", "framework_ops", "thin_factors", "differentiate")
# How a reproducer script (repro.py) writes the loss in TensorFlow's own calls: the line that binds
# the framework's name, and each op of the ops namespace of losses.py as a template (X, Y: the operands;
# AXES: the axes keyword, dropped where the loss gives none). Pure data: the functions below are the
# ones svdgrad runs.
SCRIPT_FRAMEWORK = "tf = framework()"
SCRIPT_OPS = {
    "const": "tf.constant(X)",
    "matmul": "tf.linalg.matmul(X, Y)",
    "t": "tf.linalg.matrix_transpose(X)",
    "sum": "tf.reduce_sum(X, axis=AXES)",
    "sqrt": "tf.sqrt(X)",
    "real": "tf.math.real(X)",
    "imag": "tf.math.imag(X)",
    "conj": "tf.math.conj(X)",
    "cplx": "tf.complex(X, tf.zeros_like(X))",
}


@contextmanager
def stderr_silenced():
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up lines bypass Python logging."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def framework():
    """TensorFlow, imported with its C++ start-up lines silenced (a no-op once imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_silenced():
        import tensorflow

    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


def framework_ops():
    tf = framework()
    return SimpleNamespace(
        const=tf.constant,
        matmul=tf.linalg.matmul,
        t=tf.linalg.matrix_transpose,
        sum=lambda x, axes=None: tf.reduce_sum(x, axis=axes),
        sqrt=tf.sqrt,
        real=tf.math.real,
        imag=tf.math.imag,
        conj=tf.math.conj,
        cplx=lambda x: tf.complex(x, tf.zeros_like(x)),
    )


def thin_factors(a, needs_vectors, full_matrices):
    """tf.linalg.svd(x, compute_uv=False) for losses of s; else U, s, V with the first k columns."""
    tf = framework()
    if not needs_vectors:
        return None, tf.linalg.svd(a, compute_uv=False), None
    s, u, v = tf.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return u[..., :, :k], s, v[..., :, :k]


def differentiate(stack, objective, constants):
    tf = framework()
    x = tf.constant(stack)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss, factors = objective(x, constants)
    s, u, v = (None if f is None else f.numpy() for f in factors)
    return s, tape.gradient(loss, x).numpy(), u, v
