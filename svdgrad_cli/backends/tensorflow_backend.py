"""The TensorFlow backend: tf.linalg.svd under tf.GradientTape, as a TF 2 user writes it."""

from __future__ import annotations

import os
from contextlib import contextmanager

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


def compute(stack: np.ndarray, loss) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and d loss / d A for every matrix of a (b, m, n) stack."""
    tf = _tensorflow()
    x = tf.constant(stack)
    weights = tf.constant(loss.weights(min(stack.shape[-2:])), dtype=x.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = tf.linalg.svd(x, compute_uv=False)
        value = tf.reduce_sum(s * weights)
    gradient = tape.gradient(value, x)
    return s.numpy(), gradient.numpy()
