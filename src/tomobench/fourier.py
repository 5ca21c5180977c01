"""Fourier primitives shared by the simulator, the reconstruction and the pickers: frequency
grids, Fourier binning and the missing wedge.

Frequencies are in cycles per unit of ``spacing`` (cycles/nm for a voxel size in nm, cycles per
pixel for the default 1), in FFT order (DC first). ``real=True`` gives the half grid of
``rfftn`` on the last axis. Arrays are ``(z, y, x)``; the tilt axis is y.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def frequency_axes(shape: tuple[int, ...], spacing: float = 1.0, *, real: bool = False,
                   xp=np, dtype=None) -> list:
    """One broadcastable frequency array per axis of ``shape`` (``ky[:, None]``,
    ``kx[None, :]`` in 2-D), optionally cast to ``dtype``; numpy or cupy (``xp``)."""
    ndim = len(shape)
    axes = []
    for axis, n in enumerate(shape):
        last = axis == ndim - 1
        values = (xp.fft.rfftfreq if real and last else xp.fft.fftfreq)(n, d=spacing)
        if dtype is not None:
            values = values.astype(dtype)
        index = [None] * ndim
        index[axis] = slice(None)
        axes.append(values[tuple(index)])
    return axes


def frequency_magnitude(shape: tuple[int, ...], spacing: float = 1.0, *, real: bool = False,
                        xp=np):
    """``|k|`` on the FFT grid of ``shape`` (float64; see :func:`frequency_axes`)."""
    axes = frequency_axes(shape, spacing, real=real, xp=xp)
    return xp.sqrt(sum(k**2 for k in axes))


def fourier_bin(array: np.ndarray, factor: int, axes=None, workers: int = 1, *,
                trim: bool = False) -> np.ndarray:
    """Down-sample a real array by an integer ``factor`` along ``axes`` by Fourier cropping.

    Sample ``i`` of the result sits at input position ``factor * i`` (band-limited
    resampling); values keep their scale (a constant stays that constant). Each axis length
    must be a multiple of ``factor``, unless ``trim`` drops the trailing samples beyond the
    last multiple. Axes are processed one at a time (a real FFT each) to bound memory; the
    Nyquist sample of an even output is the real part of the input's, as ``irfft`` reads it.

    Returns
    -------
    float32 array, each binned axis ``n // factor`` long.
    """
    out = np.asarray(array)
    axes = range(out.ndim) if axes is None else axes
    if trim:
        out = out[tuple(slice(0, (n // factor) * factor) if a in axes else slice(None)
                        for a, n in enumerate(out.shape))]
        if min(out.shape) < 1:
            raise ValueError(f"array of shape {np.shape(array)} is too small to bin by {factor}")
    if factor == 1:
        return out.astype(np.float32, copy=False)
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


def missing_wedge(shape: tuple[int, int, int], tilt_range_deg: tuple[float, float]) -> np.ndarray:
    """Binary wedge on the ``rfftn`` grid of ``shape`` ``(z, y, x)``; tilt axis y.

    A tilt ``θ`` samples the Fourier plane containing ``k_y`` and the direction
    ``(k_z, k_x) = (sin θ, cos θ)``; a frequency is kept when the angle ``atan(k_z / k_x)``
    lies in ``tilt_range_deg`` (the ``k_y`` axis, ``k_x = k_z = 0``, is always kept).

    Returns
    -------
    float32 array of shape ``(nz, ny, nx // 2 + 1)``.
    """
    low, high = sorted(tilt_range_deg)
    kz, _, kx = frequency_axes(shape, real=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.degrees(np.arctan(kz / kx))  # in (-90, 90]; kx = 0 gives ±90 or nan
    angle = np.where(kx == 0, np.where(kz == 0, 0.0, 90.0), angle)
    inside = (angle >= low - 1e-6) & (angle <= high + 1e-6)
    if low <= -90 + 1e-6 or high >= 90 - 1e-6:
        inside |= np.abs(angle) >= 90 - 1e-6
    wedge = np.broadcast_to(inside, (shape[0], shape[1], shape[2] // 2 + 1))
    return wedge.astype(np.float32)
