"""Reference-free Difference-of-Gaussians picker (aitom-style DoG, multi-scale).

A Gaussian scale space ``G_k = G(σ_k) * V`` with ``σ_{k+1} = κ σ_k`` spans the particle radii;
each level ``D_k = (G_{k+1} - G_k) / (κ - 1)`` approximates the scale-normalised Laplacian
``σ² ∇² G`` at ``σ ≈ σ_k √κ`` and peaks at the centre of a dark blob of radius ``√3 σ``.
Each level is scored as a robust z-score (its median and 1.4826 × MAD); candidates are
local maxima of the best z over levels that reach ``threshold_sigma``, at least
``min_distance_fraction`` × the smallest
class radius apart. Each candidate gets the class whose radius is closest (in log ratio) to
``√3 σ`` of its best scale.

Class radii default to ``VOLUME_RADII_NM``: the radius of the sphere with the volume of the
paper's Table 1 (``(3V / 4π)^(1/3)``, volume of the density thresholded at 0.5).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage

from tomobench.errors import InputError
from tomobench.methods.peaks import greedy_peaks, non_overlapping, subvoxel_offsets

#: (3V/4π)^(1/3) in nm from the volumes of Table 1 of the SHREC 2021 paper.
VOLUME_RADII_NM: dict[str, float] = {
    "1S3X": 2.79, "3QM1": 3.13, "3GL1": 3.61, "3H84": 4.36, "2CG9": 4.58, "3D2F": 4.98,
    "1U6G": 4.92, "3CF3": 6.47, "1BXN": 6.25, "1QVR": 6.86, "4CR2": 8.61, "5MRC": 11.5,
}


#: Parameters of a ``dog`` method entry and their defaults.
DOG_DEFAULTS = {
    "radii_nm": None,
    "sigma_ratio": 1.25,
    "threshold_sigma": 8.0,
    "contrast": "dark",
    "min_distance_fraction": 1.0,
    "max_picks": None,
    "border_voxels": 2,
}


def pick(tomogram: np.ndarray, voxel_size_nm: float, classes: list[str], params: dict
         ) -> pd.DataFrame:
    """``dog_pick`` with the parameters of a ``dog`` method entry (unknown keys: ``InputError``)."""
    unknown = sorted(set(params) - set(DOG_DEFAULTS) - {"kind"})
    if unknown:
        raise InputError(f"methods.<DoG>: unknown keys {unknown}; known: {sorted(DOG_DEFAULTS)}")
    options = {**DOG_DEFAULTS, **{k: v for k, v in params.items() if k != "kind"}}
    return dog_pick(tomogram, voxel_size_nm, classes, **options)


def class_radii_nm(classes: list[str], radii_nm: dict[str, float] | None = None
                   ) -> dict[str, float]:
    """Radius (nm) of each class: ``radii_nm`` entries override ``VOLUME_RADII_NM``."""
    table = {**VOLUME_RADII_NM, **(radii_nm or {})}
    missing = [c for c in classes if c not in table]
    if missing:
        raise InputError(f"methods.<DoG>.radii_nm: no radius for classes {missing}")
    return {c: float(table[c]) for c in classes}


def _robust_location_scale(volume: np.ndarray) -> tuple[float, float]:
    """Median and 1.4826 × MAD of a volume, from every 2nd voxel along each axis."""
    sample = volume[::2, ::2, ::2]
    median = float(np.median(sample))
    mad = float(np.median(np.abs(sample - median)))
    return median, (1.4826 * mad if mad > 0 else float(sample.std()) or 1.0)


def dog_scale_space(tomogram: np.ndarray, sigmas_voxels: np.ndarray, ratio: float,
                    contrast: str = "dark") -> tuple[np.ndarray, np.ndarray]:
    """Detection map and best scale of a DoG scale space.

    Each level's response is turned into a robust z-score (its own median and MAD: the noise
    level differs between scales); the detection map is the best z over levels. The scale of a
    voxel is the level with the largest *scale-normalised* response ``D_k``, which peaks at
    ``σ = r / √3`` for a blob of radius ``r``.

    Parameters
    ----------
    tomogram : ``(z, y, x)``.
    sigmas_voxels : increasing ``σ_k`` (the last level uses ``σ_{K-1}`` and ``κ σ_{K-1}``).

    Returns
    -------
    zscore : float32 ``(z, y, x)``; scale_index : int8 ``(z, y, x)``.
    """
    if contrast not in ("dark", "bright"):
        raise InputError(f"methods.<DoG>.contrast must be 'dark' or 'bright', got {contrast!r}")
    volume = np.asarray(tomogram, dtype=np.float32)
    sign = 1.0 if contrast == "dark" else -1.0
    best_z = np.full(volume.shape, -np.inf, dtype=np.float32)
    best_response = np.full(volume.shape, -np.inf, dtype=np.float32)
    best_index = np.zeros(volume.shape, dtype=np.int8)
    previous = ndimage.gaussian_filter(volume, float(sigmas_voxels[0]), mode="reflect")
    for k, sigma in enumerate(sigmas_voxels):
        wider = ndimage.gaussian_filter(volume, float(sigma) * ratio, mode="reflect")
        level = (wider - previous) * np.float32(sign / (ratio - 1.0))
        median, scale = _robust_location_scale(level)
        level_z = (level - median) / np.float32(scale)
        better = level > best_response
        best_response[better] = level[better]
        best_index[better] = k
        np.maximum(best_z, level_z, out=best_z)
        if k + 1 < len(sigmas_voxels) and abs(sigmas_voxels[k + 1] - sigma * ratio) < 1e-6:
            previous = wider
        elif k + 1 < len(sigmas_voxels):
            previous = ndimage.gaussian_filter(volume, float(sigmas_voxels[k + 1]), mode="reflect")
    return best_z, best_index


def dog_pick(tomogram: np.ndarray, voxel_size_nm: float, classes: list[str], *,
             radii_nm: dict[str, float] | None = None, sigma_ratio: float = 1.25,
             threshold_sigma: float = 8.0, contrast: str = "dark",
             min_distance_fraction: float = 1.0, max_picks: int | None = None,
             border_voxels: int = 2) -> pd.DataFrame:
    """Pick and classify blobs in ``tomogram`` ``(z, y, x)``.

    Returns
    -------
    DataFrame ``class_name, x, y, z, score`` (float voxels; score = best robust z over scales),
    sorted by decreasing score.
    """
    if not classes:
        raise InputError("DoG picker: no classes to assign (structures.classes is empty)")
    if not sigma_ratio > 1:
        raise InputError(f"methods.<DoG>.sigma_ratio must be > 1, got {sigma_ratio}")
    radii = class_radii_nm(classes, radii_nm)
    names = list(radii)
    radius_values = np.array([radii[c] for c in names])
    sigma_low = radius_values.min() / math.sqrt(3.0) / voxel_size_nm / math.sqrt(sigma_ratio)
    sigma_high = radius_values.max() / math.sqrt(3.0) / voxel_size_nm / math.sqrt(sigma_ratio)
    octaves = math.log(sigma_high / sigma_low) / math.log(sigma_ratio)
    levels = max(1, int(math.ceil(octaves - 1e-9)) + 1)
    sigmas = sigma_low * sigma_ratio ** np.arange(levels)
    zscore, scale_index = dog_scale_space(tomogram, sigmas, sigma_ratio, contrast)
    min_distance = max(1.0, min_distance_fraction * radius_values.min() / voxel_size_nm)
    coords, values = greedy_peaks(zscore, min_distance, max_peaks=max_picks,
                                  threshold=threshold_sigma, border=border_voxels)
    effective_sigma = sigmas[scale_index[tuple(coords.T)]] * math.sqrt(sigma_ratio)
    blob_radius_nm = math.sqrt(3.0) * effective_sigma * voxel_size_nm
    nearest = np.argmin(np.abs(np.log(blob_radius_nm[:, None] / radius_values[None, :])), axis=1)
    # A blob's own scale sets its exclusion zone: weaker picks within the class radius of a
    # stronger one are parts of the same (larger) particle.
    keep = non_overlapping(coords, 0.5 * radius_values[nearest] / voxel_size_nm)
    coords, values, nearest = coords[keep], values[keep], nearest[keep]
    refined = coords + subvoxel_offsets(zscore, coords)
    return pd.DataFrame({
        "class_name": [names[i] for i in nearest],
        "x": refined[:, 2], "y": refined[:, 1], "z": refined[:, 0],
        "score": values.astype(np.float64),
    }, columns=["class_name", "x", "y", "z", "score"])
