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

Beam-damage noise (:mod:`beam_damage`, ``settings.beam_damage``) is added to the grand model
before step 1 (``grand_model_3d``: its slab sums are projected beside the model's, with the
same matrix) or to the intensity before step 4 (``intensity_2d``); its SNR is drawn per
tomogram with the other ranged parameters. With ``with_noise_free`` the same tilts are also
returned without any noise source (no beam damage, expected counts instead of Poisson draws):
the signal against which :mod:`tomobench.reconstruction.snr` measures the tomogram's SNR. For
``grand_model_3d`` that takes a second multislice pass per tilt (the noise enters the
exponent); for the other variants one more pair of FFTs per tilt.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from tomobench import seeding
from tomobench.backend import array_module, to_numpy
from tomobench.fourier import frequency_axes
from tomobench.optics import electron_wavelength_nm, interaction_constant_rad_per_v_nm
from tomobench.progress import Progress
from tomobench.simulation import beam_damage
from tomobench.simulation.amplitude import read_amplitude_profile, scale_to_profile
from tomobench.simulation.ctf import Microscope, complex_ctf
from tomobench.simulation.detector import detect
from tomobench.simulation.multislice import fft2, fresnel_propagator, transmit_and_propagate
from tomobench.simulation.projector import SlabProjector, spline_coefficients
from tomobench.simulation.scene import ice_background_v

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
    #: beam-damage noise variant (:mod:`beam_damage`): grand_model_3d | intensity_2d | none
    beam_damage: str = "grand_model_3d"
    #: range of the per-tomogram beam-damage SNR (each variant's own definition)
    beam_damage_snr: tuple[float, float] = (0.6, 1.4)
    #: the scene's ice has no real part (faithful.ice_imaginary_only): the 3D variant removes
    #: the ice background from the grand model before it measures the signal
    ice_imaginary_only: bool = False

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
    #: drawn beam-damage SNR (None: tilt_series.beam_damage.variant none)
    beam_damage_snr: float | None = None
    #: what the simulation measured to scale the beam-damage noise (variant-specific)
    beam_damage_noise: dict = field(default_factory=dict)

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
    """Draw defocus, dose, shift σ, beam-damage SNR, per-tilt jitter and shifts for tomogram
    ``model_id`` (the SNR's uniform number comes after the others': adding it moved none)."""
    rng = seeding.rng(seed, "acquisition", model_id)
    if settings.correlated_ranged_draws:
        # SHREC'21 re-seeded before every ranged draw: one uniform number drives them all.
        u = rng.random()
        u_defocus = u_dose = u_shift = u_snr = u
    else:
        u_defocus, u_dose, u_shift = rng.random(3)
        u_snr = rng.random()
    if settings.beam_damage not in beam_damage.VARIANTS:
        raise ValueError(f"beam_damage must be one of {beam_damage.VARIANTS}, "
                         f"got {settings.beam_damage!r}")

    def ranged(bounds, u):
        return bounds[0] + u * (bounds[1] - bounds[0])

    defocus = ranged(settings.defocus_um, u_defocus)
    dose = ranged(settings.dose_e_per_A2, u_dose)
    shift_sigma_nm = ranged(settings.shift_sigma_nm, u_shift)
    snr = None if settings.beam_damage == "none" else ranged(settings.beam_damage_snr, u_snr)
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
        beam_damage_snr=None if snr is None else float(snr),
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
    with_noise_free: bool = False,
):
    """Simulate the projections of a complex ``(nz, ny, nx)`` sample potential (volts).

    ``potential`` is an array, a memory map or a :class:`tomobench.mrc.MrcVolume` (read once,
    in z-slabs, into the spline coefficients; the 3D beam damage reads it once more for its
    signal level). Returns float32 ``(tilt, ny, nx)`` detected images (electrons per pixel),
    and with ``with_noise_free`` a tuple ``(images, noise_free_images)``, the latter without
    beam damage and with the expected counts instead of Poisson draws. Fills
    ``acquisition.applied_defocus_at_exit_um`` and ``acquisition.beam_damage_noise``.
    ``device`` (``cpu|cuda|auto``) selects numpy or cupy for the slab projection, multislice
    and CTF; the detector, the beam damage and their random draws stay on the CPU (the 3D
    field is drawn there before it is projected), so both give the same images within
    float32 rounding. ``workers``: on the CPU, tilts simulated side by side (threads: the
    sparse products, FFTs and array maths release the GIL); every tilt draws from its own
    seeded streams, so the images do not depend on it.
    """
    xp = array_module(device)
    variant = settings.beam_damage
    noise_projector = None
    if variant == "grand_model_3d":
        noise_projector, noise_scale = _grand_model_noise(
            potential, voxel_size_nm, acquisition, settings, microscope, xp)
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
    noise_free = np.empty((count, *shape), dtype=np.float32) if with_noise_free else None
    defocus_at_exit_um = [0.0] * count
    intensity_sigmas = [0.0] * count
    parallel = xp is np and workers > 1
    progress = Progress("tilt image", count, logger)

    def simulate(i: int) -> None:
        angle = acquisition.tilt_angles_deg[i]
        matrix, layout = projector.layout(angle)
        wave = xp.ones(shape_xy, dtype=xp.complex64)
        clean_wave = None
        fft_workers = 1 if parallel else workers
        slabs = projector.slabs(matrix, layout, transposed=True)
        if noise_projector is None:
            for slab in slabs:
                wave = transmit_and_propagate(wave, slab, sigma, propagator, xp, fft_workers)
        else:
            clean_wave = xp.ones(shape_xy, dtype=xp.complex64) if with_noise_free else None
            noise_slabs = noise_projector.slabs(matrix, layout, transposed=True)
            for slab, noise_slab in zip(slabs, noise_slabs, strict=True):
                if clean_wave is not None:
                    clean_wave = transmit_and_propagate(clean_wave, slab, sigma, propagator, xp,
                                                        fft_workers)
                noisy = slab + noise_slab * noise_scale
                wave = transmit_and_propagate(wave, noisy, sigma, propagator, xp, fft_workers)
        del matrix
        below_centre_nm = -layout.bottom_nm
        sign = -1.0 if settings.defocus_centring_sign else 1.0
        defocus_nm = acquisition.defocus_per_tilt_um[i] * 1e3 + sign * below_centre_nm
        defocus_at_exit_um[i] = defocus_nm / 1e3
        shift_px = tuple(v / voxel_size_nm for v in acquisition.shifts_nm[i])
        transfer = complex_ctf(shape_xy, voxel_size_nm, defocus_nm, microscope, xp)
        transfer *= xp.asarray(shift_ramp(shape_xy, shift_px[::-1]))

        def image_intensity(exit_wave):
            spectrum = fft2(exit_wave, xp, workers=fft_workers, overwrite=True)
            image_wave = fft2(spectrum * transfer, xp, True, fft_workers, overwrite=True)
            return to_numpy((image_wave.real**2 + image_wave.imag**2).astype(xp.float32)).T

        intensity = image_intensity(wave)
        clean_intensity = intensity if clean_wave is None else image_intensity(clean_wave)
        if variant == "intensity_2d":
            noise, intensity_sigmas[i] = beam_damage.intensity_noise(
                intensity, acquisition.beam_damage_snr, acquisition.seed, acquisition.model_id, i)
            intensity = intensity + noise
        noise_rng = seeding.rng(acquisition.seed, "detector", acquisition.model_id, i)
        image = detect(intensity, electrons_per_pixel, noise_rng, settings.detector, settings.noise)
        if profile is not None:
            image = scale_to_profile(image, voxel_size_nm, profile)
        images[i] = image
        if noise_free is not None:
            clean = detect(clean_intensity, electrons_per_pixel, noise_rng, settings.detector,
                           noise=False)
            noise_free[i] = scale_to_profile(clean, voxel_size_nm, profile) if profile else clean
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
    if variant == "intensity_2d":
        acquisition.beam_damage_noise = {"noise_sigma_per_tilt": intensity_sigmas,
                                         "signal_threshold": beam_damage.SIGNAL_THRESHOLD_2D}
    return (images, noise_free) if with_noise_free else images


