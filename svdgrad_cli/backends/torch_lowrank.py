"""The torch.svd_lowrank backend: a randomized SVD of the top q triplets, differentiated by autograd.

torch.svd_lowrank (Halko, Martinsson and Tropp 2011, Algorithm 5.1: a range finder with ``niter``
subspace iterations, then the SVD of the q x n projection) is an approximate forward map, and its
gradient is autograd's derivative of that algorithm, not of the truncated SVD (pytorch/pytorch#69531).
svdgrad judges it as a truncated backend (numerics/truncated.py): on losses of the top q triplets,
against the exact gradient of the truncated map, with its forward error (top-q singular values and
subspace angles, numerics/forward.py) measured; where that error accounts for the gradient's, the
verdict blames the forward map. Named only where asked for:

    -b torch_lowrank                    q = 6, niter = 2 (torch's defaults; q at most min(m, n))
    -b torch_lowrank:q=10,niter=8

The random start is drawn from a generator seeded with SEED, so a run is reproducible.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from svdgrad_cli.backends.framework import BUILTIN, compute_with
from svdgrad_cli.backends.protocol import BUILT_IN, BackendOutput
from svdgrad_cli.errors import UsageError
from svdgrad_cli.numerics.losses import whole_number

NAME = "torch_lowrank"
DEFAULTS = {"q": 6, "niter": 2}  # torch.svd_lowrank's own
SEED = 0
PATTERN = re.compile(rf"{NAME}(?::(?P<options>.*))?")
USAGE = f"{NAME}[:q=Q,niter=N] (q={DEFAULTS['q']}, niter={DEFAULTS['niter']})"


def parse_lowrank(text: str) -> LowRankBackend | None:
    """The backend ``text`` names (torch_lowrank[:q=Q,niter=N]), None for another name; UsageError
    (one line) for bad options."""
    found = PATTERN.fullmatch(text.strip())
    if found is None:
        return None
    options = dict(DEFAULTS)
    for item in filter(None, (found["options"] or "").split(",")):
        key, _, value = item.partition("=")
        key, number = key.strip(), whole_number(value)
        if key not in DEFAULTS or number is None or (key == "q" and number < 1):
            raise UsageError(
                f"backend {text!r}: expected {NAME}:q=Q,niter=N with whole numbers Q >= 1, N >= 0"
            )
        options[key] = number
    return LowRankBackend(text.strip(), options["q"], options["niter"])


class LowRankBackend:
    """torch.svd_lowrank with q and niter, its factors (U_q, S_q, V_q) fed to the loss."""

    gives_factors = True
    origin = BUILT_IN  # torch.svd_lowrank: PyTorch's own code, reported upstream like the built-ins

    def __init__(self, name: str, q: int, niter: int) -> None:
        self.name, self.q, self.niter = name, q, niter

    def version(self) -> str | None:
        return BUILTIN["torch"].version()

    @functools.cached_property
    def factors(self):
        q, niter = self.q, self.niter

        def factors(x, needs_vectors, full_matrices):
            import torch

            if full_matrices:
                raise NotImplementedError("torch.svd_lowrank returns thin factors only")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(SEED)
                u, s, v = torch.svd_lowrank(x, q=min(q, *x.shape[-2:]), niter=niter)
            return u, s, v

        return factors

    def compute(self, stack: np.ndarray, loss, full_matrices: bool = False) -> BackendOutput:
        return compute_with(BUILTIN["torch"].module, stack, loss, full_matrices, self.factors)
