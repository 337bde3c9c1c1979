"""``svdgrad scan`` over a checkpoint shaped like a 12-layer transformer, against the full check.

Writes a safetensors checkpoint of 12 layers, each 4 float32 matrices of 768x768 (attention) and 2 of
768x3072 (the MLP), 72 tensors and 324 MiB, random values with one planted rank deficiency, and
times ``svdgrad scan FILE -q`` (median of ``--repeat`` runs, and once more after the check: the slower
of the two counts) against ``svdgrad check FILE -q`` with the default backends (run once: it is
slow). Target (issue 26): scan <= 0.2x the full check.

It also measures that checkpoints are read one tensor at a time: the scan's peak memory against the
checkpoint's size, for the safetensors file and for the same tensors in a PyTorch zip checkpoint
(torch.save): the peak anonymous memory (not the mapped file's pages, which count in RSS) above that of
a scan of one 2x2 matrix in the same format (its reader's imports). Reading every tensor at once would
take at least the checkpoint's size; the target is half of it.

    python bench/bench_scan.py [--repeat 3] [--layers 12] [--no-check]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from common import QUIET_TF, SVDGRAD, report, run

HIDDEN, MLP = 768, 3072
NAMES = ("attn.q", "attn.k", "attn.v", "attn.o")


def tensors(layers: int) -> dict[str, np.ndarray]:
    """The checkpoint's tensors, each made as it is needed (the writer holds them all, once)."""
    rng = np.random.default_rng(26)
    out = {}
    for layer in range(layers):
        for name in NAMES:
            out[f"layer{layer}.{name}.weight"] = rng.standard_normal((HIDDEN, HIDDEN), dtype=np.float32)
        out[f"layer{layer}.mlp.up.weight"] = rng.standard_normal((MLP, HIDDEN), dtype=np.float32)
        out[f"layer{layer}.mlp.down.weight"] = rng.standard_normal((HIDDEN, MLP), dtype=np.float32)
    if layers:
        out["layer0.attn.q.weight"][:, -1] = 0.0  # one rank deficiency: at risk for the default loss
    else:  # the baseline of the memory figures: one 2x2 matrix in the same format
        out["tiny"] = np.eye(2, dtype=np.float32)
    return out


def write(folder: Path, layers: int) -> tuple[Path, Path | None]:
    from safetensors.numpy import save_file

    folder.mkdir(exist_ok=True)
    weights = tensors(layers)
    safetensors = folder / "model.safetensors"
    save_file(weights, str(safetensors))
    try:
        import torch
    except ImportError:
        return safetensors, None
    zipped = folder / "model.pt"
    torch.save({name: torch.from_numpy(array) for name, array in weights.items()}, zipped)
    return safetensors, zipped


def peak_memory(command: list[str]) -> tuple[float, float]:
    """(peak anonymous, peak file-backed) resident MiB of a command, sampled from /proc every 10 ms:
    a memory-mapped checkpoint's pages count in RSS as file-backed (clean, reclaimable page cache),
    what one tensor at a time bounds is the anonymous part."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=QUIET_TF)
    peaks = {"RssAnon:": 0, "RssFile:": 0}
    while process.poll() is None:
        with contextlib.suppress(OSError), open(f"/proc/{process.pid}/status") as status:
            for line in status:
                key, *value = line.split()
                if key in peaks:
                    peaks[key] = max(peaks[key], int(value[0]))
        time.sleep(0.01)
    return peaks["RssAnon:"] / 1024, peaks["RssFile:"] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--no-check", action="store_true", help="skip the (slow) full check")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        safetensors, zipped = write(Path(tmp), args.layers)
        size = safetensors.stat().st_size / 2**20
        scan, scan_peak = run([*SVDGRAD, "scan", str(safetensors), "-q"], repeat=args.repeat)
        print(f"{'scan, ' + str(6 * args.layers) + ' tensors (' + f'{size:.0f} MiB)':<44} {scan:8.2f} s")
        if not args.no_check:
            check, _ = run([*SVDGRAD, "check", str(safetensors), "-q"], repeat=1)
            after, _ = run([*SVDGRAD, "scan", str(safetensors), "-q"], repeat=1)
            print(f"{'  the scan again, after the check':<44} {after:8.2f} s")
            # the slower scan: a load that changes during the long check must not favour the scan
            report("scan / full check, default backends", max(scan, after), check, 0.2)
        print(f"{'  peak memory (PSS) of that scan':<44} {scan_peak:8.0f} MiB")
        small, _ = write(Path(tmp) / "small", layers=0)
        for kind, path, tiny in (
            ("safetensors", safetensors, small),
            ("torch zip", zipped, small.with_suffix(".pt")),
        ):
            if path is None:
                continue
            baseline, _ = peak_memory([*SVDGRAD, "scan", str(tiny), "-q"])
            anonymous, mapped = peak_memory([*SVDGRAD, "scan", str(path), "-q"])
            print(
                f"{'  ' + kind + ': peak anonymous, file-backed':<44} {anonymous:8.0f} MiB {mapped:8.0f} MiB"
            )
            report(f"{kind}: anonymous above a 2x2's / size", anonymous - baseline, size, 0.5, unit="MiB")


if __name__ == "__main__":
    main()
