"""Fourier binning (band-limited down-sampling) shared by the scene and the reconstruction."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def fourier_bin(array: np.ndarray, factor: int, axes=None, workers: int = 1) -> np.ndarray:
    """Down-sample a real array by an integer ``factor`` along ``axes`` by Fourier cropping.

    Sample ``i`` of the result sits at input position ``factor * i`` (band-limited
    resampling), values keep their scale (a constant stays that constant). Each axis length
    must be a multiple of ``factor``. Axes are processed one at a time to bound memory.
    Returns float32.
    """
    out = np.asarray(array)
    if factor == 1:
        return out.astype(np.float32, copy=False)
    axes = range(out.ndim) if axes is None else axes
    for axis in sorted(axes, key=lambda a: -out.shape[a]):
        n = out.shape[axis]
        if n % factor:
            raise ValueError(f"axis {axis} of length {n} is not a multiple of {factor}")
        m = n // factor
        spectrum = sfft.rfft(out, axis=axis, workers=workers)
        keep = [slice(None)] * out.ndim
        keep[axis] = slice(0, m // 2 + 1)
        spectrum = spectrum[tuple(keep)]
        out = sfft.irfft(spectrum, n=m, axis=axis, workers=workers)
        del spectrum
        out = (out / factor).astype(np.float32, copy=False)
    return out
