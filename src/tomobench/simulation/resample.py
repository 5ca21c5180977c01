"""Fourier binning (band-limited down-sampling) shared by the scene and the reconstruction."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

#: Input elements per block of 1-D transforms (bounds the temporaries to ~0.3 GB).
_BLOCK_ELEMENTS = 1 << 25


def fourier_bin(array: np.ndarray, factor: int, axes=None, workers: int = 1) -> np.ndarray:
    """Down-sample a real array by an integer ``factor`` along ``axes`` by Fourier cropping.

    Sample ``i`` of the result sits at input position ``factor * i`` (band-limited
    resampling), values keep their scale (a constant stays that constant). Each axis length
    must be a multiple of ``factor``. Memory stays near the size of the result: blocks along
    the longest axis are binned along the other axes first, then that axis is binned in
    blocks along another one (``array`` may be a strided view, e.g. the real part of a
    complex volume). Returns float32.
    """
    out = np.asarray(array)
    axes = sorted(set(range(out.ndim) if axes is None else axes), key=lambda a: -out.shape[a])
    for axis in axes:
        if out.shape[axis] % factor:
            raise ValueError(
                f"axis {axis} of length {out.shape[axis]} is not a multiple of {factor}")
    if factor == 1 or not axes:
        return out.astype(np.float32, copy=False)
    along, rest = axes[0], axes[1:]
    if rest:
        shape = [n // factor if a in rest else n for a, n in enumerate(out.shape)]
        binned = np.empty(shape, np.float32)
        for block in _blocks(out.shape, along):
            binned[block] = fourier_bin(out[block], factor, rest, workers)
        out = binned
    shape = [n // factor if a == along else n for a, n in enumerate(out.shape)]
    result = np.empty(shape, np.float32)
    others = [a for a in range(out.ndim) if a != along]
    for block in _blocks(out.shape, others[0]) if others else [(slice(None),)]:
        result[block] = _bin_axis(out[block], along, factor, workers)
    return result


def _blocks(shape, axis: int):
    """Index tuples cutting an array of ``shape`` into blocks along ``axis`` (of at most
    about ``_BLOCK_ELEMENTS`` elements, at least one plane)."""
    plane = max(int(np.prod(shape)) // max(shape[axis], 1), 1)
    step = max(1, _BLOCK_ELEMENTS // plane)
    for start in range(0, shape[axis], step):
        block = [slice(None)] * len(shape)
        block[axis] = slice(start, start + step)
        yield tuple(block)


def _bin_axis(array: np.ndarray, axis: int, factor: int, workers: int) -> np.ndarray:
    """Fourier binning of ``array`` along one axis (float32)."""
    m = array.shape[axis] // factor
    spectrum = sfft.rfft(array, axis=axis, workers=workers)
    keep = [slice(None)] * array.ndim
    keep[axis] = slice(0, m // 2 + 1)
    binned = sfft.irfft(spectrum[tuple(keep)], n=m, axis=axis, workers=workers)
    binned /= factor
    return binned.astype(np.float32, copy=False)
