"""Detector model: K2 Summit DQE/MTF (counting mode, 300 kV) and dose-dependent counting.

Curves follow the SHREC'21 form ``f(x) = p1 · sinc²(π (x − p2) p3) + p4`` (x = spatial
frequency in units of the *detector* Nyquist). The organisers fitted digitised K2 curves
(Ruskin, Yu & Grigorieff 2013, J. Struct. Biol. 184:385) that are not available offline, so the
parameters below are our own ``scipy.optimize.curve_fit`` fits (start (1, 1, 1, 1)) to these
approximate values read from published K2 counting-mode curves at 300 kV (max. deviation of
the fit 0.01):

====  ====  ====  ====  ====  ====  ====  ====  ====  ====  ====  ====
x     0     0.1   0.2   0.3   0.4   0.5   0.6   0.7   0.8   0.9   1.0
MTF   1.00  .985  .95   .90   .84   .77   .71   .66   .61   .56   .52
DQE   .82   .80   .76   .70   .63   .56   .49   .42   .36   .30   .25
====  ====  ====  ====  ====  ====  ====  ====  ====  ====  ====  ====

As SHREC'21 the simulated pixel is treated as a ``DETECTOR_OVERSAMPLING``×-binned detector
pixel, so images see the curves up to x = 0.5. Signal path: FFT(I) · S with
S = √(DQE₀ · DQE(k)), clipped at 0, times dose → Poisson counts → FFT · MTF/(MTF₀ · S). The
mean count equals the dose, the signal transfer is the (normalised) MTF, and the noise power is
dose · MTF²/(MTF₀² · DQE), so the output SNR² is exactly DQE(k) times that of an ideal counter:
at zero frequency the K2's measured DQE₀ ≈ 0.82, not 1. (The organisers' unnormalised
S = √DQE, N = MTF/√DQE gives an effective DQE(k)/√DQE₀, 0.91 at zero frequency.)
"""

from __future__ import annotations

import numpy as np

from tomobench.fourier import frequency_magnitude
from tomobench.simulation.noise import poisson_counts

K2_MTF_PARAMS = (-0.5276, 1.1445, 0.7021, 1.0353)
K2_DQE_PARAMS = (-0.642, 1.1931, 0.6724, 0.8612)
DETECTOR_OVERSAMPLING = 2
DETECTORS = ("K2", "ideal")


def sinc2_curve(x, params) -> np.ndarray:
    """``p1 · sinc²(π (x − p2) p3) + p4`` (numpy's normalised sinc absorbs the π)."""
    p1, p2, p3, p4 = params
    return p1 * np.sinc((np.asarray(x) - p2) * p3) ** 2 + p4


def detector_filters(shape: tuple[int, int], detector: str):
    """Signal ``S = √(DQE₀·DQE)`` and noise ``MTF/(MTF₀·S)`` filters ``(ny, nx // 2 + 1)``
    for ``rfft2`` images (module docstring); ``None`` for the ideal detector.
    """
    if detector == "ideal":
        return None, None
    if detector != "K2":
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    # cycles/pixel -> fraction of the image Nyquist (0.5) -> fraction of the detector Nyquist
    x = frequency_magnitude(shape, real=True) / 0.5 / DETECTOR_OVERSAMPLING
    mtf, dqe = sinc2_curve(x, K2_MTF_PARAMS), np.clip(sinc2_curve(x, K2_DQE_PARAMS), 1e-7, None)
    mtf0, dqe0 = sinc2_curve(0.0, K2_MTF_PARAMS), sinc2_curve(0.0, K2_DQE_PARAMS)
    signal = np.sqrt(dqe0 * dqe)
    noise = mtf / mtf0 / signal
    return signal.astype(np.float32), noise.astype(np.float32)


def detect(
    intensity: np.ndarray,
    electrons_per_pixel: float,
    rng: np.random.Generator,
    detector: str = "K2",
    noise: bool = True,
) -> np.ndarray:
    """Detected image (electron counts) of a normalised intensity ``(ny, nx)`` (mean ≈ 1).

    ``electrons_per_pixel`` = dose per tilt (e⁻/Å²) × pixel area (Å²). Without ``noise`` the
    expected counts are returned (MTF filtered, like the noisy image's mean). float32.
    """
    signal_filter, noise_filter = detector_filters(intensity.shape, detector)
    signal = np.asarray(intensity, dtype=np.float32)
    if signal_filter is not None:
        signal = np.fft.irfft2(np.fft.rfft2(signal) * signal_filter, s=signal.shape)
    expected = np.clip(signal, 0, None) * electrons_per_pixel
    counts = poisson_counts(expected, rng) if noise else expected.astype(np.float32)
    if noise_filter is not None:
        counts = np.fft.irfft2(np.fft.rfft2(counts) * noise_filter, s=counts.shape)
    return counts.astype(np.float32)
