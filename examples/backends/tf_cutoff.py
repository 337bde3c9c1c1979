"""A TensorFlow SVD as a ``tf.custom_gradient`` that drops gap terms below a tolerance.

The pattern of MatrixAlgebraKit.jl's ``inv_safe`` and naver/roma's ``gradient_eps``: a reciprocal
1/(s_j^2 - s_i^2) whose denominator is below TOLERANCE (relative to s_1^2) is set to zero, as if the
two singular values were tied. Exact at a tie where the loss does not separate the pair; the whole
term is lost where it does.

    svdgrad check A.npy -b tensorflow:examples.backends.tf_cutoff:svd
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf

TOLERANCE = 1e-5


def _cut_inverse(x, limit):
    """1/x where |x| > limit, else 0 (no division by a small x is ever made)."""
    kept = tf.abs(x) > limit
    return tf.where(kept, 1.0 / tf.where(kept, x, tf.ones_like(x)), tf.zeros_like(x))


@tf.custom_gradient
def svd(a):
    """(S, U, V) of the thin SVD, as tf.linalg.svd(a) returns them."""
    s, u, v = tf.linalg.svd(a)

    def grad(gs, gu, gv):
        gs = tf.zeros_like(s) if gs is None else gs
        gu = tf.zeros_like(u) if gu is None else gu
        gv = tf.zeros_like(v) if gv is None else gv
        s2 = s * s
        k = tf.shape(s)[-1]
        limit = TOLERANCE * tf.reduce_max(s2, axis=-1, keepdims=True)[..., None]
        f = _cut_inverse(s2[..., None, :] - s2[..., :, None], limit) * (1 - tf.eye(k, dtype=s.dtype))
        ut_gu = tf.linalg.matmul(u, gu, transpose_a=True)
        vt_gv = tf.linalg.matmul(v, gv, transpose_a=True)
        inner = (f * (ut_gu - tf.linalg.matrix_transpose(ut_gu))) * s[..., None, :]
        inner = inner + s[..., :, None] * (f * (vt_gv - tf.linalg.matrix_transpose(vt_gv)))
        inner = inner + tf.linalg.diag(gs)
        result = u @ inner @ tf.linalg.matrix_transpose(v)
        m, n = a.shape[-2], a.shape[-1]
        inv_s = 1.0 / s
        if m > n:
            result = result + ((gu - u @ ut_gu) * inv_s[..., None, :]) @ tf.linalg.matrix_transpose(v)
        if n > m:
            vt = tf.linalg.matrix_transpose(v)
            gv_t = tf.linalg.matrix_transpose(gv)
            result = result + (u * inv_s[..., None, :]) @ (gv_t - tf.linalg.matrix_transpose(vt_gv) @ vt)
        return result

    return (s, u, v), grad
