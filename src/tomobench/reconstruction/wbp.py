"""Weighted back-projection with shift correction and Fourier binning (PyTom-like, §4.10).

Per projection (unbinned ``(Y, X)`` at the simulation pixel): normalise to contrast
``(I − mean)/mean``; in Fourier space undo the simulated shift (phase ramp), crop to the binned
size (Fourier binning: binned pixel ``i`` sits at unbinned position ``binning · i``), weight by
the ramp ``|k_x| / Nyquist`` (perpendicular to the tilt axis y) times a soft low-pass (1 below
``lowpass_cutoff_fraction`` of Nyquist, Gaussian fall-off of σ = ``lowpass_edge_fraction``
beyond) times a hard circular mask at Nyquist. Then real-space back-projection with linear
interpolation along x into the final frame.

Geometry (same as :mod:`tomobench.simulation.projector`): reconstruction voxel ``(J, y, I)``
is the unbinned sample point ``z = binning · (J − z_offset)``, ``x = binning · I``; relative
to the rotation centre ``c = (n − 1)/2`` of the unbinned model it projects at tilt θ to the
unbinned image column ``ξ cos θ + ζ sin θ + c_x``. So an object at a voxel of the binned
grand model reconstructs at the same voxel.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from tomobench.fourier import frequency_axes
from tomobench.progress import Progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconstructionGeometry:
    """Final frame and the unbinned model it was simulated from."""

    final_shape: tuple[int, int, int]  # (size_z, size_xy, size_xy)
    binning: int
    z_offset: int
    unbinned_nz: int  # thickness of the simulated slab (simulation voxels)


def wbp_filter(shape: tuple[int, int], cutoff_fraction: float, edge_fraction: float) -> np.ndarray:
    """Ramp × soft low-pass × Nyquist mask for ``rfft2`` of a binned ``(ny, nx)`` image."""
    ky, kx = (k / 0.5 for k in frequency_axes(shape, real=True))  # fractions of Nyquist
    radius = np.sqrt(ky**2 + kx**2)
    lowpass = np.ones_like(radius)
    beyond = radius > cutoff_fraction
    if edge_fraction > 0:
        lowpass[beyond] = np.exp(
            -((radius[beyond] - cutoff_fraction) ** 2) / (2 * edge_fraction**2)
        )
    else:
        lowpass[beyond] = 0.0
    return (np.abs(kx) * lowpass * (radius <= 1.0)).astype(np.float32)


def normalised_contrast(image: np.ndarray) -> np.ndarray:
    """The WBP's normalisation of a projection: ``(I − mean) / mean`` (float32)."""
    mean = float(image.mean())
    return ((image - mean) / (mean if mean != 0 else 1.0)).astype(np.float32)


