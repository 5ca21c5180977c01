"""Beam-damage noise: the organisers' additive Gaussian noise in its two published variants.

The SHREC'21 simulator degraded each tomogram with Gaussian "beam damage" noise whose SNR is
drawn per tomogram (``BeamDamageSNR = [0.6, 1.4]``; survey §4.1, §4.8). Two variants exist:

``grand_model_3d`` (PyTom ``generate_model``, March–July 2021, the code the SHREC 2021 data
    were made with): white 3D noise ``n`` added to the grand model (particles, vesicles, gold;
    no ice) with ``σ = μ / √SNR``, ``μ`` the mean real potential of the voxels above 0.01 V
    (so SNR = μ² / σ²); the imaginary part gets the same noise scaled by ``μ_imag / μ``
    (``μ_imag``: mean imaginary potential of the voxels above 0.01 V). The noise is one field
    per tomogram, seen by every tilt.
``intensity_2d`` (PyTom ``parallel_project`` from July 2021, the 2022 recipe): white 2D noise
    added to each tilt's noise-free image-plane intensity before the detector, with
    ``σ = std(I[I > 0.1]) / √SNR`` (SNR = var(signal) / var(noise) of that image), a new field
    per tilt.

Streams: the 3D field's plane ``z`` comes from ``rng(seed, "beam_damage", model_id, z)`` (the
field does not depend on how the planes are read), the 2D noise of tilt ``i`` from
``rng(seed, "beam_damage", model_id, "tilt", i)``.
"""

from __future__ import annotations

import numpy as np

from tomobench import seeding

VARIANTS = ("grand_model_3d", "intensity_2d", "none")
#: Grand-model voxels (volts, ice removed) counted as signal by the 3D variant.
SIGNAL_THRESHOLD_3D_V = 0.01
#: Intensity pixels (normalised intensity, mean ≈ 1) counted as signal by the 2D variant.
SIGNAL_THRESHOLD_2D = 0.1


def grand_model_signal_means(potential, ice_v: complex, planes_per_chunk: int = 8):
    """``(μ_real, μ_imag)``: mean real and imaginary potential (V) of the voxels of the grand
    model above :data:`SIGNAL_THRESHOLD_3D_V`, the ice background ``ice_v`` removed first.

    ``potential``: complex ``(nz, ny, nx)`` array or z-slab reader (``potential[z0:z1]``, e.g.
    :class:`tomobench.mrc.MrcVolume`), read one slab at a time. ``μ_imag`` is 0 when no voxel
    of the imaginary part exceeds the threshold.
    """
    sums = np.zeros(2)
    counts = np.zeros(2, dtype=np.int64)
    nz = potential.shape[0]
    for z0 in range(0, nz, planes_per_chunk):
        block = np.asarray(potential[z0 : min(z0 + planes_per_chunk, nz)])
        for k, (part, background) in enumerate(((block.real, ice_v.real),
                                                (block.imag, ice_v.imag))):
            values = part.astype(np.float64) - background
            above = values > SIGNAL_THRESHOLD_3D_V
            sums[k] += values[above].sum()
            counts[k] += int(above.sum())
    if counts[0] == 0:
        raise ValueError("beam damage (grand_model_3d): no grand-model voxel above "
                         f"{SIGNAL_THRESHOLD_3D_V} V, the noise level is undefined")
    return float(sums[0] / counts[0]), float(sums[1] / counts[1]) if counts[1] else 0.0


class GrandModelNoise:
    """The 3D beam-damage field of one tomogram: float32 ``(nz, ny, nx)`` white Gaussian noise
    of σ ``sigma_v`` (volts), read by z-slabs like :class:`tomobench.mrc.MrcVolume`
    (``field[z0:z1]``); plane ``z`` is drawn from ``rng(seed, "beam_damage", model_id, z)``.
    """

    def __init__(self, shape: tuple[int, int, int], sigma_v: float, seed: int, model_id: int):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(np.float32)
        self.sigma_v = float(sigma_v)
        self.seed, self.model_id = int(seed), int(model_id)

    def __getitem__(self, planes: slice) -> np.ndarray:
        start, stop, step = planes.indices(self.shape[0])
        if step != 1:
            raise ValueError("GrandModelNoise reads contiguous z-slabs only")
        out = np.empty((max(stop - start, 0), *self.shape[1:]), np.float32)
        for k, z in enumerate(range(start, stop)):
            rng = seeding.rng(self.seed, "beam_damage", self.model_id, z)
            out[k] = rng.standard_normal(self.shape[1:], dtype=np.float32)
        out *= np.float32(self.sigma_v)
        return out


def grand_model_noise_sigma_v(mean_real_v: float, snr: float) -> float:
    """σ of the 3D noise: SNR = μ² / σ² (the organisers' definition)."""
    return float(mean_real_v / np.sqrt(snr))


def intensity_noise(intensity: np.ndarray, snr: float, seed: int, model_id: int,
                    tilt: int) -> tuple[np.ndarray, float]:
    """2D beam-damage noise of one tilt: float32 ``(ny, nx)`` white Gaussian noise with
    ``σ = std(I[I > 0.1]) / √snr`` of the noise-free intensity ``I`` ``(ny, nx)``, and σ."""
    values = np.asarray(intensity, dtype=np.float64)
    signal = values[values > SIGNAL_THRESHOLD_2D]
    sigma = float(signal.std() / np.sqrt(snr)) if signal.size else 0.0
    rng = seeding.rng(seed, "beam_damage", model_id, "tilt", tilt)
    noise = rng.standard_normal(values.shape, dtype=np.float32) * np.float32(sigma)
    return noise, sigma
