"""The README's table of ``--decomposition eigh``: each framework's verdict per loss at a separated,
a near-tied (gap 2^-30) and a tied spectrum of A = Q diag(w) Q^T with Q the normalised 4x4 Hadamard
matrix (A exact in float64), and at jax#10527's x x^T, x = (1, 2, 3) (eigenvalues 0, 0, 14).

    python bench/eigh_table.py
"""

from __future__ import annotations

import numpy as np

from svdgrad_cli.backends.eigh_backends import eigh_backends
from svdgrad_cli.numerics.eigh_losses import parse_eigh_loss
from svdgrad_cli.pipeline.eigh_check import check_matrix

HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2
SPECTRA = {
    "separated": [0.5, 1.0, 2.0, 4.0],
    "near-tied": [0.5, 2.0, 2.0 + 2.0**-30, 4.0],
    "tied": [0.5, 2.0, 2.0, 4.0],
}
LOSSES = ("eigsum", "logdet", "entropy", "expm", "lowk:2", "lowk:3", "eig:2", "proj:1", "proj:2", "vec")
SHORT = {
    "correct": "ok",
    "valid": "val",
    "undefined": "und",
    "inaccurate": "inac",
    "wrong": "WRONG",
    "non-finite": "NaN",
    "indeterminate": "ind",
    "failed": "fail",
}


def cells(a: np.ndarray, spec: str, backends) -> str:
    loss = parse_eigh_loss(spec).bind(a.shape[0], 0)
    report = check_matrix(a, "A", loss, backends)
    return " ".join(SHORT[str(r.verdict)] for r in report.results)


def main() -> None:
    backends = eigh_backends(())
    matrices = {name: (HADAMARD * np.array(w)) @ HADAMARD.T for name, w in SPECTRA.items()}
    x = np.array([1.0, 2.0, 3.0])
    matrices["jax#10527"] = np.outer(x, x)
    print("backends: " + ", ".join(b.name for b in backends))
    print("| loss | " + " | ".join(matrices) + " |")
    print("|---" * (len(matrices) + 1) + "|")
    for spec in LOSSES:
        row = [
            cells(a, spec, backends) if spec != "proj:2" or a.shape[0] > 2 else "-" for a in matrices.values()
        ]
        print(f"| `{spec}` | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
