"""Losses of a real symmetric eigendecomposition A = Q diag(w) Q^T (``--decomposition eigh``, issue 27).

Eigenvalues w are in ascending order, as every framework's ``eigh`` returns them; each loss is one
expression in the ops namespace of losses.py (plus ``log``) that every backend evaluates on its own
framework's ``eigh`` output, as a user writes it:

- ``eigsum``   sum_i w_i = tr A                     a spectral function; gradient I
- ``eig:K``    w_K, the K-th smallest (1-based)     differentiable iff w_K is simple
- ``lowk:K``   w_1 + ... + w_K                      unique iff w_K < w_{K+1}, else a superdifferential
- ``topk:K``   w_{n-K+1} + ... + w_n                unique iff w_{n-K} < w_{n-K+1}, else a subdifferential
- ``logdet``   sum_i log w_i = log det A            spectral; defined for A positive definite
- ``entropy``  -sum_i w_i log w_i = -tr A log A     spectral (von Neumann); defined for A positive definite
- ``proj:K``   <C, Q_K Q_K^T>                       the projector onto the K lowest eigenvectors (the
                                                    density matrix of K occupied states): defined iff
                                                    w_K < w_{K+1}
- ``expm``     <C, Q diag(e^w) Q^T> = <C, exp(A)>   a matrix function through eigh, as users write it:
                                                    smooth everywhere, ties included (Daleckii-Krein)
- ``vec``      sum_i d_i q_i^T B q_i = <B, Q diag(d) Q^T>  depends on each eigenvector (sign-gauge
                                                    invariant): defined iff every eigenvalue is simple
- ``wq``       the user's cotangents C_w = dL/dw, C_Q = dL/dQ (``--cotangents``; drawn without it):
                                                    differentiated as the gauge-invariant loss with
                                                    those cotangents (eigh_cotangent.py), defined iff
                                                    they do not depend on the gauge of eigh

C, B (their symmetric parts are what a loss on symmetric A reads) and d are drawn from ``--seed``
once per shape, or given (``--cotangents``: ``given``; under ``wq`` an array not given is zero).
The spectral functions tr f(A) have the gradient f'(A) = Q diag(f'(w)) Q^T even at ties (Lewis
1996); see eigh_reference.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.field import adjoint, standard_normal
from svdgrad_cli.numerics.losses import given_weight, whole_number

EIGH_LOSS_HELP = "eigsum | eig:K | lowk:K | topk:K | logdet | entropy | expm | proj:K | vec | wq"
SPECTRAL = ("eigsum", "logdet", "entropy")  # tr f(A) with f smooth on the spectrum
ORDERED = ("eig", "lowk", "topk", "proj")  # kinds that take K
VECTORS = ("proj", "vec", "expm")  # kinds that read the eigenvectors
EIGH_WEIGHT_STREAM = 0x27  # their weights are drawn from default_rng((seed, EIGH_WEIGHT_STREAM))
REAL_WEIGHTS = ("d", "C_w")  # weights of the (real) eigenvalues: real on Hermitian A too

FIXED_EXPRESSIONS = {
    "eigsum": "ops.sum(w)",
    "logdet": "ops.sum(ops.log(w))",
    "entropy": "-ops.sum(w * ops.log(w))",
    "expm": "ops.sum(C * ops.matmul(q * ops.exp(w)[..., None, :], ops.t(q)))",
    "vec": "ops.sum(ops.sum(q * ops.matmul(B, q), axes=-2) * d)",
    "wq": "ops.sum(C_w * w)",  # + EIGENVECTOR_COTANGENT where C_Q is given
}
# sum_C Re <C_Q[:, C], P_C R_C>, P_C = Q_C Q_C^H (S masks the clusters): eigh_cotangent.py
EIGENVECTOR_COTANGENT = {
    False: " + ops.sum(S * ops.matmul(ops.t(C_Q), q) * ops.t(ops.matmul(ops.t(q), R)))",
    True: " + ops.sum(ops.real(S * ops.matmul(ops.conj(ops.t(C_Q)), q) * ops.t(ops.matmul(QH, R))))",
}
# Complex Hermitian A (A = Q diag(w) Q^H, w real): the losses of Q are real parts with adjoints.
COMPLEX_EXPRESSIONS = {
    "expm": "ops.sum(ops.real(ops.conj(C) * ops.matmul(q * ops.cplx(ops.exp(w))[..., None, :], QH)))",
    "vec": "ops.sum(ops.real(ops.sum(ops.conj(q) * ops.matmul(B, q), axes=-2)) * d)",
    "proj": "ops.sum(ops.real(ops.conj(C) * ops.matmul(q[..., :, :K], ops.conj(ops.t(q[..., :, :K])))))",
}
ORDERED_EXPRESSIONS = {
    "eig": "ops.sum(w[..., K - 1])",
    "lowk": "ops.sum(w[..., :K])",
    "topk": "ops.sum(w[..., -K:])",
    "proj": "ops.sum(C * ops.matmul(q[..., :, :K], ops.t(q[..., :, :K])))",
}


@dataclass(frozen=True, eq=False)
class EighLoss:
    """A loss of (w, Q), with its weights once bound to a matrix size."""

    kind: str
    order: int | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    on_complex: bool = False  # bound to Hermitian matrices: complex weights, real parts, adjoints
    given: dict[str, np.ndarray] | None = None  # the user's weights (--cotangents), used by ``bind``

    @property
    def name(self) -> str:
        return self.kind if self.order is None else f"{self.kind}:{self.order}"

    @property
    def needs_vectors(self) -> bool:
        return self.kind in VECTORS or "C_Q" in self.arrays

    def check_fits(self, n: int) -> str | None:
        """Why the loss cannot be applied to an n x n matrix (K too large), or None."""
        if self.order is not None and self.order > n:
            return f"loss {self.name} needs at least {self.order} eigenvalues; the matrix has {n}"
        return None

    def weight_shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        """The name and shape of each weight of the loss on n x n matrices."""
        square = (n, n)
        shapes = {"vec": {"B": square, "d": (n,)}, "wq": {"C_w": (n,), "C_Q": square}}
        return shapes.get(self.kind, {"C": square} if self.kind in ("proj", "expm") else {})

    def bind(self, n: int, seed: int, on_complex: bool = False) -> EighLoss:
        """The loss with its weights for n x n matrices (complex C, B, C_Q ``on_complex``): the
        ``given`` ones (a UsageError where one does not fit), the others drawn from ``seed``."""
        rng = np.random.default_rng((seed, EIGH_WEIGHT_STREAM, n))
        arrays = {}
        for key, shape in self.weight_shapes(n).items():
            complex_ = on_complex and key not in REAL_WEIGHTS
            drawn = standard_normal(rng, shape, complex_)  # drawn always: one stream, given or not
            if self.given is not None and key in self.given:
                where = f"loss {self.name} on a {n}x{n} matrix"
                real = "eigenvalues are" if key in REAL_WEIGHTS else "the matrices are"
                arrays[key] = given_weight(key, self.given[key], shape, where, complex_, real)
            elif self.given is None or self.kind != "wq":
                arrays[key] = drawn
            elif key == "C_w":  # not given: zero (C_Q not given: no eigenvectors, as eigvalsh users)
                arrays[key] = np.zeros(shape)
        return EighLoss(self.kind, self.order, arrays, on_complex)

    @property
    def expression(self) -> str:
        """The loss over a stack of eigenvalues w (..., n) and eigenvectors q (..., n, n)."""
        if self.kind == "wq":
            vectors = EIGENVECTOR_COTANGENT[self.on_complex] if "C_Q" in self.arrays else ""
            return FIXED_EXPRESSIONS["wq"] + vectors.replace("QH", "ops.conj(ops.t(q))")
        if self.on_complex and self.kind in COMPLEX_EXPRESSIONS:
            text = COMPLEX_EXPRESSIONS[self.kind].replace("QH", "ops.conj(ops.t(q))")
        else:
            text = FIXED_EXPRESSIONS[self.kind] if self.order is None else ORDERED_EXPRESSIONS[self.kind]
        if self.order is None:
            return text
        return text.replace("K - 1", str(self.order - 1)).replace("K", str(self.order))

    def constants(self) -> dict[str, np.ndarray]:
        return dict(self.arrays)

    def weight_matrix(self) -> np.ndarray:
        """The Hermitian part of C (proj:K, expm) or B (vec): what the loss reads of it on Hermitian A."""
        c = self.arrays["B" if self.kind == "vec" else "C"]
        return (c + adjoint(c)) / 2

    def vector_weights(self, w: np.ndarray) -> np.ndarray:
        """d such that the loss is <weight_matrix, Q diag(d) Q^T>: d for vec, the indicator of the K
        lowest for proj:K, e^w for expm."""
        n = len(w)
        if self.kind == "expm":
            return np.exp(w)
        if self.kind == "vec":
            return self.arrays["d"]
        return (np.arange(n) < (self.order or 0)).astype(float)


def parse_eigh_loss(spec: str) -> EighLoss:
    """A ``--loss`` value under ``--decomposition eigh``, or a UsageError naming what is accepted."""
    kind, sep, arg = spec.strip().lower().partition(":")
    if kind in ORDERED:
        order = whole_number(arg) if sep else None
        if order is None or order < 1:
            raise UsageError(f"loss {spec!r}: K must be a whole number >= 1 (e.g. {kind}:2)")
        return EighLoss(kind, order)
    if not sep and kind in FIXED_EXPRESSIONS:
        return EighLoss(kind)
    raise UsageError(f"unknown loss {spec!r} for --decomposition eigh; expected one of: {EIGH_LOSS_HELP}")
