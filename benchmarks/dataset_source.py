"""Cost of reading a SHREC 2021 release in place (dataset.source: shrec), at the release's size.

Writes one synthetic model folder of the release's shapes (512^3 float32 reconstruction; masks
and grand model 512^3, or 180x512x512 for the re-release) into a temporary folder and prints the
time of what a run adds to the pickers for it: the checks before any job (headers, particle
list), the input record (SHA-256 of every file), and for the re-release the slab placement and
the padding of each mask.

Usage: ``.venv/bin/python benchmarks/dataset_source.py [--size 512] [--slab 180]
[--particles 2000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench import dataset_source as source
from tomobench.config_checks import dataset_layout
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import write_particle_locations


def _folder(root: Path, size: int, slab: int, particles: int, slab_masks: bool) -> None:
    """model_0 with ``particles`` balls (radius 4) in the centred slab of a ``size`` cube."""
    rng = np.random.default_rng(0)
    offset = (size - slab) // 2
    folder = root / "model_0"
    folder.mkdir(parents=True)
    occupancy = np.zeros((slab, size, size), np.float32)
    centres = np.column_stack([rng.integers(6, slab - 6, particles),
                               rng.integers(6, size - 6, (particles, 2))])
    ball = np.argwhere(np.ones((9, 9, 9)))
    ball = ball[((ball - 4) ** 2).sum(axis=1) <= 16] - 4
    for k, centre in enumerate(centres, start=1):
        z, y, x = (centre + ball).T
        occupancy[z, y, x] = k
    write_particle_locations(folder / "particle_locations.txt", pd.DataFrame({
        "class_name": "4CR2", "x": centres[:, 2], "y": centres[:, 1],
        "z": centres[:, 0] + offset, "a1": 0.0, "a2": 0.0, "a3": 0.0}))
    write_mrc(folder / "reconstruction.mrc",
              rng.normal(size=(size, size, size)).astype(np.float32), 1.0)
    for key in source.SHREC_MASKS:
        volume = occupancy if key != "class_mask" else (occupancy > 0).astype(np.float32) * 2
        if not slab_masks:
            volume = source.pad_slab(volume, offset, size)
        write_mrc(folder / f"{key}.mrc", volume, 1.0)


def _timed(label: str, function):
    start = time.perf_counter()
    result = function()
    print(f"  {label}: {time.perf_counter() - start:.2f} s")
    return result


def _measure(root: Path, args, slab_masks: bool) -> None:
    config = {"dataset": {"source": "shrec", "path": str(root)},
              "tomograms": {"count": 1, "training": [], "validation": [], "test": [0],
                            "size_z_voxels": args.size, "size_xy_voxels": args.size,
                            "voxel_size_nm": 1.0}}
    layout = _timed("checks before any job (headers, particle list)",
                    lambda: dataset_layout(config))
    files = list(layout[0].files.values())
    total = sum(p.stat().st_size for p in files)
    _timed(f"input record, SHA-256 of {len(files)} files ({total / 1e9:.2f} GB)",
           lambda: [source.file_record(p) for p in files])
    if not slab_masks:
        return
    folder = root / "model_0"
    placement = _timed("slab placement (centres against the occupancy ids)",
                       lambda: source.slab_placement(folder / "particle_locations.txt",
                                                     folder / "occupancy_mask.mrc", args.size,
                                                     None))
    for key in source.SHREC_MASKS:
        def place(key=key):
            slab, _ = read_mrc(folder / f"{key}.mrc")
            write_mrc(root / f"{key}_cube.mrc",
                      source.pad_slab(slab, placement["z_offset"], args.size), 1.0)

        _timed(f"place {key} in the cube (read, pad, write)", place)
    print(f"  slab offset found: {placement['z_offset']} (true: {(args.size - args.slab) // 2})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slab", type=int, default=180)
    parser.add_argument("--particles", type=int, default=2000)
    args = parser.parse_args()
    for release, slab_masks in (("competition release (cube masks)", False),
                                ("re-release (slab masks)", True)):
        with tempfile.TemporaryDirectory() as tmp:
            _folder(Path(tmp), args.size, args.slab, args.particles, slab_masks)
            print(f"{release}, one {args.size}^3 model folder:")
            _measure(Path(tmp), args, slab_masks)


if __name__ == "__main__":
    main()
