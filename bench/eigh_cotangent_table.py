"""The README's table of ``--loss wq --cotangents`` under ``--decomposition eigh``: each framework's
verdict for the cotangents of the downstream loss f(w, Q) = sum w_i^2 / 2 + sum_i d_i Re q_i^H B q_i
(C_w = w, C_Q = 2 B Q diag(d), taken at NumPy's Q, B a seeded Hermitian matrix), with d equal on the
middle pair (f invariant under its rotations) or not (f splits it), at eigh_table.py's spectra of
A = Q diag(w) Q^H, Q the normalised 4x4 Hadamard matrix, its columns times 1, i, -1, -i for the
Hermitian rows (A exact in float64 and complex128).

    python bench/eigh_cotangent_table.py
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from eigh_table import HADAMARD, SHORT, SPECTRA

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.pipeline.eigh_check import check_matrix

PAIRS = {"invariant": [1.0, -2.0, -2.0, 3.0], "splits the pair": [1.0, -2.0, 0.5, 3.0]}
PHASES = 1j ** np.arange(4)


def cotangents(a: np.ndarray, d, seed: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 4)) + (1j * rng.standard_normal((4, 4)) if np.iscomplexobj(a) else 0)
    w, q = np.linalg.eigh(a)
    return {"C_w": w, "C_Q": (x + x.conj().T) @ q * np.asarray(d)}


def cells(a: np.ndarray, d, backends) -> str:
    given = replace(parse_eigh_loss("wq"), given=cotangents(a, d))
    report = check_matrix(a, "A", given.bind(4, 0, np.iscomplexobj(a)), backends)
    return " ".join(SHORT[str(r.verdict)] for r in report.results)


def main() -> None:
    backends = eigh_backends(())
    print("backends: " + ", ".join(b.name for b in backends))
    print("| cotangents | " + " | ".join(SPECTRA) + " |")
    print("|---" * (len(SPECTRA) + 1) + "|")
    for field, q in (("real", HADAMARD), ("Hermitian", HADAMARD * PHASES)):
        for name, d in PAIRS.items():
            matrices = [(q * np.array(w)) @ q.conj().T for w in SPECTRA.values()]
            print(f"| {field}, {name} | " + " | ".join(cells(a, d, backends) for a in matrices) + " |")


if __name__ == "__main__":
    main()
