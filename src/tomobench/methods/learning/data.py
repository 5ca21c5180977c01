"""Training data for the learning pickers: tomograms, class tables and class-balanced patches.

A training tomogram is the directory ``results/<name>/data/model_<i>/`` (``tomobench.io``) with
``reconstruction.mrc`` (input), ``class_mask.mrc`` (segmentation target), ``occupancy_mask.mrc``
(particle instances, for per-class size statistics), ``grandmodel.mrc`` (denoising target) and
``particle_locations.txt`` (centres for the class-balanced sampling). Arrays are ``(z, y, x)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench.classes import CLASS_ID, SHREC_CLASS_NAMES
from tomobench.errors import InputError
from tomobench.fourier import fourier_bin
from tomobench.io import TRAINING_FILES
from tomobench.methods.learning.augment import augment
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations


def normalize(volume: np.ndarray, clip_sigma: float = 5.0) -> np.ndarray:
    """Zero-mean, unit-variance float32 copy of ``volume``, clipped to ``±clip_sigma``."""
    volume = np.asarray(volume, dtype=np.float32)
    std = float(volume.std())
    out = (volume - np.float32(volume.mean())) / np.float32(std if std > 0 else 1.0)
    return np.clip(out, -clip_sigma, clip_sigma, out=out)


@dataclass
class TomogramData:
    """One annotated tomogram; every volume has the same shape ``(z, y, x)``.

    Attributes
    ----------
    reconstruction, grandmodel : float32, normalised (``normalize``)
    class_mask : uint8 SHREC class ids
    occupancy : int32 particle ids (line k of ``particles`` is id k + 1)
    particles : DataFrame ``class_name, x, y, z, ...``
    """

    name: str
    reconstruction: np.ndarray
    class_mask: np.ndarray
    occupancy: np.ndarray
    grandmodel: np.ndarray
    particles: pd.DataFrame
    voxel_size_nm: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.reconstruction.shape)


def _read_volume(path: Path) -> tuple[np.ndarray, float]:
    if not Path(path).is_file():
        raise InputError(f"{path}: file not found")
    array, voxel_size_nm = read_mrc(path)
    if array.ndim != 3:
        raise InputError(f"{path}: expected a 3-D volume, got shape {array.shape}")
    return array, voxel_size_nm


def _integer_volume(array: np.ndarray, path: Path, high: int) -> np.ndarray:
    rounded = np.rint(array)
    if not np.array_equal(rounded, array) or rounded.min() < 0 or rounded.max() > high:
        raise InputError(f"{path}: expected integer labels in [0, {high}]")
    return rounded


def load_tomogram(paths: dict[str, str | os.PathLike], name: str | None = None) -> TomogramData:
    """Load one annotated tomogram from ``paths`` (keys ``tomobench.io.TRAINING_FILES``).

    Raises ``InputError`` naming the file when a volume is missing, has another shape than the
    reconstruction, or holds non-integer labels.
    """
    missing = [key for key in TRAINING_FILES if key not in paths]
    if missing:
        raise InputError(f"tomogram {name}: missing input files {missing}")
    paths = {key: Path(value) for key, value in paths.items()}
    reconstruction, voxel_size_nm = _read_volume(paths["reconstruction"])
    volumes = {}
    for key in ("class_mask", "occupancy_mask", "grandmodel"):
        volumes[key], _ = _read_volume(paths[key])
        if volumes[key].shape != reconstruction.shape:
            raise InputError(f"{paths[key]}: shape {volumes[key].shape} differs from "
                             f"{paths['reconstruction']} {reconstruction.shape}")
    particles = read_particle_locations(paths["particle_locations"])
    class_mask = _integer_volume(volumes["class_mask"], paths["class_mask"],
                                 len(SHREC_CLASS_NAMES) - 1).astype(np.uint8)
    occupancy = _integer_volume(volumes["occupancy_mask"], paths["occupancy_mask"],
                                len(particles)).astype(np.int32)
    unknown = sorted(set(particles.class_name) - set(CLASS_ID))
    if unknown:
        raise InputError(f"{paths['particle_locations']}: unknown classes {unknown}")
    return TomogramData(
        name=name or paths["reconstruction"].parent.name,
        reconstruction=normalize(reconstruction),
        class_mask=class_mask,
        occupancy=occupancy,
        grandmodel=normalize(volumes["grandmodel"]),
        particles=particles,
        voxel_size_nm=voxel_size_nm,
    )


def bin_volume(volume: np.ndarray, binning: int, what: str = "tomogram") -> np.ndarray:
    """A ``(z, y, x)`` volume Fourier-binned by ``binning`` (1 = unchanged): sample ``i`` of the
    result sits at input voxel ``binning * i`` (``tomobench.fourier.fourier_bin``).

    Raises ``InputError`` naming ``what`` when an edge is not a multiple of ``binning``.
    """
    if binning == 1:
        return volume
    if any(n % binning for n in volume.shape):
        raise InputError(f"{what}: shape {volume.shape} is not a multiple of "
                         f"training.input_binning = {binning} along every axis")
    return fourier_bin(volume, binning)


def bin_tomogram(tomogram: TomogramData, binning: int) -> TomogramData:
    """The annotated tomogram at ``binning`` times the voxel size, on the grid of
    ``bin_volume``: reconstruction and grand model Fourier-binned (then normalised), masks
    sampled at voxels ``binning * i`` (so a label is the one at the binned voxel's position),
    particle centres divided by ``binning`` and rounded down (inside the binned grid).
    """
    if binning == 1:
        return tomogram
    take = (slice(None, None, binning),) * 3
    particles = tomogram.particles.copy()
    for axis in "xyz":
        particles[axis] = np.floor(particles[axis].to_numpy(dtype=np.float64) / binning)
    return replace(
        tomogram,
        reconstruction=normalize(bin_volume(tomogram.reconstruction, binning, tomogram.name)),
        grandmodel=normalize(bin_volume(tomogram.grandmodel, binning, tomogram.name)),
        class_mask=np.ascontiguousarray(tomogram.class_mask[take]),
        occupancy=np.ascontiguousarray(tomogram.occupancy[take]),
        particles=particles,
        voxel_size_nm=tomogram.voxel_size_nm * binning,
    )


@dataclass(frozen=True)
class ClassTable:
    """Network output channels: ``class_ids[c]`` is the SHREC class id of channel ``c``.

    Channel 0 is always background (id 0).
    """

    class_ids: tuple[int, ...]

    @classmethod
    def from_tomograms(cls, tomograms: list[TomogramData]) -> ClassTable:
        """All class ids present in the class masks of ``tomograms`` (sorted, background first)."""
        present = {0}
        for tomogram in tomograms:
            present.update(int(v) for v in np.unique(tomogram.class_mask))
        return cls(tuple(sorted(present)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(SHREC_CLASS_NAMES[i] for i in self.class_ids)

    def channel_map(self, class_mask: np.ndarray) -> np.ndarray:
        """Class-id volume → channel-index volume (uint8); unknown ids map to background."""
        lookup = np.zeros(len(SHREC_CLASS_NAMES), dtype=np.uint8)
        for channel, class_id in enumerate(self.class_ids):
            lookup[class_id] = channel
        return lookup[class_mask]


def class_statistics(tomograms: list[TomogramData], table: ClassTable) -> dict[str, dict]:
    """Per-class particle sizes from the occupancy masks (used to scale post-processing).

    Returns ``{class_name: {"count", "median_voxels", "radius_voxels"}}`` where
    ``radius_voxels`` is the radius of the sphere with the median occupancy volume.
    """
    voxels: dict[str, list[int]] = {name: [] for name in table.names[1:]}
    for tomogram in tomograms:
        counts = np.bincount(tomogram.occupancy.ravel(), minlength=len(tomogram.particles) + 1)
        for line, class_name in enumerate(tomogram.particles.class_name):
            if class_name in voxels and counts[line + 1] > 0:
                voxels[class_name].append(int(counts[line + 1]))
    stats = {}
    for name, values in voxels.items():
        if not values:
            continue
        median = float(np.median(values))
        stats[name] = {
            "count": len(values),
            "median_voxels": median,
            "radius_voxels": float((3 * median / (4 * np.pi)) ** (1 / 3)),
        }
    return stats


def patch_shape_of(value: int | list[int]) -> tuple[int, int, int]:
    """A patch size given as one int (cube) or ``[z, y, x]``."""
    shape = (int(value),) * 3 if np.isscalar(value) else tuple(int(v) for v in value)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"patch size must be an int or [z, y, x], got {value!r}")
    return shape


@dataclass
class PatchSampler:
    """Class-balanced patch sampling from annotated tomograms.

    Each patch is, with probability ``background_fraction``, placed uniformly at random;
    otherwise a class is drawn among the classes with particles (uniformly, or with
    ``class_probabilities[class_id]`` normalised over those classes), then one of its
    particles, and the patch is centred on it plus a uniform shift of up to ``shift_voxels``
    per axis (clamped to stay inside the tomogram). Rare classes are thus seen as often as
    abundant ones (DeepFinder's "bootstrap").

    Parameters
    ----------
    inputs : list of ``(z, y, x)`` float32 arrays, one per tomogram
    targets : list of dicts ``{name: array}``; an array is ``(z, y, x)`` or ``(C, z, y, x)``
    centres : list of DataFrames ``class_id, z, y, x`` of particle centres per tomogram
    """

    inputs: list[np.ndarray]
    targets: list[dict[str, np.ndarray]]
    centres: list[pd.DataFrame]
    patch_shape: tuple[int, int, int]
    shift_voxels: int = 0
    background_fraction: float = 0.1
    class_probabilities: dict[int, float] | None = None
    _pool: dict[int, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for volume in self.inputs:
            if any(p > s for p, s in zip(self.patch_shape, volume.shape, strict=True)):
                raise InputError(f"training.patch_voxels {list(self.patch_shape)} exceeds the "
                                 f"tomogram shape {list(volume.shape)}")
        rows = [frame.assign(tomogram=index) for index, frame in enumerate(self.centres)]
        table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        self._pool = {
            int(cid): group[["tomogram", "z", "y", "x"]].to_numpy(dtype=np.int64)
            for cid, group in table.groupby("class_id", sort=True)
        } if len(table) else {}

    @property
    def class_ids(self) -> list[int]:
        return sorted(self._pool)

    def _start(self, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        if not self._pool or rng.random() < self.background_fraction:
            tomogram = int(rng.integers(len(self.inputs)))
            shape = np.array(self.inputs[tomogram].shape)
            return tomogram, rng.integers(0, shape - np.array(self.patch_shape) + 1)
        classes = self.class_ids
        if self.class_probabilities is None:
            chosen = int(rng.integers(len(classes)))
        else:
            weights = np.array([self.class_probabilities.get(c, 0.0) for c in classes])
            chosen = int(rng.choice(len(classes), p=weights / weights.sum()))
        members = self._pool[classes[chosen]]
        tomogram, *centre = members[int(rng.integers(len(members)))]
        shape = np.array(self.inputs[tomogram].shape)
        centre = np.array(centre) + rng.integers(-self.shift_voxels, self.shift_voxels + 1, 3)
        start = centre - np.array(self.patch_shape) // 2
        return int(tomogram), np.clip(start, 0, shape - np.array(self.patch_shape))

    def sample(self, rng: np.random.Generator, augment_mode: str = "none"
               ) -> dict[str, np.ndarray]:
        """One patch: ``{"input": (1, z, y, x), <target>: (z, y, x) or (C, z, y, x)}``."""
        tomogram, start = self._start(rng)
        window = tuple(slice(int(s), int(s) + p) for s, p in zip(start, self.patch_shape,
                                                                  strict=True))
        names = ["input", *self.targets[tomogram]]
        arrays = [self.inputs[tomogram][None][(slice(None), *window)]]
        arrays += [t[(..., *window)] for t in self.targets[tomogram].values()]
        return dict(zip(names, augment(arrays, rng, augment_mode), strict=True))

    def batch(self, rng: np.random.Generator, batch_size: int, augment_mode: str = "none"
              ) -> dict[str, np.ndarray]:
        """``batch_size`` patches stacked along a new first axis."""
        samples = [self.sample(rng, augment_mode) for _ in range(batch_size)]
        return {key: np.stack([s[key] for s in samples]) for key in samples[0]}


def particle_centres(tomogram: TomogramData, table: ClassTable) -> pd.DataFrame:
    """Centres ``class_id, z, y, x`` of the particles whose class is a network output."""
    ids = tomogram.particles.class_name.map(CLASS_ID)
    frame = pd.DataFrame({"class_id": ids, "z": tomogram.particles.z, "y": tomogram.particles.y,
                          "x": tomogram.particles.x})
    frame = frame[frame.class_id.isin(table.class_ids[1:])]
    shape = np.array(tomogram.shape)
    inside = np.all((frame[["z", "y", "x"]].to_numpy() >= 0)
                    & (frame[["z", "y", "x"]].to_numpy() < shape), axis=1)
    return frame[inside].reset_index(drop=True)
