"""Benchmark: scene, tilt series and WBP of one tomogram as the workflow makes it.

Each size is a configuration of ``config/`` (``tiny`` = test.yaml, ``default`` = config.yaml,
``paper`` = shrec2021.yaml): its geometry, particle counts, vesicle library (the SHREC 144-336
nm vesicles at paper size), tilts and microscope. Prints CPU and wall time and the peak
resident memory (RSS sampled every 50 ms) per stage.

    .venv/bin/python benchmarks/simulation.py --size paper --potentials results/shrec2021/potentials
    .venv/bin/python benchmarks/simulation.py --size default --threads 2
    .venv/bin/python benchmarks/simulation.py --size paper --tilt-subset 7   # extrapolated

The full tilt series is simulated unless ``--tilt-subset N`` asks for N evenly spaced tilts;
then the output says so and extrapolates the tilt-series and WBP times to the full count (the
cost per tilt depends on the angle through 1/cos(theta); an evenly spaced subset over the same
range has a representative mean).

Potentials: ``--potentials DIR`` uses a run's ``potentials/`` folder (``<PDB>.mrc`` and
``gold_<k>.mrc`` at the simulation voxel size, as the workflow writes them); without it,
synthetic complex potentials stand in (12 smooth ellipsoids of 2.5-8 nm radius, 2 gold beads),
and the output says so: the cost depends on their box sizes, not on their content.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from scipy import ndimage

from tomobench.classes import SCORED_PROTEINS
from tomobench.config import microscope as microscope_of
from tomobench.config import scene_geometry, scene_parameters, tilt_series_settings, vesicle_library
from tomobench.mrc import MrcVolume, read_mrc, write_mrc
from tomobench.reconstruction.wbp import ReconstructionGeometry, weighted_backprojection
from tomobench.simulation.scene import (
    add_ice,
    build_scene,
    final_grandmodel,
    final_locations,
    final_masks,
)
from tomobench.simulation.tilt_series import (
    draw_acquisition,
    simulate_tilt_series,
)

CONFIGS = {"tiny": "test.yaml", "default": "config.yaml", "paper": "shrec2021.yaml"}
REPO = Path(__file__).resolve().parents[1]


def ellipsoid(radii_nm, voxel_nm, v_real, v_imag, shell_nm=None):
    n = int(2 * (max(radii_nm) + 2) / voxel_nm) | 1
    g = (np.arange(n) - n // 2) * voxel_nm
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    r = np.sqrt((zz / radii_nm[0]) ** 2 + (yy / radii_nm[1]) ** 2 + (xx / radii_nm[2]) ** 2)
    mask = (r <= 1) if shell_nm is None else (np.abs(r - 1) * min(radii_nm) <= shell_nm / 2)
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), 0.7)
    return (smooth * v_real + 1j * smooth * v_imag).astype(np.complex64)


def synthetic_potentials(voxel_nm):
    names = list(SCORED_PROTEINS)
    proteins = {
        name: ellipsoid((r, r, 1.6 * r), voxel_nm, 1.5, 0.185)
        for name, r in zip(names, np.linspace(2.5, 8.0, len(names)), strict=True)
    }
    gold = [ellipsoid((d / 2,) * 3, voxel_nm, 25.0, 0.875) for d in (5.0, 8.0)]
    return proteins, gold


def load_potentials(folder, classes):
    """Proteins (the config's classes) and gold beads of a run's ``potentials/`` folder."""
    folder = Path(folder)
    proteins = {name: read_mrc(folder / f"{name}.mrc")[0].astype(np.complex64)
                for name in classes}
    gold = [read_mrc(path)[0].astype(np.complex64)
            for path in sorted(folder.glob("gold_*.mrc"))]
    return proteins, gold


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
    parser.add_argument("--size", choices=sorted(CONFIGS), default="default")
    parser.add_argument("--tilt-subset", type=int, default=0,
                        help="simulate only this many evenly spaced tilts and extrapolate")
    parser.add_argument("--potentials", default=None, help="a run's potentials/ folder")
    parser.add_argument("--threads", type=int, default=2, help="threads of each stage")
    parser.add_argument("--stages", default="scene,tilts,wbp",
                        help="comma-separated subset of scene,tilts,wbp (each needs the former)")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config" / CONFIGS[args.size]).read_text())
    stages = args.stages.split(",")
    geometry, parameters = scene_geometry(config), scene_parameters(config)
    voxel = geometry.simulation_voxel_nm
    if args.potentials:
        proteins, gold = load_potentials(args.potentials, config["structures"]["classes"])
        source = f"potentials of {args.potentials}"
    else:
        proteins, gold = synthetic_potentials(voxel)
        source = "SYNTHETIC protein and gold potentials (no --potentials given)"
    vesicles = vesicle_library(config, args.seed)
    settings = tilt_series_settings(config)
    tilts = settings.tilt_count
    print(
        f"size {args.size} (config/{CONFIGS[args.size]}): simulation grid "
        f"{geometry.simulation_shape} at {voxel} nm, final {geometry.final_shape}, {tilts} "
        f"tilts, {args.threads} thread(s); {source}; vesicles "
        f"{[round(v.diameter_nm) for v in vesicles]} nm"
    )
    with tempfile.TemporaryDirectory() as tmp:
        unbinned = Path(tmp) / "grandmodel_unbinned.mrc"
        with Stage("scene (placement + GT)") as scene_stage:
            scene = build_scene(geometry, parameters, proteins, vesicles, gold, args.seed, 0,
                                args.threads)
            write_mrc(Path(tmp) / "grandmodel.mrc",
                      final_grandmodel(scene, geometry, args.threads), geometry.voxel_size_nm)
            for k, mask in enumerate(final_masks(scene, geometry)):
                write_mrc(Path(tmp) / f"mask{k}.mrc", mask, geometry.voxel_size_nm)
                del mask
            final_locations(scene, geometry)
            add_ice(scene.potential, parameters.voltage_kv)
            write_mrc(unbinned, scene.potential, voxel)
        print(f"  drawn {scene.summary['drawn']}, placed {scene.summary['placed']}, "
              f"failed {scene.summary['failed']}")
        del scene
        if "tilts" not in stages:
            return
        count = args.tilt_subset or tilts
        if args.tilt_subset:
            settings = dataclasses.replace(settings, tilt_count=count)
            print(f"SUBSET: {count} of {tilts} tilts simulated; times below are extrapolated")
        microscope = microscope_of(config["microscope"])
        acquisition = draw_acquisition(settings, voxel, args.seed, 0)
        with Stage(f"tilt series ({count} tilts)") as tilt_stage:
            potential = MrcVolume(unbinned)
            projections = simulate_tilt_series(potential, voxel, acquisition, settings,
                                               microscope, workers=args.threads)
            del potential
    stages_run = [scene_stage, tilt_stage]
    if "wbp" in stages:
        recon = ReconstructionGeometry(geometry.final_shape, geometry.binning,
                                       geometry.z_offset, geometry.simulation_shape[0])
        shifts = np.array(acquisition.shifts_nm) / voxel
        with Stage(f"WBP ({count} tilts)") as wbp_stage:
            weighted_backprojection(projections, acquisition.tilt_angles_deg, shifts, recon,
                                    workers=args.threads)
        stages_run.append(wbp_stage)
    scale = tilts / count
    wall = scene_stage.wall_seconds + scale * sum(s.wall_seconds for s in stages_run[1:])
    cpu = scene_stage.seconds + scale * sum(s.seconds for s in stages_run[1:])
    label = f"extrapolated from {count} of {tilts} tilts" if scale != 1 else "measured"
    print(f"total per tomogram ({label}): {wall:.0f} s wall ({wall / 60:.1f} min), {cpu:.0f} s "
          f"CPU; peak RSS {max(s.peak_gb for s in stages_run):.2f} GB")


if __name__ == "__main__":
    main()
