"""Gold fiducials by a Laplacian of Gaussian (the SHREC 2021 TM baseline, σ = 5 voxels).

Gold beads are the highest-contrast blobs of a tomogram. The scale-normalised LoG
``σ² ∇²(G_σ * V)`` is large and positive at the centre of a dark blob (negative for a bright
one); peaks of the response whose robust z-score (median, 1.4826 × MAD of the whole response
map) exceeds ``threshold_sigma`` are reported as class ``fiducial``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage

from tomobench.errors import InputError
from tomobench.methods.peaks import greedy_peaks, subvoxel_offsets

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


def pick_fiducials(tomogram: np.ndarray, sigma_voxels: float = 5.0, threshold_sigma: float = 10.0,
                   contrast: str = "dark", max_count: int | None = None,
                   exclusion_radius_voxels: float | None = None) -> pd.DataFrame:
    """Gold bead positions in a tomogram ``(z, y, x)``.

    Parameters
    ----------
    sigma_voxels : LoG scale (5 in the paper); a bead of radius ``√3 σ`` responds most.
    threshold_sigma : robust z-score a peak must reach.
    exclusion_radius_voxels : minimum distance between beads (default ``2 σ``).

    Returns
    -------
    DataFrame with ``FIDUCIAL_COLUMNS`` (``x, y, z`` float voxels; ``radius_voxels = √3 σ``),
    sorted by decreasing response.
    """
    if not sigma_voxels > 0:
        raise InputError(f"fiducial_sigma_voxels must be positive, got {sigma_voxels}")
    zscore = robust_zscore(log_response(tomogram, sigma_voxels, contrast))
    exclusion = 2.0 * sigma_voxels if exclusion_radius_voxels is None else exclusion_radius_voxels
    coords, values = greedy_peaks(zscore, exclusion, max_peaks=max_count, threshold=threshold_sigma)
    refined = coords + subvoxel_offsets(zscore, coords)
    return pd.DataFrame({
        "class_name": "fiducial",
        "x": refined[:, 2], "y": refined[:, 1], "z": refined[:, 0],
        "score": values.astype(np.float64), "zscore": values.astype(np.float64),
        "radius_voxels": math.sqrt(3.0) * sigma_voxels,
    }, columns=FIDUCIAL_COLUMNS)
