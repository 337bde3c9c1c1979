"""Baseline: a user's loop over matrices calling each framework's SVD gradient of sum(s) in turn.

    python naive_loop.py PATH... [--frameworks autograd,tensorflow,torch,jax]

Imports happen once; each matrix is a separate call per framework, JAX eagerly (no jit), as a user's
loop would be written. Paths are .npy files or folders of them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def autograd_gradient():
    import autograd.numpy as anp
    from autograd import grad

    return grad(lambda x: anp.sum(anp.linalg.svd(x, compute_uv=False)))


def tensorflow_gradient():
    import tensorflow as tf

    def gradient(a):
        x = tf.constant(a)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(tf.linalg.svd(x, compute_uv=False))
        return tape.gradient(value, x).numpy()

    return gradient


def torch_gradient():
    import torch

    def gradient(a):
        x = torch.tensor(a, requires_grad=True)
        torch.linalg.svdvals(x).sum().backward()
        return x.grad.numpy()

    return gradient


def jax_gradient():
    import jax

    jax.config.update("jax_enable_x64", True)
    grad = jax.grad(lambda x: jax.numpy.sum(jax.numpy.linalg.svd(x, compute_uv=False)))
    return lambda a: np.asarray(grad(a))


MAKERS = {"autograd": autograd_gradient, "tensorflow": tensorflow_gradient, "torch": torch_gradient}
MAKERS["jax"] = jax_gradient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--frameworks", default="autograd,tensorflow,torch,jax")
    args = parser.parse_args()
    gradients = [MAKERS[name]() for name in args.frameworks.split(",")]
    for path in args.paths:
        files = sorted(Path(path).glob("*.npy")) if Path(path).is_dir() else [Path(path)]
        for file in files:
            array = np.load(file)
            for matrix in array.reshape(-1, *array.shape[-2:]):
                for gradient in gradients:
                    gradient(matrix)


if __name__ == "__main__":
    main()