def filter_projection(
    image: np.ndarray, shift_px: tuple[float, float], binning: int, weights: np.ndarray,
    normalise: bool = True,
) -> np.ndarray:
    """Normalised (:func:`normalised_contrast`; as given with ``normalise=False``), shift-corrected,
    Fourier-binned and weighted projection ``(Y/b, X/b)``."""
    ny, nx = image.shape
    my, mx = ny // binning, nx // binning
    if normalise:
        mean = float(image.mean())
        contrast = (image - mean) / (mean if mean != 0 else 1.0)
    else:
        contrast = image
    spectrum = sfft.rfft2(contrast.astype(np.float32))
    ky, kx = frequency_axes((ny, nx), real=True)
    spectrum *= np.exp(2j * np.pi * (kx * shift_px[0] + ky * shift_px[1])).astype(np.complex64)
    rows = np.r_[0 : my // 2, ny - my // 2 : ny] if my > 1 else np.array([0])
    cropped = spectrum[rows][:, : mx // 2 + 1]
    return sfft.irfft2(cropped * weights, s=(my, mx)).astype(np.float32) / binning**2


def backproject(
    filtered: np.ndarray, angles_deg, geometry: ReconstructionGeometry, z_chunk: int = 8,
    workers: int = 1,
) -> np.ndarray:
    """Back-project filtered binned projections ``(tilt, Y, X)`` into ``final_shape``.

    Blocks of ``z_chunk`` planes are independent: ``workers`` threads fill them side by side
    (numpy releases the GIL), each summing the tilts in order, so the result does not depend
    on ``workers``.
    """
    nzf, nyf, nxf = geometry.final_shape
    b = geometry.binning
    unbinned_nx = b * nxf
    cz, cx = (geometry.unbinned_nz - 1) / 2.0, (unbinned_nx - 1) / 2.0
    columns = np.ascontiguousarray(filtered.transpose(0, 2, 1))  # (tilt, X, Y)
    volume = np.zeros((nzf, nxf, nyf), dtype=np.float32)  # (z, x, y) while accumulating
    xi = b * np.arange(nxf) - cx
    thetas = [math.radians(angle) for angle in angles_deg]
    progress = Progress("back-projection: block of planes", -(-nzf // z_chunk), logger)

    def fill(z0: int) -> None:
        z = np.arange(z0, min(z0 + z_chunk, nzf))
        zeta = b * (z - geometry.z_offset) - cz
        block = volume[z0 : z0 + len(z)]
        for t, theta in enumerate(thetas):
            u = ((xi[None, :] * math.cos(theta) + zeta[:, None] * math.sin(theta)) + cx) / b
            i0 = np.floor(u).astype(np.int64)
            w1 = (u - i0).astype(np.float32)
            w0 = 1.0 - w1
            w0[(i0 < 0) | (i0 >= nxf)] = 0
            w1[(i0 + 1 < 0) | (i0 + 1 >= nxf)] = 0
            lo, hi = np.clip(i0, 0, nxf - 1), np.clip(i0 + 1, 0, nxf - 1)
            block += w0[..., None] * columns[t][lo]
            block += w1[..., None] * columns[t][hi]
        progress.step()

    starts = range(0, nzf, z_chunk)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, starts))
    else:
        for z0 in starts:
            fill(z0)
    volume *= np.float32(math.pi / (2 * max(len(angles_deg), 1)))
    return np.ascontiguousarray(volume.transpose(0, 2, 1))


def weighted_backprojection(
    projections: np.ndarray,
    angles_deg,
    shifts_px,
    geometry: ReconstructionGeometry,
    cutoff_fraction: float = 0.9,
    edge_fraction: float = 0.18,
    round_angles: bool = False,
    workers: int = 1,
    normalise: bool = True,
) -> np.ndarray:
    """Reconstruct ``(size_z, size_xy, size_xy)`` float32 from unbinned ``(tilt, Y, X)``.

    ``shifts_px`` (tilt, 2) = simulated (x, y) image shifts in unbinned pixels (undone here);
    ``round_angles`` back-projects with whole-degree angles (``faithful.round_wbp_angles``);
    ``workers`` threads filter projections and fill z-blocks side by side (same result);
    ``normalise=False`` skips the per-projection :func:`normalised_contrast` normalisation,
    after which the reconstruction is linear in the projections.
    """
    b = geometry.binning
    tilts, ny, nx = projections.shape
    if ny % b or nx % b or nx // b != geometry.final_shape[2] or ny // b != geometry.final_shape[1]:
        raise ValueError(
            f"projections {projections.shape[1:]} do not bin by {b} to {geometry.final_shape[1:]}"
        )
    weights = wbp_filter((ny // b, nx // b), cutoff_fraction, edge_fraction)
    filtered = np.empty((tilts, ny // b, nx // b), dtype=np.float32)

    def filter_one(t: int) -> None:
        filtered[t] = filter_projection(projections[t], tuple(shifts_px[t]), b, weights,
                                        normalise)

    with ThreadPoolExecutor(max(workers, 1)) as pool:
        list(pool.map(filter_one, range(tilts)))
    angles = np.round(angles_deg) if round_angles else np.asarray(angles_deg, dtype=float)
    logger.info("filtered %d projections; back-projecting into %s", tilts, geometry.final_shape)
    return backproject(filtered, angles, geometry, workers=workers)
