"""Measured SNR of a tomogram, the SHREC 2021 paper's definition (§2.1).

``SNR = var(signal) / var(noise)`` with ``var(signal) = var(noisy) − var(noise)``: ``noisy`` is
the reconstruction, ``noise`` the reconstruction minus the reconstruction of the same tilt
series without any noise source (no beam damage, expected counts instead of Poisson draws:
``noisefree_projections.mrc``). The WBP is linear once each projection is normalised to its
contrast ``(I − mean) / mean``, so the noise volume is one back-projection of the difference
of the normalised noisy and noise-free projections (:func:`noise_reconstruction`), exactly the
difference of the two reconstructions up to float rounding, without a second simulation.

Variances are taken over named voxel sets (:func:`snr_by_region`): ``whole_tomogram`` (every
voxel of ``reconstruction.mrc``, the paper's reading and the number the benchmark reports),
``ice_slab`` (the planes of the ice slab) and ``particle_voxels`` (voxels of
``occupancy_mask.mrc`` > 0: proteins, vesicles and gold, "all classes including gold markers").
Each region also reports ``snr_noise_free``: ``var(noisy − noise) / var(noise)``, the SNR
taken from the noise-free reconstruction itself (equal to the paper's when signal and noise
are uncorrelated).
"""

from __future__ import annotations

import numpy as np

from tomobench.reconstruction.wbp import (
    ReconstructionGeometry,
    normalised_contrast,
    weighted_backprojection,
)

DEFINITION = ("SNR = var(signal) / var(noise), var(signal) = var(noisy) - var(noise) (SHREC "
              "2021 paper, section 2.1); noisy = reconstruction.mrc, noise = reconstruction.mrc "
              "minus the reconstruction of the noise-free tilt series (no beam damage, expected "
              "counts), computed as the WBP of the difference of the normalised projections")


def noise_reconstruction(
    projections: np.ndarray,
    noise_free: np.ndarray,
    angles_deg,
    shifts_px,
    geometry: ReconstructionGeometry,
    *,
    cutoff_fraction: float = 0.9,
    edge_fraction: float = 0.18,
    round_angles: bool = False,
    workers: int = 1,
) -> np.ndarray:
    """The noise volume ``R(projections) − R(noise_free)`` ``final_shape`` float32, both
    stacks ``(tilt, Y, X)`` unbinned, with one back-projection (module docstring)."""
    if projections.shape != noise_free.shape:
        raise ValueError(f"projections {projections.shape} and noise-free projections "
                         f"{noise_free.shape} differ in shape")
    difference = np.empty(projections.shape, dtype=np.float32)
    for t in range(projections.shape[0]):
        difference[t] = normalised_contrast(projections[t]) - normalised_contrast(noise_free[t])
    return weighted_backprojection(difference, angles_deg, shifts_px, geometry,
                                   cutoff_fraction=cutoff_fraction, edge_fraction=edge_fraction,
                                   round_angles=round_angles, workers=workers, normalise=False)


def snr_of(noisy: np.ndarray, noise: np.ndarray) -> dict:
    """Variances (float64) and SNRs of the voxels ``noisy`` and ``noise`` (same selection);
    the SNRs are None without noise (no noise source on)."""
    noisy = np.asarray(noisy, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    var_noisy, var_noise = float(noisy.var()), float(noise.var())
    var_signal = var_noisy - var_noise
    return {
        "voxels": int(noisy.size),
        "var_noisy": var_noisy,
        "var_noise": var_noise,
        "var_signal": var_signal,
        "snr": var_signal / var_noise if var_noise > 0 else None,
        "snr_noise_free": float((noisy - noise).var() / var_noise) if var_noise > 0 else None,
    }


def snr_by_region(reconstruction: np.ndarray, noise: np.ndarray, *, ice_planes: slice,
                  occupancy: np.ndarray | None = None) -> dict:
    """``{region: snr_of(...)}`` for ``whole_tomogram``, ``ice_slab`` (z planes
    ``ice_planes``) and, with an ``occupancy`` volume, ``particle_voxels`` (occupancy > 0)."""
    regions = {
        "whole_tomogram": snr_of(reconstruction, noise),
        "ice_slab": snr_of(reconstruction[ice_planes], noise[ice_planes]),
    }
    if occupancy is not None:
        inside = occupancy > 0
        regions["particle_voxels"] = snr_of(reconstruction[inside], noise[inside])
    return regions
