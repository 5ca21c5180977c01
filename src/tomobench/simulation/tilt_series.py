"""Tilt-series simulation: draws, multislice projection, CTF, detector and noise.

Per tomogram (stream ``rng(seed, "acquisition", model_id)``) the defocus D and the total dose
are drawn from their ranges; per tilt (stream ``rng(seed, "tilt", model_id, i)``) the defocus
jitter, the image shift and the Poisson noise. Each tilt:

1. slab sums of the tilted complex model (:mod:`projector`, cubic B-spline rotation about y);
2. multislice from the top slab to the exit face (:mod:`multislice`);
3. image shift (Fourier phase ramp) and the complex CTF (:mod:`ctf`). The defocus applied at
   the exit face is ``D_i + L`` where L is the distance from the exit face up to the sample
   centre, so that the nominal defocus D_i refers to the centre of the sample (free-space
   propagation over L equals an *over*focus of L). ``faithful.defocus_centring_sign`` uses
   ``D_i − L`` as the organisers' code did (effective defocus D_i − 2L at the centre);
4. intensity |ψ|², detector DQE/MTF and Poisson counting at the dose per tilt (:mod:`detector`);
5. optional Fourier ring amplitude scaling (:mod:`amplitude`).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from tomobench import seeding
from tomobench.backend import array_module, to_numpy
from tomobench.fourier import frequency_axes
from tomobench.optics import electron_wavelength_nm, interaction_constant_rad_per_v_nm
from tomobench.progress import Progress
from tomobench.simulation.amplitude import read_amplitude_profile, scale_to_profile
from tomobench.simulation.ctf import Microscope, complex_ctf
from tomobench.simulation.detector import detect
from tomobench.simulation.multislice import fft2, fresnel_propagator, transmit_and_propagate
from tomobench.simulation.projector import SlabProjector, spline_coefficients

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TiltSeriesSettings:
    """Acquisition settings from the config (``tilt_series``, ``microscope``, ``faithful``)."""

    tilt_range_deg: tuple[float, float] = (-60.0, 60.0)
    tilt_count: int = 61
    dose_e_per_A2: tuple[float, float] = (100.0, 120.0)
    defocus_um: tuple[float, float] = (2.0, 5.0)
    defocus_jitter_um: float = 0.0
    slice_thickness_nm: float = 5.0
    #: range of the per-tomogram σ of the per-tilt shifts (a single value: both ends equal)
    shift_sigma_nm: tuple[float, float] = (0.5, 0.5)
    noise: bool = True
    detector: str = "K2"
    amplitude_profile: str | None = None
    defocus_centring_sign: bool = False
    correlated_ranged_draws: bool = False

    def __post_init__(self) -> None:
        if np.isscalar(self.shift_sigma_nm):  # one value: a fixed σ for every tomogram
            object.__setattr__(self, "shift_sigma_nm", (float(self.shift_sigma_nm),) * 2)


@dataclass
class Acquisition:
    """Drawn acquisition parameters of one tilt series (written to JSON)."""

    seed: int
    model_id: int
    tilt_angles_deg: list[float]
    defocus_um: float
    defocus_per_tilt_um: list[float]
    dose_e_per_A2: float
    dose_per_tilt_e_per_A2: float
    shift_sigma_nm: float
    shifts_nm: list[list[float]]  # per tilt (x, y)
    pixel_size_nm: float
    applied_defocus_at_exit_um: list[float]

    def to_json(self, microscope: Microscope, settings: TiltSeriesSettings) -> dict:
        payload = asdict(self)
        payload["microscope"] = asdict(microscope)
        payload["wavelength_nm"] = electron_wavelength_nm(microscope.voltage_kv)
        payload["settings"] = asdict(settings)
        return payload


def tilt_angles(settings: TiltSeriesSettings) -> np.ndarray:
    """Evenly spaced tilt angles (degrees), acquisition order = ascending."""
    low, high = settings.tilt_range_deg
    return np.linspace(low, high, settings.tilt_count)


def draw_acquisition(settings: TiltSeriesSettings, pixel_size_nm: float, seed: int, model_id: int):
    """Draw defocus, dose, shift σ, per-tilt jitter and shifts for tomogram ``model_id``."""
    rng = seeding.rng(seed, "acquisition", model_id)
    if settings.correlated_ranged_draws:
        # SHREC'21 re-seeded before every ranged draw: one uniform number drives them all.
        u = rng.random()
        u_defocus = u_dose = u_shift = u
    else:
        u_defocus, u_dose, u_shift = rng.random(3)

    def ranged(bounds, u):
        return bounds[0] + u * (bounds[1] - bounds[0])

    defocus = ranged(settings.defocus_um, u_defocus)
    dose = ranged(settings.dose_e_per_A2, u_dose)
    shift_sigma_nm = ranged(settings.shift_sigma_nm, u_shift)
    angles = tilt_angles(settings)
    per_tilt, shifts = [], []
    for i in range(len(angles)):
        tilt_rng = seeding.rng(seed, "tilt", model_id, i)
        jitter, sx, sy = tilt_rng.normal(size=3)
        per_tilt.append(defocus + settings.defocus_jitter_um * jitter)
        shifts.append([shift_sigma_nm * sx, shift_sigma_nm * sy])
    return Acquisition(
        seed=seed,
        model_id=model_id,
        tilt_angles_deg=[float(a) for a in angles],
        defocus_um=float(defocus),
        defocus_per_tilt_um=[float(v) for v in per_tilt],
        dose_e_per_A2=float(dose),
        dose_per_tilt_e_per_A2=float(dose / len(angles)),
        shift_sigma_nm=float(shift_sigma_nm),
        shifts_nm=shifts,
        pixel_size_nm=float(pixel_size_nm),
        applied_defocus_at_exit_um=[],
    )


def shift_ramp(shape, shift_px: tuple[float, float]) -> np.ndarray:
    """Fourier phase ramp moving an image by ``(dx, dy)`` pixels, FFT order, complex64."""
    ky, kx = frequency_axes(shape)
    return np.exp(-2j * np.pi * (kx * shift_px[0] + ky * shift_px[1])).astype(np.complex64)


def simulate_tilt_series(
    potential,
    voxel_size_nm: float,
    acquisition: Acquisition,
    settings: TiltSeriesSettings,
    microscope: Microscope,
    device: str = "cpu",
    workers: int = 1,
) -> np.ndarray:
    """Simulate the projections of a complex ``(nz, ny, nx)`` sample potential (volts).

    ``potential`` is an array, a memory map or a :class:`tomobench.mrc.MrcVolume` (read once,
    in z-slabs, into the spline coefficients). Returns float32 ``(tilt, ny, nx)`` detected
    images (electrons per pixel). Fills ``acquisition.applied_defocus_at_exit_um``. ``device``
    (``cpu|cuda|auto``) selects numpy or cupy for the slab projection, multislice and CTF; the
    detector and its random draws stay on the CPU, so both give the same images within
    float32 rounding. ``workers``: on the CPU, tilts simulated side by side (threads: the
    sparse products, FFTs and array maths release the GIL); every tilt draws from its own
    seeded streams, so the images do not depend on it.
    """
    xp = array_module(device)
    coefficients = spline_coefficients(potential)
    projector = SlabProjector(coefficients, voxel_size_nm, settings.slice_thickness_nm, xp)
    del coefficients
    shape = (potential.shape[1], potential.shape[2])
    # the multislice and CTF run in the transposed (x, y) layout the projector yields; the
    # image is transposed back once per tilt
    shape_xy = (shape[1], shape[0])
    wavelength = electron_wavelength_nm(microscope.voltage_kv)
    sigma = interaction_constant_rad_per_v_nm(microscope.voltage_kv)
    propagator = fresnel_propagator(
        shape_xy, voxel_size_nm, wavelength, projector.slice_thickness_nm, xp
    )
    electrons_per_pixel = acquisition.dose_per_tilt_e_per_A2 * (voxel_size_nm * 10) ** 2
    profile = (
        read_amplitude_profile(settings.amplitude_profile) if settings.amplitude_profile else None
    )
    count = len(acquisition.tilt_angles_deg)
    images = np.empty((count, *shape), dtype=np.float32)
    defocus_at_exit_um = [0.0] * count
    parallel = xp is np and workers > 1
    progress = Progress("tilt image", count, logger)

    def simulate(i: int) -> None:
        angle = acquisition.tilt_angles_deg[i]
        matrix, layout = projector.layout(angle)
        wave = xp.ones(shape_xy, dtype=xp.complex64)
        fft_workers = 1 if parallel else workers
        for slab in projector.slabs(matrix, layout, transposed=True):
            wave = transmit_and_propagate(wave, slab, sigma, propagator, xp, fft_workers)
        del matrix
        below_centre_nm = -layout.bottom_nm
        sign = -1.0 if settings.defocus_centring_sign else 1.0
        defocus_nm = acquisition.defocus_per_tilt_um[i] * 1e3 + sign * below_centre_nm
        defocus_at_exit_um[i] = defocus_nm / 1e3
        shift_px = tuple(v / voxel_size_nm for v in acquisition.shifts_nm[i])
        transfer = complex_ctf(shape_xy, voxel_size_nm, defocus_nm, microscope, xp)
        transfer *= xp.asarray(shift_ramp(shape_xy, shift_px[::-1]))
        spectrum = fft2(wave, xp, workers=fft_workers, overwrite=True)
        image_wave = fft2(spectrum * transfer, xp, True, fft_workers, overwrite=True)
        intensity = to_numpy((image_wave.real**2 + image_wave.imag**2).astype(xp.float32)).T
        noise_rng = seeding.rng(acquisition.seed, "detector", acquisition.model_id, i)
        image = detect(intensity, electrons_per_pixel, noise_rng, settings.detector, settings.noise)
        if profile is not None:
            image = scale_to_profile(image, voxel_size_nm, profile)
        images[i] = image
        logger.info("tilt %d/%d (%.1f deg): %d slabs, defocus at exit %.3f um", i + 1, count,
                    angle, layout.count, defocus_nm / 1e3)
        progress.step()

    if parallel:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(simulate, range(count)))
    else:
        for i in range(count):
            simulate(i)
    acquisition.applied_defocus_at_exit_um = defocus_at_exit_um
    return images
