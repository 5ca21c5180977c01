"""Gold fiducials by a Laplacian of Gaussian (the SHREC 2021 TM baseline used σ = 5 voxels).

Gold beads are the highest-contrast blobs of a tomogram. The scale-normalised LoG
``σ² ∇²(G_σ * V)`` is large and positive at the centre of a dark blob (negative for a bright
one) and is turned into a robust z-score (median, 1.4826 × MAD of the whole map). A peak is a
bead when its z-score reaches ``threshold_sigma`` *and* ``contrast_ratio`` times the
``reference_quantile`` quantile of all response peaks above 3: proteins are blobs too, and how
far they stand out depends on the noise, but a bead (gold, ~25 V against ~1.5 V for protein)
stands out several times further than the bulk of them. Calibrated on CTF-filtered scenes of the
twelve SHREC potentials and 4–10 nm gold beads of ``tomobench.structures.gold`` at 1 nm: with
σ = 3 voxels beads reach 45–145 robust σ while the brightest proteins reach 9–22, at noise 1–3×
the signal; with σ = 5 the margin shrinks to 2–3× (small beads lose against ribosomes).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage

from tomobench.errors import InputError
from tomobench.methods.peaks import greedy_peaks, subvoxel_offsets

#: Fewer response peaks above 3 than this: no reference blob level, ``threshold_sigma`` alone.
MIN_REFERENCE_PEAKS = 10
FIDUCIAL_COLUMNS = ["class_name", "x", "y", "z", "score", "zscore", "radius_voxels"]


def robust_zscore(volume: np.ndarray) -> np.ndarray:
    """``(v - median) / (1.4826 MAD)`` of a volume (float32; MAD floor avoids division by 0)."""
    median = float(np.median(volume))
    mad = float(np.median(np.abs(volume - median)))
    scale = 1.4826 * mad if mad > 0 else (float(np.std(volume)) or 1.0)
    return ((volume - median) / scale).astype(np.float32)


def log_response(tomogram: np.ndarray, sigma_voxels: float, contrast: str = "dark") -> np.ndarray:
    """Scale-normalised LoG response, positive at blobs of the given contrast, ``(z, y, x)``."""
    if contrast not in ("dark", "bright"):
        raise InputError(f"fiducial contrast must be 'dark' or 'bright', got {contrast!r}")
    response = ndimage.gaussian_laplace(np.asarray(tomogram, dtype=np.float32), sigma_voxels)
    response *= sigma_voxels**2
    return response if contrast == "dark" else -response


def pick_fiducials(tomogram: np.ndarray, sigma_voxels: float = 3.0, threshold_sigma: float = 10.0,
                   contrast: str = "dark", max_count: int | None = None,
                   exclusion_radius_voxels: float | None = None, contrast_ratio: float = 3.0,
                   reference_quantile: float = 0.9) -> pd.DataFrame:
    """Gold bead positions in a tomogram ``(z, y, x)``.

    Parameters
    ----------
    sigma_voxels : LoG scale; a bead of radius ``√3 σ`` responds most.
    threshold_sigma : robust z-score a bead must reach.
    exclusion_radius_voxels : minimum distance between peaks (default ``2 σ``).
    contrast_ratio, reference_quantile : a bead must also reach ``contrast_ratio`` × the
        ``reference_quantile`` quantile of the z-scores of all peaks above 3 (0 disables; so
        does a volume with fewer than ``MIN_REFERENCE_PEAKS`` such peaks).

    Returns
    -------
    DataFrame with ``FIDUCIAL_COLUMNS`` (``x, y, z`` float voxels; ``radius_voxels = √3 σ``),
    sorted by decreasing response.
    """
    if not sigma_voxels > 0:
        raise InputError(f"fiducial_sigma_voxels must be positive, got {sigma_voxels}")
    zscore = robust_zscore(log_response(tomogram, sigma_voxels, contrast))
    exclusion = 2.0 * sigma_voxels if exclusion_radius_voxels is None else exclusion_radius_voxels
    coords, values = greedy_peaks(zscore, exclusion, threshold=3.0)
    threshold = threshold_sigma
    if contrast_ratio > 0 and len(values) >= MIN_REFERENCE_PEAKS:
        threshold = max(threshold, contrast_ratio * float(np.quantile(values, reference_quantile)))
    keep = values >= threshold
    coords, values = coords[keep][:max_count], values[keep][:max_count]
    refined = coords + subvoxel_offsets(zscore, coords)
    return pd.DataFrame({
        "class_name": "fiducial",
        "x": refined[:, 2], "y": refined[:, 1], "z": refined[:, 0],
        "score": values.astype(np.float64), "zscore": values.astype(np.float64),
        "radius_voxels": math.sqrt(3.0) * sigma_voxels,
    }, columns=FIDUCIAL_COLUMNS)
