"""The TensorFlow backend: tf.linalg.svd under tf.GradientTape, as a TF 2 user writes it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np

_tf = None


@contextmanager
def _stderr_silenced():
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up lines bypass Python logging."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _tensorflow():
    global _tf
    if _tf is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _stderr_silenced():
            import tensorflow

        tensorflow.get_logger().setLevel("ERROR")
        _tf = tensorflow
    return _tf


def version() -> str:
    return _tensorflow().__version__


def compute(stack: np.ndarray, loss, full_matrices: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack.

    Losses of s use ``tf.linalg.svd(x, compute_uv=False)``; losses of U and V use
    ``tf.linalg.svd(x, full_matrices=full_matrices)`` and keep the first k columns.
    """
    tf = _tensorflow()
    ops = SimpleNamespace(
        const=tf.constant,
        matmul=tf.linalg.matmul,
        t=tf.linalg.matrix_transpose,
        sum=lambda x, axes=None: tf.reduce_sum(x, axis=axes),
        sqrt=tf.sqrt,
    )
    x = tf.constant(stack)
    with tf.GradientTape() as tape:
        tape.watch(x)
        if loss.needs_vectors:
            s, u, v = tf.linalg.svd(x, full_matrices=full_matrices)
            k = s.shape[-1]
            u, v = u[..., :, :k], v[..., :, :k]
        else:
            s = tf.linalg.svd(x, compute_uv=False)
            u = v = None
        value = loss.evaluate(ops, u, s, v)
    gradient = tape.gradient(value, x)
    return s.numpy(), gradient.numpy()
