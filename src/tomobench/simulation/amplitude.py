"""Fourier ring amplitude scaling of projections to a reference radial amplitude profile.

SHREC'21 scaled each simulated projection ring by ring to the mean Fourier amplitude of an
experimental image (EMPIAR-10064). Here the reference is a radial profile file
(``tilt_series.amplitude_profile``): plain text, ``#`` comment lines, two whitespace-separated
columns ``frequency_per_nm amplitude`` with strictly increasing frequencies ≥ 0 and
amplitudes ≥ 0 (mean |FFT| of a reference image of the same pixel count, numpy's unnormalised
FFT). Each ring of width 1/(N·pixel) other than DC is multiplied so that its mean amplitude
equals the profile (linearly interpolated; beyond its ends held constant); phases and the
mean (DC) are kept.
"""

from __future__ import annotations

import numpy as np

from tomobench.errors import InputError
from tomobench.fourier import frequency_magnitude
from tomobench.io import text_rows


def read_amplitude_profile(path) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(frequency_per_nm, amplitude)`` arrays; bad content names file:line."""
    frequencies, amplitudes = [], []
    for number, fields, line in text_rows(path, what="amplitude profile"):
        try:
            frequency, amplitude = (float(v) for v in fields)
        except ValueError:
            raise InputError(
                f"{path}:{number}: expected 'frequency_per_nm amplitude', got {line!r}"
            ) from None
        if frequency < 0 or amplitude < 0 or not np.isfinite(frequency + amplitude):
            raise InputError(f"{path}:{number}: values must be finite and >= 0")
        if frequencies and frequency <= frequencies[-1]:
            raise InputError(f"{path}:{number}: frequencies must increase strictly")
        frequencies.append(frequency)
        amplitudes.append(amplitude)
    if len(frequencies) < 2:
        raise InputError(f"{path}: need at least two profile rows")
    return np.array(frequencies), np.array(amplitudes)


def scale_to_profile(image: np.ndarray, pixel_size_nm: float, profile) -> np.ndarray:
    """Scale the ring amplitudes of a ``(ny, nx)`` image to ``profile``; float32."""
    frequencies, amplitudes = profile
    ny, nx = image.shape
    spectrum = np.fft.rfft2(image.astype(np.float64))
    ring_width = 1.0 / (max(ny, nx) * pixel_size_nm)
    rings = np.rint(frequency_magnitude(image.shape, pixel_size_nm, real=True)
                    / ring_width).astype(np.int64)
    magnitude = np.abs(spectrum)
    sums = np.bincount(rings.ravel(), magnitude.ravel())
    counts = np.bincount(rings.ravel())
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    target = np.interp(np.arange(len(means)) * ring_width, frequencies, amplitudes)
    gain = np.divide(target, means, out=np.zeros_like(means), where=means > 0)
    gain[0] = 1.0
    return np.fft.irfft2(spectrum * gain[rings], s=image.shape).astype(np.float32)