def _grand_model_noise(potential, voxel_size_nm, acquisition, settings, microscope, xp):
    """Projector of the 3D beam-damage field and the complex factor ``1 + i μ_imag/μ_real``
    of its slab sums; records the signal means and σ in ``acquisition.beam_damage_noise``."""
    ice = ice_background_v(microscope.voltage_kv, settings.ice_imaginary_only)
    mean_real, mean_imag = beam_damage.grand_model_signal_means(potential, ice)
    sigma_v = beam_damage.grand_model_noise_sigma_v(mean_real, acquisition.beam_damage_snr)
    field = beam_damage.GrandModelNoise(potential.shape, sigma_v, acquisition.seed,
                                        acquisition.model_id)
    projector = SlabProjector(spline_coefficients(field, real=True), voxel_size_nm,
                              settings.slice_thickness_nm, xp)
    acquisition.beam_damage_noise = {
        "signal_mean_real_v": mean_real,
        "signal_mean_imag_v": mean_imag,
        "signal_threshold_v": beam_damage.SIGNAL_THRESHOLD_3D_V,
        "noise_sigma_v": sigma_v,
        "imaginary_noise_scale": mean_imag / mean_real,
    }
    logger.info("beam damage (grand model): SNR %.3f, signal mean %.3f V, noise sigma %.3f V",
                acquisition.beam_damage_snr, mean_real, sigma_v)
    return projector, xp.complex64(1 + 1j * mean_imag / mean_real)
