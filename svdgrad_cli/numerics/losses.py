"""Losses: parsing ``--loss``, one definition evaluated identically in every framework, and cotangents.

Each loss is one expression written against a tiny ``ops`` namespace (const, matmul, t, sum, sqrt) that
every backend provides for its own framework, so autograd, TensorFlow, torch and JAX differentiate
exactly the same text, the float64 reference evaluates it with NumPy (``NUMPY_OPS``), and a reproducer
script (repro.py) carries it verbatim.

Losses of the singular values, linear in the sorted values, L(A) = sum_i w_i s_i(A):

- ``sum``     w = (1, ..., 1)             the nuclear norm (what the seed post's elementwise_grad takes)
- ``sv:K``    w = e_K                     the K-th largest singular value (1-based)
- ``topk:K``  w = (1, ..., 1, 0, ..., 0)  the sum of the K largest (the Ky Fan K-norm)

Losses of the singular vectors (thin U, V; weights drawn once from ``--seed``):

- ``polar``   <C, U V^T>                  the orthogonal polar factor; well defined iff full rank
- ``recon``   ||U diag(s) V^T||_F         equals ||A||_F; always well defined, gradient A / ||A||_F
- ``proj:K``  <C, U_K U_K^T>              the top-K left subspace; well defined iff s_K > s_{K+1}
- ``uv``      <C_U, U> + <C_V, V>         depends on the sign of each pair (u_i, v_i): ill defined
                                          (a user's --cotangents: uv_cotangent.py says where not)
- ``polar:K`` <C, U_K V_K^T>              the polar factor of the best rank-K approximation
- ``recon:K`` ||U_K S_K V_K^T||_F         the best rank-K approximation's norm (truncated.py)

A loss depends on its ``triplets`` leading singular triplets only (K for sv:K, topk:K, proj:K, polar:K,
recon:K; all of them otherwise): a backend that returns fewer cannot evaluate it (truncated SVDs).

On complex input (docs/theory.md §9) the losses of s are unchanged (s is real); the others are real
parts with the adjoint, <X, Y> = Re sum conj(X) Y and V^H for V^T, their weights complex: polar is
Re <C, U V^H>, proj:K Re <C, U_K U_K^H>, recon ||U diag(s) V^H||_F, and uv depends on the phase
e^{i phi} of each pair (u_i, v_i), not only its sign. The expressions use four more ops: real, imag,
conj and cplx (a real tensor as complex, for the products with s that TensorFlow will not mix).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.field import adjoint, is_complex, standard_normal
from svdgrad_cli.numerics.norms import frobenius

LOSS_HELP = "sum | sv:K | topk:K | polar[:K] | recon[:K] | proj:K | uv"
SPECTRAL_KINDS = ("sum", "sv", "topk")
VECTOR_KINDS = ("polar", "recon", "proj", "uv")
WITH_ORDER = ("sv", "topk", "proj")
OPTIONAL_ORDER = ("polar", "recon")  # truncated forms polar:K, recon:K (truncated.py)
WEIGHT_STREAM = 0x5D6  # the weights of U/V losses are drawn from default_rng((seed, WEIGHT_STREAM))

NUMPY_OPS = SimpleNamespace(
    const=np.asarray,
    matmul=np.matmul,
    t=lambda x: np.swapaxes(x, -1, -2),
    sum=lambda x, axes=None: np.sum(x, axis=axes),
    sqrt=np.sqrt,
    real=np.real,
    imag=np.imag,
    conj=np.conj,
    cplx=lambda x: x + 0j,
)
# The expressions of the losses of U and V, by field: one text for every framework and the reference.
REAL_EXPRESSIONS = {
    "polar": "ops.sum(C * ops.matmul(u, ops.t(v)))",
    "recon": "ops.sum(ops.sqrt(ops.sum(ops.matmul(u * s[..., None, :], ops.t(v)) ** 2, axes=(-2, -1))))",
    "proj": "ops.sum(C * ops.matmul(TOP, ops.t(TOP)))",
    "uv": "ops.sum(C_U * u) + ops.sum(C_V * v)",
}
COMPLEX_EXPRESSIONS = {
    "polar": "ops.sum(ops.real(ops.conj(C) * ops.matmul(u, ops.conj(ops.t(v)))))",
    "recon": "ops.sum(ops.sqrt(ops.sum(ops.real(X) ** 2 + ops.imag(X) ** 2, axes=(-2, -1))))".replace(
        "X", "ops.matmul(u * ops.cplx(s)[..., None, :], ops.conj(ops.t(v)))"
    ),
    "proj": "ops.sum(ops.real(ops.conj(C) * ops.matmul(TOP, ops.conj(ops.t(TOP)))))",
    "uv": "ops.sum(ops.real(ops.conj(C_U) * u)) + ops.sum(ops.real(ops.conj(C_V) * v))",
}


def order_of(loss: SpectralLoss | VectorLoss) -> int:
    """K of sv:K, topk:K and proj:K (ValueError for a loss that has none)."""
    if loss.order is None:
        raise ValueError(f"loss {loss.name} has no K")
    return loss.order


def _triplets(loss, shape: tuple[int, int]) -> int:
    """How many leading singular triplets the loss depends on: K where it has one, else all."""
    return loss.order if loss.order is not None else min(shape)


def _order_fits(loss, shape: tuple[int, int]) -> str | None:
    """Why ``loss`` cannot be applied to a matrix of ``shape`` (K too large), or None if it can."""
    if loss.order is not None and loss.order > min(shape):
        return f"loss {loss.name} needs at least {loss.order} singular values; the matrix has {min(shape)}"
    return None


@dataclass(frozen=True)
class SpectralLoss:
    """A loss sum_i w_i s_i of the singular values in decreasing order."""

    kind: str  # "sum", "sv" or "topk"
    order: int | None = None  # K for sv:K and topk:K
    needs_vectors = False
    gradient_degree = 0  # G(cA) = c**degree G(A) for c > 0: the loss is homogeneous of degree 1

    @property
    def name(self) -> str:
        return self.kind if self.order is None else f"{self.kind}:{self.order}"

    @property
    def convex(self) -> bool:
        """sum and topk:K are norms (convex); sv:K for K > 1 is only Lipschitz."""
        return self.kind != "sv" or self.order == 1

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return {}

    def check_fits(self, shape: tuple[int, int]) -> str | None:
        return _order_fits(self, shape)

    def triplets(self, shape: tuple[int, int]) -> int:
        return _triplets(self, shape)

    def weight_shapes(self, shape: tuple[int, int]) -> dict[str, tuple[int, int]]:
        return {}

    def separates(self, i: int, j: int, k: int) -> bool:
        """Whether the loss tells s_i from s_j (0-based): its gradient then turns with their gap."""
        w = self.weights(k)
        return bool(w[i] != w[j])

    def bind(self, shape: tuple[int, int], seed: int, given=None, on_complex: bool = False) -> SpectralLoss:
        return self

    def weights(self, k: int) -> np.ndarray:
        """The weight vector w (length k) such that the loss is sum(w * s)."""
        w = np.zeros(k)
        if self.kind == "sum":
            w[:] = 1.0
        elif self.kind == "sv":
            w[order_of(self) - 1] = 1.0
        else:
            w[: self.order] = 1.0
        return w

    @property
    def expression(self) -> str:
        """sum(s * w), over the first K values for sv:K and topk:K (a truncated SVD has only those)."""
        return "ops.sum(s * w)" if self.order is None else f"ops.sum(s[..., :{self.order}] * w)"

    def constants(self, k: int) -> dict[str, np.ndarray]:
        """The arrays the expression names besides u, s and v."""
        return {"w": self.weights(k)[: self.order]}

    def evaluate(self, ops, u, s, v):
        """The total loss over a stack (u and v unused): ``expression`` in ``ops``."""
        return _evaluate(self, ops, u, s, v)


@dataclass(frozen=True, eq=False)
class VectorLoss:
    """A loss of U (m x k), s and V (n x k), with its weight matrices once bound to a shape."""

    kind: str  # "polar", "recon", "proj" or "uv"
    order: int | None = None  # K for proj:K
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    on_complex: bool = False  # bound to complex matrices: complex weights, real parts, adjoints
    needs_vectors = True
    convex = False

    @property
    def name(self) -> str:
        return self.kind if self.order is None else f"{self.kind}:{self.order}"

    def check_fits(self, shape: tuple[int, int]) -> str | None:
        return _order_fits(self, shape)

    def triplets(self, shape: tuple[int, int]) -> int:
        return _triplets(self, shape)

    def separates(self, i: int, j: int, k: int) -> bool:
        """Whether the loss tells s_i from s_j (0-based, i < j): proj:K, polar:K and recon:K across K;
        uv, which depends on every basis; never the polar factor or ||A||_F, smooth through ties."""
        if self.order is not None:
            return i < self.order <= j
        return self.kind == "uv"

    @property
    def gradient_degree(self) -> int:
        """G(cA) = c**degree G(A) for c > 0: recon is homogeneous of degree 1, the others of degree 0."""
        return 0 if self.kind == "recon" else -1

    @property
    def zero_ball_radius(self) -> float | None:
        """recon is ||A||_F, a norm: at A = 0 its subdifferential is the unit Frobenius ball."""
        return 1.0 if self.kind == "recon" and self.order is None else None

    def weight_shapes(self, shape: tuple[int, int]) -> dict[str, tuple[int, int]]:
        """The name and shape of each weight array of the loss for a matrix of ``shape``."""
        m, n = shape
        k = min(shape)
        return {
            "polar": {"C": (m, n)},
            "recon": {},
            "proj": {"C": (m, m)},
            "uv": {"C_U": (m, k), "C_V": (n, k)},
        }[self.kind]

    def bind(
        self,
        shape: tuple[int, int],
        seed: int,
        given: dict[str, np.ndarray] | None = None,
        on_complex: bool = False,
    ) -> VectorLoss:
        """The same loss with its weights for ``shape`` (complex ones ``on_complex``): the ``given``
        arrays (a user's cotangents; one they leave out is zero, as a model that does not read V has
        C_V = 0), else drawn from a generator seeded by ``seed``. A given array of another shape, or
        a complex one for real matrices, is a UsageError."""
        rng = np.random.default_rng((seed, WEIGHT_STREAM))  # not the stream of default_rng(seed) matrices
        arrays = {}
        for key, size in self.weight_shapes(shape).items():
            if given and key in given:
                where = f"loss {self.name} on a {shape[0]}x{shape[1]} matrix"
                arrays[key] = given_weight(key, given[key], size, where, on_complex)
            elif given:
                arrays[key] = np.zeros(size, dtype=np.complex128 if on_complex else np.float64)
            else:
                arrays[key] = standard_normal(rng, size, on_complex)
        return VectorLoss(self.kind, self.order, arrays, on_complex)

    @property
    def expression(self) -> str:
        """The loss over a stack of thin factors u (..., m, k), s (..., k), v (..., n, k)."""
        text = (COMPLEX_EXPRESSIONS if self.on_complex else REAL_EXPRESSIONS)[self.kind]
        if self.kind in OPTIONAL_ORDER and self.order is not None:  # the top K triplets only
            text = re.sub(r"\b([usv])\b", lambda x: f"{x[1]}[..., :{self.order}]", text)
            return text.replace("u[..., :", "u[..., :, :").replace("v[..., :", "v[..., :, :")
        return text.replace("TOP", f"u[..., :, :{self.order}]")

    def constants(self, k: int) -> dict[str, np.ndarray]:
        """The arrays the expression names besides u, s and v (drawn by ``bind``)."""
        return dict(self.arrays)

    def evaluate(self, ops, u, s, v):
        """The total loss over a stack: ``expression`` in ``ops``."""
        return _evaluate(self, ops, u, s, v)

    def cotangents(self, u: np.ndarray, s: np.ndarray, v: np.ndarray):
        """(Ubar, sbar, Vbar) of the loss at one float64 (complex128) thin SVD, in field.py's
        convention: dL = Re <Ubar, dU> + <sbar, ds> + Re <Vbar, dV> (gauge.py tests them)."""
        zeros_u, zeros_s, zeros_v = np.zeros_like(u), np.zeros_like(s), np.zeros_like(v)
        top = np.arange(len(s)) < (len(s) if self.order is None else self.order)  # the triplets used
        if self.kind == "polar":
            c = self.arrays["C"]
            return (c @ v) * top, zeros_s, (adjoint(c) @ u) * top
        if self.kind == "recon":
            # R = U diag(s) V^T exactly, so dL/dR = R / ||s|| gives Ubar = U diag(s^2/||s||), sbar = s/||s||,
            # Vbar = V diag(s^2/||s||), written as s * (s/||s||) so that nothing squares s (1e+-300 safe).
            s = s * top
            norm = frobenius(s)
            if norm == 0:
                return zeros_u, zeros_s, zeros_v
            ratio = s / norm
            return u * (s * ratio), ratio, v * (s * ratio)
        if self.kind == "proj":
            c = self.arrays["C"]
            u_bar = zeros_u
            u_bar[:, : self.order] = (c + adjoint(c)) @ u[:, : self.order]
            return u_bar, zeros_s, zeros_v
        return self.arrays["C_U"], zeros_s, self.arrays["C_V"]


Loss = SpectralLoss | VectorLoss


def given_weight(
    key: str, value: np.ndarray, size, where: str, complex_: bool, real="the matrices are"
) -> np.ndarray:
    """A weight the user gave (--cotangents) as the loss uses it (complex128 where ``complex_``, else
    float64); a UsageError where it does not have the ``size`` that ``where`` needs, or is complex
    where the field is real (``real``: what is real)."""
    if value.shape != tuple(size):
        raise UsageError(f"cotangent {key} has shape {value.shape}; {where} needs {tuple(size)}")
    if is_complex(value) and not complex_:
        raise UsageError(f"cotangent {key} is complex; {real} real")
    return np.asarray(value, dtype=np.complex128 if complex_ else np.float64)


@functools.lru_cache(maxsize=32)
def _compiled(expression: str):
    return compile(expression, "<loss>", "eval")


def evaluate_expression(expression: str, ops, u, s, v, constants: dict):
    """Evaluate a loss expression: the one text every backend, the reference and a reproducer run.

    The expression is svdgrad's own constant text (never user input); ``constants`` are the arrays
    it names (w, C, C_U, C_V), already tensors of the framework.
    """
    scope = {"ops": ops, "u": u, "s": s, "v": v, **constants}
    return eval(_compiled(expression), {"__builtins__": {}}, scope)


def constant_dtype(value: np.ndarray, dtype) -> np.dtype:
    """The dtype of a loss constant in a computation in ``dtype``: the matrices' own for complex
    weights, its real component type for real ones (w, which multiplies the real s)."""
    dtype = np.dtype(dtype)
    return dtype if is_complex(value) else np.dtype(np.finfo(dtype).dtype)


def _evaluate(loss: Loss, ops, u, s, v):
    """The loss's expression with its constants as tensors of the framework, in the dtype of the
    factors (of s for a loss of s)."""
    dtype = _dtype_of(u if u is not None else s)
    constants = {
        key: ops.const(value.astype(constant_dtype(value, dtype)))
        for key, value in loss.constants(s.shape[-1]).items()
    }
    return evaluate_expression(loss.expression, ops, u, s, v, constants)


def _dtype_of(x) -> np.dtype:
    """The NumPy dtype of a framework tensor (all four expose a dtype NumPy understands by name)."""
    name = getattr(x.dtype, "name", None) or str(x.dtype).removeprefix("torch.")
    return np.dtype(name)


def whole_number(text: str) -> int | None:
    """The whole number ``text`` spells in ASCII digits (a K, a q), or None ('²', '2.0', '-1', '')."""
    return int(text) if re.fullmatch(r"[0-9]+", text.strip()) else None


def parse_loss(spec: str) -> Loss:
    """Turn a ``--loss`` value into a loss, or raise UsageError naming what is accepted."""
    text = spec.strip().lower()
    kind, sep, arg = text.partition(":")
    if kind in WITH_ORDER or (sep and kind in OPTIONAL_ORDER):
        order = whole_number(arg) if sep else None
        if order is None or order < 1:
            raise UsageError(f"loss {spec!r}: K must be a whole number >= 1 (e.g. {kind}:2)")
        return SpectralLoss(kind, order) if kind in SPECTRAL_KINDS else VectorLoss(kind, order)
    if not sep and kind == "sum":
        return SpectralLoss("sum")
    if not sep and kind in VECTOR_KINDS:
        return VectorLoss(kind)
    raise UsageError(f"unknown loss {spec!r}; expected one of: {LOSS_HELP}")
