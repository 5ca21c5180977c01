"""Tilt series: projector exactness, weak-phase multislice, CTF zeros, defocus reference plane,
detector/Poisson statistics, acquisition draws, alignment and amplitude-profile files, and the
beam-damage noise (both variants' SNR, seeding, the noise-free series, variant none)."""

import math

import numpy as np
import pytest
from scipy import ndimage

from tomobench.backend import cupy_available
from tomobench.errors import InputError
from tomobench.io import MODEL_FILES, read_acquisition, write_json
from tomobench.optics import (
    aberration_phase,
    electron_wavelength_nm,
    interaction_constant_rad_per_v_nm,
)
from tomobench.simulation import beam_damage
from tomobench.simulation.alignment import read_alignment, write_alignment
from tomobench.simulation.amplitude import read_amplitude_profile, scale_to_profile
from tomobench.simulation.ctf import Microscope, complex_ctf
from tomobench.simulation.detector import detect, detector_filters
from tomobench.simulation.multislice import fresnel_propagator, multislice
from tomobench.simulation.projector import SlabProjector, spline_coefficients
from tomobench.simulation.scene import ice_background_v
from tomobench.simulation.tilt_series import (
    TiltSeriesSettings,
    draw_acquisition,
    simulate_tilt_series,
)

MICROSCOPE = Microscope()
SIGMA = interaction_constant_rad_per_v_nm(300)
WAVELENGTH = electron_wavelength_nm(300)


def smooth_random(shape, seed, sigma=1.5):
    rng = np.random.default_rng(seed)
    real = ndimage.gaussian_filter(rng.random(shape), sigma)
    imag = ndimage.gaussian_filter(rng.random(shape), sigma)
    return (real + 0.1j * imag).astype(np.complex64)


def test_physics_constants():
    assert WAVELENGTH == pytest.approx(1.9687e-3, rel=1e-4)
    assert SIGMA == pytest.approx(6.526e-3, rel=1e-3)  # rad / (V nm)


@pytest.mark.parametrize("angle", [0.0, 17.0, -52.0])
def test_projector_equals_bspline_rotation_then_slab_sum(angle):
    volume = smooth_random((18, 3, 26), 0)
    projector = SlabProjector(spline_coefficients(volume), 0.5, 1.0)  # 2 planes per slab
    matrix, layout = projector.layout(angle)
    slabs = np.array(list(projector.slabs(matrix, layout)))  # (slab, y, x)
    nz, _, nx = volume.shape
    cz, cx, theta = (nz - 1) / 2, (nx - 1) / 2, math.radians(angle)
    top_plane = layout.top_nm / 0.5 - 0.5  # zeta' of the first plane (voxels)
    zeta = top_plane - np.arange(layout.count * 2)[:, None]
    xi = (np.arange(nx) - cx)[None, :]
    source_z = xi * math.sin(theta) + zeta * math.cos(theta) + cz + 20
    source_x = xi * math.cos(theta) - zeta * math.sin(theta) + cx + 20
    for y in range(3):
        padded = np.pad(volume[:, y, :], 20)
        reference = [
            ndimage.map_coordinates(part, [source_z, source_x], order=3, mode="mirror")
            for part in (padded.real, padded.imag)
        ]
        reference = (reference[0] + 1j * reference[1]).reshape(layout.count, 2, nx).sum(1) * 0.5
        assert np.abs(slabs[:, y, :] - reference).max() < 3e-3 * np.abs(reference).max()


def test_multislice_of_thin_weak_object_is_the_projection():
    volume = 0.05 * smooth_random((8, 64, 64), 1)  # 4 nm thick, weak
    projector = SlabProjector(spline_coefficients(volume), 0.5, 0.5)
    matrix, layout = projector.layout(0.0)
    propagator = fresnel_propagator((64, 64), 0.5, WAVELENGTH, projector.slice_thickness_nm)
    exit_wave = multislice(projector.slabs(matrix, layout), SIGMA, propagator)
    # back to the mid-plane of the object, then compare with 1 + i sigma * integral of V dz
    back = fresnel_propagator((64, 64), 0.5, WAVELENGTH, layout.bottom_nm)
    mid_plane = np.fft.ifft2(np.fft.fft2(exit_wave) * back)
    projected = volume.sum(axis=0) * 0.5
    scattered = 1j * SIGMA * projected
    assert np.abs(mid_plane - 1 - scattered).max() < 0.02 * np.abs(scattered).max()


