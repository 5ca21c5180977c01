"""Planted-particle toy tomograms for the tests of the learning pickers.

Particles are solid spheres of a per-class radius (non-overlapping); the grand model is their
density, the reconstruction that density blurred, restricted to a ±``tilt_max_deg`` wedge
around the x axis in the k_z-k_x plane (tilt axis y, as the simulator) and noised. Files follow
the ``results/<name>/data/model_<i>/`` contract, so ``data.load_tomogram`` reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from tomobench.classes import CLASS_ID
from tomobench.evaluation.truth import dilated_occupancy_ids
from tomobench.io import TRAINING_FILES, model_files
from tomobench.mrc import write_mrc
from tomobench.particles import write_particle_locations
from tomobench.seeding import rng as seeded_rng


def wedge_filter(volume: np.ndarray, tilt_max_deg: float) -> np.ndarray:
    """Zero the Fourier components outside the tilt range (tilt axis y; ``(z, y, x)``)."""
    kz = np.fft.fftfreq(volume.shape[0])[:, None, None]
    kx = np.fft.rfftfreq(volume.shape[2])[None, None, :]
    measured = np.abs(kz) <= np.abs(kx) * np.tan(np.deg2rad(tilt_max_deg)) + 1e-9
    spectrum = np.fft.rfftn(volume) * measured
    return np.fft.irfftn(spectrum, s=volume.shape, axes=(0, 1, 2)).astype(np.float32)


def plant_particles(shape: tuple[int, int, int], radii: dict[str, float], count: int,
                    generator: np.random.Generator, max_attempts: int = 2000) -> pd.DataFrame:
    """Non-overlapping sphere centres: ``count`` particles cycling over the classes."""
    names = list(radii)
    rows: list[tuple[str, int, int, int, float]] = []
    for index in range(count):
        name = names[index % len(names)]
        radius = radii[name]
        for _ in range(max_attempts):
            centre = [int(generator.integers(int(np.ceil(radius)) + 1,
                                             size - int(np.ceil(radius)) - 1))
                      for size in shape]
            if all(np.linalg.norm(np.subtract(centre, r[3:0:-1])) > radius + radii[r[0]] + 2
                   for r in rows):
                rows.append((name, centre[2], centre[1], centre[0], radius))
                break
    frame = pd.DataFrame(rows, columns=["class_name", "x", "y", "z", "radius"])
    return frame


def synthetic_tomogram(directory: str | Path, shape: tuple[int, int, int],
                       radii: dict[str, float], count: int, seed: int, key: int = 0,
                       noise: float = 0.5, tilt_max_deg: float = 60.0) -> pd.DataFrame:
    """Write a toy annotated tomogram into ``directory``; return its particle table.

    Parameters
    ----------
    shape : ``(z, y, x)`` voxels
    radii : ``{class_name: radius_voxels}`` (SHREC class names)
    noise : Gaussian noise std relative to the std of the noise-free reconstruction
    """
    generator = seeded_rng(seed, "synthetic", key)
    particles = plant_particles(shape, radii, count, generator)
    grid = np.indices(shape, dtype=np.float32)
    class_mask = np.zeros(shape, np.float32)
    occupancy = np.zeros(shape, np.float32)
    for line, row in enumerate(particles.itertuples(index=False), start=1):
        inside = ((grid[0] - row.z) ** 2 + (grid[1] - row.y) ** 2 + (grid[2] - row.x) ** 2
                  <= row.radius ** 2)
        class_mask[inside] = CLASS_ID[row.class_name]
        occupancy[inside] = line
    grandmodel = ndimage.gaussian_filter((occupancy > 0).astype(np.float32), 0.7)
    clean = wedge_filter(-ndimage.gaussian_filter(grandmodel, 1.0), tilt_max_deg)
    reconstruction = clean + generator.normal(0, noise * clean.std(), shape).astype(np.float32)
    files = tomogram_paths(directory)
    write_mrc(files["reconstruction"], reconstruction.astype(np.float32), 1.0)
    write_mrc(files["grandmodel"], grandmodel.astype(np.float32), 1.0)
    write_mrc(files["class_mask"], class_mask, 1.0)
    write_mrc(files["occupancy_mask"], occupancy, 1.0)
    locations = particles.drop(columns="radius").assign(a1=0.0, a2=0.0, a3=0.0)
    write_particle_locations(files["particle_locations"], locations)
    return particles


def tomogram_paths(directory: str | Path) -> dict[str, Path]:
    """The ``tomobench.io.TRAINING_FILES`` paths inside a model directory."""
    return model_files(directory, TRAINING_FILES)


def localization_hits(picks: pd.DataFrame, occupancy: np.ndarray) -> tuple[int, int, int]:
    """SHREC-style localisation counts ``(true positives, picks, particles)``.

    A pick hits the particle whose (one-voxel dilated) occupancy region contains it, as the
    SHREC evaluation reads it (``dilated_occupancy_ids``).
    """
    coordinates = np.rint(picks[["z", "y", "x"]].to_numpy(float)).astype(int)
    coordinates = np.clip(coordinates, 0, np.array(occupancy.shape) - 1)
    hit_ids = dilated_occupancy_ids(occupancy, coordinates)
    particles = int(occupancy.max())
    found = len(set(hit_ids[hit_ids > 0].tolist()))
    return found, len(picks), particles
