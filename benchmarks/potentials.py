"""Benchmark: potential of every SHREC class at 0.5 nm and 1 nm (CPU; GPU when present).

Prints, per class and voxel size, the median wall time over ``--repeats`` runs, the peak
Python-heap memory of one run (tracemalloc: numpy buffers included) and the map shape, then
the total per voxel size and the process's peak RSS.

    .venv/bin/python benchmarks/potentials.py [--structures ../shared/structures] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

from tomobench.backend import cupy_available
from tomobench.classes import SCORED_PROTEINS
from tomobench.structures.compute import structure_potential
from tomobench.structures.potential import PotentialOptions
from tomobench.structures.sources import resolve_structure_source

CLASSES = list(SCORED_PROTEINS)


def _run(path, pdb_id, options, device):
    tracemalloc.start()
    start = time.perf_counter()
    potential, _ = structure_potential(path, pdb_id, options, device=device)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, potential.shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = os.environ.get("TOMOBENCH_STRUCTURES") or str(
        Path(__file__).resolve().parents[2] / "shared" / "structures"
    )
    parser.add_argument("--structures", default=default)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--voxel-sizes", type=float, nargs="+", default=[0.5, 1.0])
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if cupy_available() else [])
    for device in devices:
        for voxel_nm in args.voxel_sizes:
            options = PotentialOptions(voxel_size_nm=voxel_nm)
            total = 0.0
            print(f"# device={device} voxel_size_nm={voxel_nm} oversampling=2 fourier mask")
            print(f"{'class':6s} {'source':6s} {'median_s':>9s} {'peak_MiB':>9s}  shape")
            for pdb_id in CLASSES:
                path = resolve_structure_source(
                    pdb_id, args.structures, "resources/structures", "atomic"
                )
                runs = [_run(path, pdb_id, options, device) for _ in range(args.repeats)]
                median = statistics.median(r[0] for r in runs)
                total += median
                kind = "map" if path.suffix == ".mrc" else "atomic"
                print(
                    f"{pdb_id:6s} {kind:6s} {median:9.3f} {runs[0][1] / 2**20:9.1f}  {runs[0][2]}"
                )
            print(f"TOTAL  {'':6s} {total:9.3f}  (sum of medians, {len(CLASSES)} classes)\n")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
