"""Baseline for a shell loop: the seed post's script, one process per file (both frameworks)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import autograd.numpy as np
import tensorflow as tf
from autograd import elementwise_grad as egrad

w = np.load(sys.argv[1])
print(egrad(lambda a: np.linalg.svd(a, compute_uv=False))(w))
x = tf.convert_to_tensor(w)
with tf.GradientTape() as tape:
    tape.watch(x)
    s = tf.linalg.svd(x, compute_uv=False)
print(tape.gradient(s, x))
