"""Baseline: the two framework calls svdgrad makes, written by hand, matrix by matrix (imports once)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import autograd.numpy as anp
import numpy as np
import tensorflow as tf
from autograd import grad


def autograd_gradient(a):
    return grad(lambda x: anp.sum(anp.linalg.svd(x, compute_uv=False)))(a)


def tensorflow_gradient(a):
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.reduce_sum(tf.linalg.svd(x, compute_uv=False))
    return tape.gradient(value, x).numpy()


for path in sys.argv[1:]:
    files = sorted(Path(path).glob("*.npy")) if Path(path).is_dir() else [Path(path)]
    for file in files:
        array = np.load(file)
        for matrix in array.reshape(-1, *array.shape[-2:]):
            autograd_gradient(matrix)
            tensorflow_gradient(matrix)