def analytic_zeros(defocus_nm, count):
    """k_n with chi(k_n) = -n pi (Cs and defocus), smaller root of the quadratic in k^2."""
    cs = MICROSCOPE.spherical_aberration_mm * 1e6
    lam = WAVELENGTH
    n = np.arange(1, count + 1)
    k2 = (defocus_nm - np.sqrt(defocus_nm**2 - 2 * cs * lam * n)) / (cs * lam**2)
    return np.sqrt(k2)


def test_ctf_zeros_at_analytic_frequencies():
    n, pixel, defocus = 2048, 0.25, 2500.0
    ctf = complex_ctf((n, n), pixel, defocus, MICROSCOPE).astype(np.complex128)
    # weak phase object 1 + i eps delta: image contrast spectrum = 2 eps E sin(chi)
    eps = 1e-7  # the eps^2 term (eps/2 after division) must stay negligible
    wave = np.ones((n, n), np.complex128)
    wave[0, 0] += 1j * eps
    image = np.abs(np.fft.ifft2(np.fft.fft2(wave) * ctf)) ** 2
    transfer = np.fft.fft2(image - image.mean()).real[0, : n // 2] / (2 * eps)
    k = np.fft.fftfreq(n, d=pixel)[: n // 2]
    crossings = np.nonzero(np.diff(np.sign(transfer[1:])) != 0)[0] + 1
    expected = analytic_zeros(defocus, 8)
    measured = k[crossings[:8]]
    assert np.all(np.abs(measured - expected) <= 1.0 / (n * pixel))
    # underfocus: positive potential images dark (negative contrast) at low frequency
    assert transfer[3] < 0
    chi = aberration_phase(k[1:40], defocus, MICROSCOPE.voltage_kv,
                           MICROSCOPE.spherical_aberration_mm)
    assert np.allclose(transfer[1:40], np.sin(chi), atol=0.02)


def test_defocus_refers_to_the_sample_centre():
    """A thin object at the centre of a thick empty box images as with CTF(D) applied to its
    own exit wave; the organisers' sign (faithful) does not."""
    nz, n, pixel = 1200, 64, 0.5  # 600 nm tall box
    volume = np.zeros((nz, n, n), np.complex64)
    volume[nz // 2 - 2 : nz // 2 + 2] = 0.2 * smooth_random((4, n, n), 2, sigma=1.0)
    defocus_um = 0.4
    settings = TiltSeriesSettings(
        tilt_range_deg=(0, 0),
        tilt_count=1,
        defocus_um=(defocus_um, defocus_um),
        slice_thickness_nm=5.0,
        shift_sigma_nm=0.0,
        noise=False,
        detector="ideal",
        beam_damage="none",
    )
    acquisition = draw_acquisition(settings, pixel, 1, 0)
    image = simulate_tilt_series(volume, pixel, acquisition, settings, MICROSCOPE)[0]
    object_wave = np.exp(1j * SIGMA * volume.sum(0) * pixel)
    ctf = complex_ctf((n, n), pixel, defocus_um * 1e3, MICROSCOPE)
    expected = np.abs(np.fft.ifft2(np.fft.fft2(object_wave) * ctf)) ** 2
    expected *= acquisition.dose_per_tilt_e_per_A2 * (pixel * 10) ** 2
    contrast = expected - expected.mean()
    assert np.abs(image - expected).max() < 0.05 * np.abs(contrast).max()
    faithful = TiltSeriesSettings(**{**settings.__dict__, "defocus_centring_sign": True})
    wrong = simulate_tilt_series(volume, pixel, acquisition, faithful, MICROSCOPE)[0]
    assert np.abs(wrong - expected).max() > 0.3 * np.abs(contrast).max()


def test_poisson_noise_mean_and_variance_at_dose():
    rng = np.random.default_rng(4)
    intensity = np.ones((256, 256), np.float32)
    dose_e_per_A2, pixel_nm = 1.6, 0.5
    electrons = dose_e_per_A2 * (pixel_nm * 10) ** 2  # 40 e- per pixel
    counts = detect(intensity, electrons, rng, detector="ideal", noise=True)
    assert counts.mean() == pytest.approx(electrons, rel=0.01)
    assert counts.var() == pytest.approx(electrons, rel=0.03)
    assert np.all(counts == np.round(counts))
    k2 = detect(intensity, electrons, rng, detector="K2", noise=True)
    assert k2.mean() == pytest.approx(electrons, rel=0.01)
    # K2 noise power: Poisson noise of the DQE0-thinned counts shaped by the noise filter,
    # i.e. electrons * MTF^2 / DQE (absolute DQE): 1 / 0.82 of the ideal counter's at k -> 0
    signal, ntf = detector_filters(intensity.shape, "K2")
    power = np.abs(np.fft.rfft2(k2 - k2.mean())) ** 2 / k2.size
    predicted = electrons * signal[0, 0] * ntf**2
    assert predicted[0, 1] == pytest.approx(electrons / 0.82, rel=0.03)
    ky = np.abs(np.fft.fftfreq(256))[:, None]
    kx = np.fft.rfftfreq(256)[None, :]
    high = np.hypot(ky, kx) > 0.4
    low = (np.hypot(ky, kx) < 0.1) & (np.hypot(ky, kx) > 0)
    assert power[high].mean() == pytest.approx(predicted[high].mean(), rel=0.05)
    assert power[low].mean() == pytest.approx(predicted[low].mean(), rel=0.05)
    noiseless = detect(intensity, electrons, rng, detector="K2", noise=False)
    assert np.allclose(noiseless, electrons, rtol=1e-4)


def test_acquisition_draws_are_seeded_and_optionally_correlated():
    settings = TiltSeriesSettings(tilt_count=5, shift_sigma_nm=0.7, defocus_jitter_um=0.1)
    a = draw_acquisition(settings, 0.5, 3, 2)
    b = draw_acquisition(settings, 0.5, 3, 2)
    c = draw_acquisition(settings, 0.5, 3, 1)
    assert a == b and a.defocus_um != c.defocus_um
    assert 2.0 <= a.defocus_um <= 5.0 and 100 <= a.dose_e_per_A2 <= 120
    assert a.dose_per_tilt_e_per_A2 == pytest.approx(a.dose_e_per_A2 / 5)
    assert a.tilt_angles_deg == [-60.0, -30.0, 0.0, 30.0, 60.0]
    correlated = draw_acquisition(
        TiltSeriesSettings(**{**settings.__dict__, "correlated_ranged_draws": True}), 0.5, 3, 2
    )
    assert (correlated.defocus_um - 2) / 3 == pytest.approx((correlated.dose_e_per_A2 - 100) / 20)
    assert a.shift_sigma_nm == 0.7


def test_acquisition_record_round_trips(tmp_path):
    """What the simulator writes (acquisition_parameters.json) is what template matching and
    the RELION export read back (tomobench.io.read_acquisition)."""
    settings = TiltSeriesSettings(tilt_count=5, defocus_jitter_um=0.1)
    acquisition = draw_acquisition(settings, 0.5, 3, 2)
    path = tmp_path / MODEL_FILES["acquisition"]
    write_json(path, acquisition.to_json(MICROSCOPE, settings))
    record = read_acquisition(path)
    assert record == {"defocus_um": acquisition.defocus_um,
                      "voltage_kv": MICROSCOPE.voltage_kv,
                      "spherical_aberration_mm": MICROSCOPE.spherical_aberration_mm,
                      "tilt_range_deg": (-60.0, 60.0), "pixel_size_nm": 0.5}


def test_shift_sigma_range_is_drawn_per_tomogram():
    """SHREC'21 drew each model's shift σ from 0.3-1.0 nm (survey §4.2: seed 0 -> 0.684 nm with
    the same uniform number as its defocus 3.646 µm under the organisers' re-seeding)."""
    settings = TiltSeriesSettings(tilt_count=201, shift_sigma_nm=(0.3, 1.0))
    sigmas = [draw_acquisition(settings, 0.5, 3, m).shift_sigma_nm for m in range(20)]
    assert min(sigmas) >= 0.3 and max(sigmas) <= 1.0 and max(sigmas) - min(sigmas) > 0.3
    a = draw_acquisition(settings, 0.5, 3, 0)
    assert np.std(a.shifts_nm) == pytest.approx(a.shift_sigma_nm, rel=0.1)
    fixed = draw_acquisition(TiltSeriesSettings(tilt_count=5, shift_sigma_nm=0.5), 0.5, 3, 0)
    ranged = TiltSeriesSettings(tilt_count=5, shift_sigma_nm=(0.3, 1.0))
    ranged = draw_acquisition(ranged, 0.5, 3, 0)
    assert fixed.defocus_um == ranged.defocus_um  # the range adds a draw, changes no other
    correlated = draw_acquisition(TiltSeriesSettings(
        tilt_count=5, shift_sigma_nm=(0.3, 1.0), correlated_ranged_draws=True), 0.5, 3, 0)
    assert (correlated.shift_sigma_nm - 0.3) / 0.7 == pytest.approx(
        (correlated.defocus_um - 2) / 3)


def test_alignment_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "alignment_simulated.txt"
    angles = np.array([-60.0, 0.0, 60.0])
    shifts = np.array([[0.5, -1.0], [0.0, 0.0], [2.25, 0.125]])
    write_alignment(path, angles, shifts)
    lines = path.read_text().splitlines()
    assert sum(line.startswith("#") for line in lines) == 6
    assert lines[6].split()[:3] == ["-0.500000", "1.000000", "60.000000"]  # inverse transform
    read_angles, read_shifts = read_alignment(path)
    assert np.allclose(read_angles, angles) and np.allclose(read_shifts, shifts)
    path.write_text(path.read_text() + "1.0 x 3.0 0 1 TRS s:3\n")
    with pytest.raises(InputError, match=r"alignment_simulated.txt:10"):
        read_alignment(path)


def test_amplitude_profile_scaling(tmp_path):
    profile_path = tmp_path / "profile.txt"
    frequencies = np.linspace(0, 1.0, 50)
    amplitudes = 500.0 / (1 + 10 * frequencies)
    profile_path.write_text(
        "# frequency_per_nm amplitude\n"
        + "".join(f"{f} {a}\n" for f, a in zip(frequencies, amplitudes, strict=True))
    )
    profile = read_amplitude_profile(profile_path)
    image = np.random.default_rng(0).normal(10.0, 1.0, (128, 128)).astype(np.float32)
    scaled = scale_to_profile(image, 0.5, profile)
    assert scaled.mean() == pytest.approx(image.mean(), rel=1e-5)
    spectrum = np.abs(np.fft.rfft2(scaled))
    ky = np.fft.fftfreq(128, d=0.5)[:, None]
    kx = np.fft.rfftfreq(128, d=0.5)[None, :]
    ring = np.abs(np.hypot(ky, kx) - 0.5) < 1 / (2 * 128 * 0.5)
    assert spectrum[ring].mean() == pytest.approx(500 / 6, rel=0.02)
    profile_path.write_text("0.0 1.0\n0.5 -2\n")
    with pytest.raises(InputError, match="profile.txt:2"):
        read_amplitude_profile(profile_path)


@pytest.mark.skipif(not cupy_available(), reason="needs cupy and a CUDA GPU")
def test_gpu_tilt_series_matches_cpu():
    volume = np.zeros((40, 48, 48), np.complex64)
    volume[10:30] = 0.3 * smooth_random((20, 48, 48), 5)
    settings = TiltSeriesSettings(tilt_count=3, noise=True, detector="K2")
    acquisition = draw_acquisition(settings, 0.5, 2, 0)
    cpu = simulate_tilt_series(volume, 0.5, acquisition, settings, MICROSCOPE, device="cpu")
    gpu = simulate_tilt_series(volume, 0.5, acquisition, settings, MICROSCOPE, device="cuda")
    noiseless = TiltSeriesSettings(**{**settings.__dict__, "noise": False})
    cpu_mean = simulate_tilt_series(volume, 0.5, acquisition, noiseless, MICROSCOPE, "cpu")
    gpu_mean = simulate_tilt_series(volume, 0.5, acquisition, noiseless, MICROSCOPE, "cuda")
    assert np.allclose(gpu_mean, cpu_mean, rtol=1e-4, atol=1e-4 * cpu_mean.max())
    # same Poisson stream: identical counts up to rare rounding at the Poisson draw
    assert np.mean(np.abs(gpu - cpu) > 1e-3 * cpu.max()) < 1e-3


# --------------------------------------------------------------------------- beam damage


def blob_model(shape=(24, 32, 32), seed=3):
    """Complex grand model (V) of a few smooth blobs plus the ice background, and the ice."""
    rng = np.random.default_rng(seed)
    real = np.zeros(shape)
    for _ in range(6):
        centre = [rng.integers(4, n - 4) for n in shape]
        real[tuple(centre)] = 1.0
    real = ndimage.gaussian_filter(real, 2.0) * 400.0  # peaks ~ 4 V
    ice = ice_background_v(300.0)
    model = (real + 0.1j * real + ice).astype(np.complex64)
    return model, real, ice


def test_grand_model_noise_has_the_drawn_snr():
    """3D variant: σ = μ/√SNR with μ the mean of the (ice-free) grand model above 0.01 V, the
    imaginary part scaled by μ_imag/μ_real; the field is seeded per plane (independent of how
    it is read) and its SNR μ²/var(noise) is the drawn one."""
    model, real, ice = blob_model()
    mean_real, mean_imag = beam_damage.grand_model_signal_means(model, ice, planes_per_chunk=5)
    assert mean_real == pytest.approx(real[real > 0.01].mean(), rel=1e-5)
    imag = 0.1 * real
    assert mean_imag == pytest.approx(imag[imag > 0.01].mean(), rel=1e-5)
    snr = 0.8
    sigma = beam_damage.grand_model_noise_sigma_v(mean_real, snr)
    field = beam_damage.GrandModelNoise((40, 64, 64), sigma, seed=5, model_id=2)
    whole = field[0:40]
    assert np.array_equal(np.concatenate([field[0:7], field[7:40]]), whole)
    assert np.array_equal(whole, beam_damage.GrandModelNoise((40, 64, 64), sigma, 5, 2)[0:40])
    assert not np.array_equal(whole, beam_damage.GrandModelNoise((40, 64, 64), sigma, 5, 3)[0:40])
    assert mean_real**2 / whole.var() == pytest.approx(snr, rel=0.01)
    assert abs(whole.mean()) < 0.01 * sigma


def test_intensity_noise_has_the_drawn_snr():
    """2D variant: var(I[I > 0.1]) / var(noise) = SNR for each tilt, seeded per tilt."""
    rng = np.random.default_rng(0)
    intensity = (1.0 + ndimage.gaussian_filter(rng.normal(size=(256, 256)), 2.0)).astype(
        np.float32)
    intensity[:10] = 0.05  # pixels below 0.1 are not signal
    noise, sigma = beam_damage.intensity_noise(intensity, 1.3, seed=1, model_id=4, tilt=7)
    signal = intensity[intensity > 0.1]
    assert sigma == pytest.approx(signal.std() / math.sqrt(1.3), rel=1e-5)
    assert signal.var() / noise.var() == pytest.approx(1.3, rel=0.03)
    again, _ = beam_damage.intensity_noise(intensity, 1.3, seed=1, model_id=4, tilt=7)
    other, _ = beam_damage.intensity_noise(intensity, 1.3, seed=1, model_id=4, tilt=8)
    assert np.array_equal(noise, again) and not np.array_equal(noise, other)


def test_beam_damage_snr_is_a_ranged_draw():
    """Drawn per tomogram from the range and seeded; under faithful.correlated_ranged_draws
    the same uniform number as defocus (survey §4.2: seed 9 drew SNR 0.608 and defocus
    2.031 µm); adding it, or switching it off, moves no other draw."""
    settings = TiltSeriesSettings(tilt_count=5, beam_damage_snr=(0.6, 1.4))
    snrs = [draw_acquisition(settings, 0.5, 3, m).beam_damage_snr for m in range(20)]
    assert min(snrs) >= 0.6 and max(snrs) <= 1.4 and max(snrs) - min(snrs) > 0.3
    assert draw_acquisition(settings, 0.5, 3, 1) == draw_acquisition(settings, 0.5, 3, 1)
    off = draw_acquisition(TiltSeriesSettings(tilt_count=5, beam_damage="none"), 0.5, 3, 1)
    on = draw_acquisition(settings, 0.5, 3, 1)
    assert off.beam_damage_snr is None
    assert (off.defocus_um, off.dose_e_per_A2, off.shifts_nm) == (
        on.defocus_um, on.dose_e_per_A2, on.shifts_nm)
    correlated = draw_acquisition(TiltSeriesSettings(
        tilt_count=5, correlated_ranged_draws=True), 0.5, 3, 0)
    assert (correlated.beam_damage_snr - 0.6) / 0.8 == pytest.approx(
        (correlated.defocus_um - 2) / 3)
    with pytest.raises(ValueError, match="beam_damage"):
        draw_acquisition(TiltSeriesSettings(tilt_count=5, beam_damage="3d"), 0.5, 3, 0)


@pytest.mark.parametrize("variant", ["grand_model_3d", "intensity_2d"])
def test_beam_damage_noise_free_series_is_the_series_without_noise(variant):
    """The noise-free series of a variant is byte for byte the series simulated without any
    noise source (variant none, noise off); the noisy one differs by the beam damage alone
    (counting noise off), and the SNR it carries matches its definition."""
    model, real, ice = blob_model((20, 32, 32))
    settings = TiltSeriesSettings(tilt_count=3, noise=False, detector="ideal", shift_sigma_nm=0.0,
                                  beam_damage=variant, beam_damage_snr=(1.0, 1.0))
    clean_settings = TiltSeriesSettings(**{**settings.__dict__, "beam_damage": "none"})
    acquisition = draw_acquisition(settings, 0.5, 2, 0)
    images, noise_free = simulate_tilt_series(model, 0.5, acquisition, settings, MICROSCOPE,
                                              with_noise_free=True)
    reference = simulate_tilt_series(model, 0.5, draw_acquisition(clean_settings, 0.5, 2, 0),
                                     clean_settings, MICROSCOPE)
    assert noise_free.tobytes() == reference.tobytes()
    assert np.abs(images - noise_free).max() > 0.01 * noise_free.mean()
    assert acquisition.beam_damage_snr == 1.0
    if variant == "intensity_2d":  # the ideal detector passes the intensity through
        electrons = acquisition.dose_per_tilt_e_per_A2 * 25.0
        sigmas = acquisition.beam_damage_noise["noise_sigma_per_tilt"]
        assert np.std(images - noise_free, axis=(1, 2)) / electrons == pytest.approx(sigmas,
                                                                                     rel=0.05)
    else:
        noise = acquisition.beam_damage_noise
        assert noise["signal_mean_real_v"] == pytest.approx(real[real > 0.01].mean(), rel=1e-5)
        assert noise["noise_sigma_v"] == pytest.approx(noise["signal_mean_real_v"], rel=1e-6)
        imag = 0.1 * real
        assert noise["imaginary_noise_scale"] == pytest.approx(
            imag[imag > 0.01].mean() / real[real > 0.01].mean(), rel=1e-4)


def test_beam_damage_none_adds_nothing():
    """Variant none: the images do not depend on the SNR range or on asking for the noise-free
    series, and without counting noise the two series are the same bytes."""
    model, _, _ = blob_model((20, 32, 32))
    settings = TiltSeriesSettings(tilt_count=3, beam_damage="none")
    acquisition = draw_acquisition(settings, 0.5, 2, 0)
    plain = simulate_tilt_series(model, 0.5, acquisition, settings, MICROSCOPE)
    other = TiltSeriesSettings(**{**settings.__dict__, "beam_damage_snr": (0.1, 0.2)})
    images, noise_free = simulate_tilt_series(model, 0.5, draw_acquisition(other, 0.5, 2, 0),
                                              other, MICROSCOPE, with_noise_free=True)
    assert plain.tobytes() == images.tobytes()
    assert acquisition.beam_damage_snr is None and acquisition.beam_damage_noise == {}
    quiet = TiltSeriesSettings(**{**settings.__dict__, "noise": False})
    images, noise_free = simulate_tilt_series(model, 0.5, draw_acquisition(quiet, 0.5, 2, 0),
                                              quiet, MICROSCOPE, with_noise_free=True)
    assert images.tobytes() == noise_free.tobytes()
