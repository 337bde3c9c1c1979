"""The README's tables of issue 25: each framework's forward-mode and second-order paths at a separated
matrix, near a tie (gap 1e-8), at an exact tie, at a zero singular value and at scales 2^+-64, in
float64 (``--dtype float32`` for single precision). Prints one Markdown table per mode and loss: the
worst verdict over three directions per path (ok = correct, NaN = non-finite, - = unsupported), with
the largest relative error where it is not ok.

    python bench/modes_table.py [--dtype float32] [--loss sum]
"""

from __future__ import annotations

import argparse

import numpy as np

from svdgrad_cli import check

HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0
CASES = {
    "separated (4,3,2,1)": (4, 3, 2, 1),
    "gap 1e-8 (3,2+1e-8,2,1)": (3, 2 + 1e-8, 2, 1),
    "exact tie (3,2,2,1)": (3, 2, 2, 1),
    "zero s (3,2,1,0)": (3, 2, 1, 0),
    "2^64 x separated": (4, 3, 2, 1),
    "2^-64 x separated": (4, 3, 2, 1),
}
SCALES = {"2^64 x separated": 64, "2^-64 x separated": -64}
ORDER = ["correct", "valid", "undefined", "unsupported", "indeterminate", "inaccurate", "non-finite", "wrong"]


def matrix(name: str) -> np.ndarray:
    """Q diag(s) Q^T with the Hadamard Q (exact for dyadic s), scaled exactly where named."""
    return np.ldexp(HADAMARD @ np.diag(CASES[name]) @ HADAMARD.T, SCALES.get(name, 0))


SHORT = {
    "correct": "ok",
    "non-finite": "NaN",
    "unsupported": "-",
    "inaccurate": "inacc.",
    "undefined": "undef.",
}


def cell(results) -> str:
    """The worst verdict over the directions, shortened, with the largest relative error where not ok."""
    worst = max(results, key=lambda r: ORDER.index(str(r.verdict)))
    errors = [r.relative_error for r in results if r.relative_error is not None]
    shown = SHORT.get(str(worst.verdict), str(worst.verdict))
    exact = str(worst.verdict) in ("correct", "undefined")
    return shown + (f" {max(errors):.0e}" if errors and not exact else "")


def table(mode: str, loss: str, dtype: str) -> str:
    """One row per case, one column per framework; its paths' cells joined by ' / ' in PATH order."""
    columns, rows = None, []
    for name in CASES:
        run = check(matrix(name).astype(dtype), mode=mode, loss=loss, dtype=dtype)
        by_path: dict[tuple[str, str], list] = {}
        for d in run.reports[0].directions:
            for r in d.results:
                by_path.setdefault((r.backend, r.path), []).append(r)
        columns = columns or list(dict.fromkeys(backend for backend, _ in by_path))
        cells = [" / ".join(cell(v) for (b, _), v in by_path.items() if b == c) for c in columns]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    paths = "; ".join(f"{b}: {' / '.join(p for bb, p in by_path if bb == b)}" for b in columns)
    head = f"| {mode} {loss} {dtype} | " + " | ".join(columns) + " |"
    return "\n".join([f"Paths per cell: {paths}.", "", head, "|" + "---|" * (len(columns) + 1), *rows])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--loss", default="sum")
    args = parser.parse_args()
    for mode in ("jvp", "hvp"):
        print(table(mode, args.loss, args.dtype), end="\n\n")


if __name__ == "__main__":
    main()
