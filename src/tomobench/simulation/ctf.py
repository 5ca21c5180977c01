"""Complex contrast transfer function with envelopes (after Vulovic et al. 2013, SHREC'21).

Conventions: defocus Δf > 0 is underfocus. The wave transfer is
``H(k) = exp(−iχ(k)) · E_chromatic · E_spatial · A_objective`` with the wave aberration
``χ = π (½ Cs λ³ k⁴ − Δf λ k²)`` of :func:`tomobench.optics.aberration_phase`; a positive
potential then images dark at low frequency
(intensity contrast ``−2 σ V̂ sin(π Δf λ k²)`` in the weak-phase limit). Amplitude contrast is
not a CTF term: it comes from the imaginary (absorption) potential.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tomobench.fourier import frequency_axes
from tomobench.optics import aberration_phase, electron_wavelength_nm


@dataclass(frozen=True)
class Microscope:
    """Microscope constants (config section ``microscope``), SI-like units in the names."""

    voltage_kv: float = 300.0
    spherical_aberration_mm: float = 2.7
    chromatic_aberration_mm: float = 2.7
    energy_spread_ev: float = 0.7
    illumination_aperture_mrad: float = 0.03
    objective_aperture_um: float = 100.0
    focal_length_mm: float = 4.7


def frequency_grid(shape: tuple[int, int], pixel_size_nm: float, xp=np):
    """Spatial frequencies ``(ky, kx)`` in 1/nm (float32) for a full FFT of ``(ny, nx)``."""
    return frequency_axes(shape, pixel_size_nm, xp=xp, dtype=xp.float32)


def complex_ctf(shape, pixel_size_nm: float, defocus_nm: float, microscope: Microscope, xp=np):
    """Wave transfer function ``(ny, nx)`` complex64 in FFT order (DC at [0, 0])."""
    ky, kx = frequency_grid(shape, pixel_size_nm, xp)
    k2 = (ky**2 + kx**2).astype(xp.float64)
    k = xp.sqrt(k2)
    wavelength = electron_wavelength_nm(microscope.voltage_kv)
    cs_nm = microscope.spherical_aberration_mm * 1e6
    chi = aberration_phase(k, defocus_nm, microscope.voltage_kv,
                           microscope.spherical_aberration_mm)
    # Temporal coherence: focal spread δ = Cc ΔE / V.
    focal_spread_nm = (
        microscope.chromatic_aberration_mm
        * 1e6
        * microscope.energy_spread_ev
        / (microscope.voltage_kv * 1e3)
    )
    chromatic = xp.exp(-((math.pi * wavelength * k2 * focal_spread_nm) ** 2) / (16 * math.log(2)))
    alpha = microscope.illumination_aperture_mrad * 1e-3
    gradient = math.pi * cs_nm * wavelength**2 * k**3 - math.pi * defocus_nm * k
    spatial = xp.exp(-(gradient**2) * alpha**2 / math.log(2))
    cutoff = (
        microscope.objective_aperture_um * 1e3 / (2 * wavelength * microscope.focal_length_mm * 1e6)
    )
    aperture = (k <= cutoff).astype(xp.float64)
    return (xp.exp(-1j * chi) * chromatic * spatial * aperture).astype(xp.complex64)
