"""Benchmark: scene, tilt series and WBP of one tomogram (default config and SHREC paper size).

Prints CPU time (and wall time) and the peak resident memory (RSS sampled every 50 ms) per
stage, and, for a tilt subset, the extrapolation to the full tilt count
(the cost per tilt depends on the angle through 1/cos(theta); the subset is evenly spaced over
the same range, so its mean cost per tilt is representative).

    .venv/bin/python benchmarks/simulation.py --size default
    .venv/bin/python benchmarks/simulation.py --size paper --tilt-subset 7
    .venv/bin/python benchmarks/simulation.py --size tiny

Potentials: ``--potentials DIR`` uses ``DIR/*.mrc`` (as written by compute_potential, at the
simulation voxel size: proteins ``<PDB>.mrc``, ``vesicle_<k>.mrc``, ``gold_<k>.mrc``); without
it, synthetic complex potentials stand in (12 smooth ellipsoids of 2.5-8 nm radius, 2 gold
beads, vesicle shells of 40-80 nm diameter) — the cost depends on their box sizes, not on
their content. The paper size uses these vesicles too (SHREC's 150-300 nm vesicles would add
their rotation cost to the scene stage).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from tomobench.classes import SCORED_PROTEINS
from tomobench.mrc import read_mrc, write_mrc
from tomobench.reconstruction.wbp import ReconstructionGeometry, weighted_backprojection
from tomobench.simulation.ctf import Microscope
from tomobench.simulation.scene import (
    SceneGeometry,
    SceneParameters,
    add_ice,
    build_scene,
    final_ground_truth,
)
from tomobench.simulation.tilt_series import (
    TiltSeriesSettings,
    draw_acquisition,
    simulate_tilt_series,
)

SIZES = {
    # size_xy, size_z, ice_nm, tilts, proteins, fiducials, vesicles
    "tiny": (64, 32, 24, 15, (15, 15), (2, 2), (1, 1)),
    "default": (192, 96, 60, 61, (200, 200), (3, 3), (2, 2)),
    "paper": (512, 512, 180, 61, (2000, 2000), (10, 10), (4, 4)),
}


def ellipsoid(radii_nm, voxel_nm, v_real, v_imag, shell_nm=None):
    n = int(2 * (max(radii_nm) + 2) / voxel_nm) | 1
    g = (np.arange(n) - n // 2) * voxel_nm
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    r = np.sqrt((zz / radii_nm[0]) ** 2 + (yy / radii_nm[1]) ** 2 + (xx / radii_nm[2]) ** 2)
    mask = (r <= 1) if shell_nm is None else (np.abs(r - 1) * min(radii_nm) <= shell_nm / 2)
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), 0.7)
    return (smooth * v_real + 1j * smooth * v_imag).astype(np.complex64)


def synthetic_potentials(voxel_nm, seed=0):
    rng = np.random.default_rng(seed)
    names = list(SCORED_PROTEINS)
    proteins = {
        name: ellipsoid((r, r, 1.6 * r), voxel_nm, 1.5, 0.185)
        for name, r in zip(names, np.linspace(2.5, 8.0, len(names)), strict=True)
    }
    gold = [ellipsoid((d / 2,) * 3, voxel_nm, 25.0, 0.875) for d in (5.0, 8.0)]
    vesicles = [
        ellipsoid((d / 2, d / 2 * 0.9, d / 2 * 0.8), voxel_nm, 1.0, 0.15, shell_nm=4.5)
        for d in rng.uniform(40, 80, 2)
    ]
    return proteins, vesicles, gold


def load_potentials(folder):
    proteins, vesicles, gold = {}, [], []
    for path in sorted(Path(folder).glob("*.mrc")):
        data = read_mrc(path)[0].astype(np.complex64)
        if path.stem.startswith("vesicle_"):
            vesicles.append(data)
        elif path.stem.startswith("gold_"):
            gold.append(data)
        else:
            proteins[path.stem] = data
    return proteins, vesicles, gold


def current_rss_gb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


class Stage:
    """Times a stage (CPU and wall) and samples the process RSS every 50 ms for its peak."""

    def __init__(self, name):
        self.name = name

    def _sample(self):
        while not self._done.wait(0.05):
            self.peak_gb = max(self.peak_gb, current_rss_gb())

    def __enter__(self):
        self.peak_gb = current_rss_gb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall_seconds = time.perf_counter() - self.start
        # CPU seconds of this process: robust to other jobs sharing the cores (the stages are
        # single-threaded apart from short FFT bursts)
        self.seconds = time.process_time() - self.cpu_start
        self._done.set()
        self._thread.join()
        self.peak_gb = max(self.peak_gb, current_rss_gb())
        print(
            f"{self.name:<28s} {self.seconds:8.1f} s CPU ({self.wall_seconds:7.1f} s wall)  "
            f"peak RSS {self.peak_gb:6.2f} GB",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument(
        "--tilt-subset",
        type=int,
        default=0,
        help="simulate only this many evenly spaced tilts and extrapolate",
    )
    parser.add_argument("--potentials", default=None)
    parser.add_argument("--workers", type=int, default=1, help="FFT threads (tilt series)")
    args = parser.parse_args()
    size_xy, size_z, ice_nm, tilts, proteins_n, fiducials_n, vesicles_n = SIZES[args.size]
    geometry = SceneGeometry(size_xy, size_z, 1.0, 2, ice_nm)
    voxel = geometry.simulation_voxel_nm
    if args.potentials:
        proteins, vesicles, gold = load_potentials(args.potentials)
    else:
        proteins, vesicles, gold = synthetic_potentials(voxel)
    print(
        f"size {args.size}: simulation grid {geometry.simulation_shape} at {voxel} nm, "
        f"final {geometry.final_shape}, {tilts} tilts"
    )
    parameters = SceneParameters(proteins_n, fiducials_n, vesicles_n, max_placement_attempts=200)
    with tempfile.TemporaryDirectory() as tmp:
        unbinned = Path(tmp) / "grandmodel_unbinned.mrc"
        with Stage("scene (placement + GT)") as scene_stage:
            scene = build_scene(geometry, parameters, proteins, vesicles, gold, 2021, 0)
            final_ground_truth(scene, geometry)
            add_ice(scene.potential, 300.0)
            write_mrc(unbinned, scene.potential, voxel)
        print(f"  placed {scene.summary['placed']}, failed {scene.summary['failed']}")
        del scene
        count = args.tilt_subset or tilts
        settings = TiltSeriesSettings(tilt_count=count)
        acquisition = draw_acquisition(settings, voxel, 2021, 0)
        with Stage(f"tilt series ({count} tilts)") as tilt_stage:
            potential, _ = read_mrc(unbinned, mmap=True)
            projections = simulate_tilt_series(
                potential, voxel, acquisition, settings, Microscope(), workers=args.workers
            )
            del potential
    recon = ReconstructionGeometry(
        geometry.final_shape, 2, geometry.z_offset, geometry.simulation_shape[0]
    )
    shifts = np.array(acquisition.shifts_nm) / voxel
    with Stage(f"WBP ({count} tilts)") as wbp_stage:
        weighted_backprojection(projections, acquisition.tilt_angles_deg, shifts, recon)
    scale = tilts / count
    total = scene_stage.seconds + scale * (tilt_stage.seconds + wbp_stage.seconds)
    if scale != 1:
        print(
            f"extrapolated to {tilts} tilts: tilt series {scale * tilt_stage.seconds:.0f} s, "
            f"WBP {scale * wbp_stage.seconds:.0f} s"
        )
    print(
        f"total per tomogram: {total:.0f} s ({total / 60:.1f} min); peak RSS "
        f"{max(scene_stage.peak_gb, tilt_stage.peak_gb, wbp_stage.peak_gb):.2f} GB "
        f"(+{projections.nbytes * (scale - 1) / 1e9:.2f} GB for the full projection stack)"
    )


if __name__ == "__main__":
    main()
