"""Templates and masks for template matching, and the low-pass they share with the tomogram
(Fourier binning, frequency grids and the missing wedge: :mod:`tomobench.fourier`; the wave
aberration: :mod:`tomobench.optics`).

A template is the real (electrostatic minus solvent) part of a protein potential, Fourier-binned
to the search voxel size, multiplied by the CTF of the tomogram's defocus and by a Gaussian
low-pass (the same low-pass is applied to the tomogram), and cut into an odd cube centred on the
molecule. Its mask is a sphere enclosing the molecule with a Gaussian-smoothed edge.

Contrast: the CTF below has the sign of the simulator's image formation (weak phase object
``ψ = 1 + iσV``, image wave × ``exp(-iχ)``, underfocus positive), so that in an underfocused WBP
reconstruction of normalised intensities ``(I - ⟨I⟩)/⟨I⟩`` protein is *dark* (negative) and the
template is dark too. ``protein_contrast="bright"`` flips the template for inverted data.

Arrays are ``(z, y, x)``; frequencies are in cycles per nm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from tomobench.errors import InputError
from tomobench.fourier import fourier_bin, frequency_magnitude
from tomobench.optics import aberration_phase
from tomobench.simulation.ctf import Microscope

CONTRASTS = ("dark", "bright")


def integer_factor(coarse_nm: float, fine_nm: float, what: str) -> int:
    """``coarse_nm / fine_nm`` as an int; ``InputError`` naming ``what`` when it is not one."""
    ratio = coarse_nm / fine_nm
    factor = int(round(ratio))
    if factor < 1 or abs(ratio - factor) > 1e-3 * ratio:
        raise InputError(
            f"{what}: {coarse_nm:g} nm is not an integer multiple of {fine_nm:g} nm "
            f"(ratio {ratio:.4f}); template matching bins by integer factors"
        )
    return factor


def gaussian_lowpass(frequency: np.ndarray, lowpass_nm: float) -> np.ndarray:
    """Gaussian low-pass whose amplitude is 1/2 at the resolution ``lowpass_nm``.

    ``exp(-q² / (2 s²))`` with ``s = 1 / (lowpass_nm √(2 ln 2))``.
    """
    sigma_q = 1.0 / (lowpass_nm * math.sqrt(2.0 * math.log(2.0)))
    return np.exp(-(frequency**2) / (2.0 * sigma_q**2))


def ctf(
    frequency: np.ndarray,
    defocus_um: float,
    voltage_kv: float,
    spherical_aberration_mm: float,
    amplitude_contrast: float,
) -> np.ndarray:
    """Phase-contrast transfer ``√(1-A²) sin χ − A cos χ``, underfocus positive, with the
    simulator's wave aberration χ (:func:`tomobench.optics.aberration_phase`).

    At ``q = 0`` it is ``-A``: a positive potential (protein) images dark, as in the simulator.
    """
    chi = aberration_phase(frequency, defocus_um * 1e3, voltage_kv, spherical_aberration_mm)
    phase = math.sqrt(1.0 - amplitude_contrast**2)
    return phase * np.sin(chi) - amplitude_contrast * np.cos(chi)


def spherical_mask(box: int, radius_voxels: float, edge_sigma_voxels: float = 1.0) -> np.ndarray:
    """Sphere of ``radius_voxels`` centred at ``box // 2`` with a Gaussian edge (cut at 3σ).

    Returns a float32 cube ``(box, box, box)`` with values in [0, 1].
    """
    centre = box // 2
    grid = np.indices((box, box, box), dtype=np.float32) - centre
    distance = np.sqrt((grid**2).sum(axis=0))
    outside = np.clip(distance - radius_voxels, 0.0, None)
    if edge_sigma_voxels > 0:
        mask = np.exp(-(outside**2) / (2.0 * edge_sigma_voxels**2))
        mask[outside > 3.0 * edge_sigma_voxels] = 0.0
    else:
        mask = (outside == 0).astype(np.float32)
    return mask.astype(np.float32)


@dataclass(frozen=True)
class Template:
    """A search template at the search voxel size.

    Attributes
    ----------
    volume : float32 ``(b, b, b)``, odd ``b``, molecule centre at ``b // 2``; CTF- and
        low-pass-filtered, with the sign of the tomogram's protein contrast.
    mask : float32 ``(b, b, b)`` soft sphere.
    voxel_size_nm : search voxel size.
    mask_radius_nm : radius of the hard part of the mask.
    particle_radius_nm : ``√(5/3) R_g`` of the positive potential (radius of the uniform sphere
        with the molecule's radius of gyration), used for overlap tests.
    enclosing_radius_nm : radius of the sphere that encloses the molecule.
    """

    volume: np.ndarray
    mask: np.ndarray
    voxel_size_nm: float
    mask_radius_nm: float
    particle_radius_nm: float
    enclosing_radius_nm: float


def molecule_radii_nm(potential: np.ndarray, voxel_size_nm: float,
                      support_fraction: float = 0.02) -> tuple[float, float]:
    """``(enclosing_radius_nm, sphere_equivalent_radius_nm)`` of a potential centred at ``n // 2``.

    The enclosing radius is the largest distance from the centre of a voxel whose potential
    exceeds ``support_fraction`` of the maximum; the sphere-equivalent radius is ``√(5/3) R_g``
    of the positive potential.
    """
    positive = np.clip(np.asarray(potential, dtype=np.float64), 0.0, None)
    if not positive.max() > 0:
        raise ValueError("potential has no positive values")
    centre = np.array([n // 2 for n in positive.shape], dtype=np.float64)
    coords = np.indices(positive.shape, dtype=np.float64).reshape(3, -1).T - centre
    distance = np.sqrt((coords**2).sum(axis=1))
    weights = positive.ravel()
    support = weights > support_fraction * weights.max()
    enclosing = (distance[support].max() + 0.5) * voxel_size_nm
    gyration = math.sqrt(float((weights * distance**2).sum() / weights.sum())) * voxel_size_nm
    return float(enclosing), float(math.sqrt(5.0 / 3.0) * gyration)


def _centre_pad(volume: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad (or crop) a cube centred at ``n // 2`` to ``size``, centre at ``size // 2``."""
    n = volume.shape[0]
    out = np.zeros((size,) * 3, dtype=volume.dtype)
    lo_in = max(0, n // 2 - size // 2)
    lo_out = max(0, size // 2 - n // 2)
    length = min(n - lo_in, size - lo_out)
    src = (slice(lo_in, lo_in + length),) * 3
    dst = (slice(lo_out, lo_out + length),) * 3
    out[dst] = volume[src]
    return out


def make_template(
    potential: np.ndarray,
    potential_voxel_nm: float,
    voxel_size_nm: float,
    *,
    defocus_um: float,
    voltage_kv: float = Microscope.voltage_kv,
    spherical_aberration_mm: float = Microscope.spherical_aberration_mm,
    amplitude_contrast: float = 0.07,
    lowpass_nm: float = 4.0,
    protein_contrast: str = "dark",
    mask_margin_nm: float = 0.0,
    mask_edge_voxels: float = 1.0,
) -> Template:
    """Build the template of one class from its potential.

    Parameters
    ----------
    potential : ``(n, n, n)`` real potential (the real part of the complex potential file),
        molecule centred at ``n // 2``, voxel ``potential_voxel_nm``.
    voxel_size_nm : search voxel size (an integer multiple of ``potential_voxel_nm``).
    defocus_um : defocus of the CTF (underfocus positive); ``0`` disables the CTF.
    mask_margin_nm : added to the enclosing radius for the hard part of the mask.
    """
    if protein_contrast not in CONTRASTS:
        raise InputError(f"template_matching.protein_contrast must be one of {CONTRASTS}")
    potential = np.asarray(potential, dtype=np.float32)
    if potential.ndim != 3 or len(set(potential.shape)) != 1:
        raise InputError(f"potential must be a cube, got shape {potential.shape}")
    factor = integer_factor(voxel_size_nm, potential_voxel_nm,
                            "template_matching.search_voxel_size_nm")
    enclosing_nm, particle_nm = molecule_radii_nm(potential, potential_voxel_nm)

    size_out = -(-potential.shape[0] // factor)
    size_out += size_out % 2  # even, so the centre n//2 maps onto a voxel after binning
    binned = fourier_bin(_centre_pad(potential, size_out * factor), factor)

    frequency = frequency_magnitude(binned.shape, voxel_size_nm, real=True)
    transfer = gaussian_lowpass(frequency, lowpass_nm)
    if defocus_um > 0:
        transfer = transfer * ctf(
            frequency, defocus_um, voltage_kv, spherical_aberration_mm, amplitude_contrast
        )
    elif protein_contrast == "dark":
        transfer = -transfer  # without a CTF, "dark" still means a negative template
    filtered = scipy.fft.irfftn(scipy.fft.rfftn(binned) * transfer, s=binned.shape)
    if protein_contrast == "bright":
        filtered = -filtered

    mask_radius_voxels = (enclosing_nm + mask_margin_nm) / voxel_size_nm
    half = int(math.ceil(mask_radius_voxels + 3.0 * mask_edge_voxels))
    box = 2 * half + 1
    volume = _centre_pad(filtered.astype(np.float32), box)
    mask = spherical_mask(box, mask_radius_voxels, mask_edge_voxels)
    return Template(
        volume=volume,
        mask=mask,
        voxel_size_nm=float(voxel_size_nm),
        mask_radius_nm=float(mask_radius_voxels * voxel_size_nm),
        particle_radius_nm=particle_nm,
        enclosing_radius_nm=enclosing_nm,
    )


def mirror(volume: np.ndarray) -> np.ndarray:
    """The other handedness: reflection ``x → -x`` about the centre of an odd cube."""
    return np.ascontiguousarray(volume[:, :, ::-1])


def prepare_tomogram(
    tomogram: np.ndarray, factor: int, voxel_size_nm: float, lowpass_nm: float, workers: int = 1
) -> np.ndarray:
    """Bin a tomogram by ``factor`` (Fourier crop), low-pass it and normalise to mean 0, std 1.

    Parameters
    ----------
    tomogram : ``(z, y, x)`` reconstruction.
    voxel_size_nm : the *search* voxel size, i.e. the tomogram voxel size × ``factor``.

    Returns
    -------
    float32 ``(nz // factor, ny // factor, nx // factor)``.
    """
    binned = fourier_bin(tomogram, factor, workers=workers, trim=True)
    spectrum = scipy.fft.rfftn(binned, workers=workers)
    spectrum *= gaussian_lowpass(frequency_magnitude(binned.shape, voxel_size_nm, real=True),
                                 lowpass_nm)
    filtered = scipy.fft.irfftn(spectrum, s=binned.shape, workers=workers).astype(np.float32)
    filtered -= filtered.mean()
    std = filtered.std()
    if not std > 0:
        raise InputError("tomogram is constant: nothing to match")
    filtered /= std
    return filtered
