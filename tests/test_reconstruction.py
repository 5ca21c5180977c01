"""Reconstruction: handedness/frame (a bead reconstructs at its recorded voxel), shift
correction, agreement with the binned grand model, WBP filter, and the measured SNR."""

import numpy as np
import pytest
from scipy import ndimage

from tomobench.mrc import MrcVolume, write_mrc
from tomobench.reconstruction.snr import noise_reconstruction, snr_by_region
from tomobench.reconstruction.wbp import (
    ReconstructionGeometry,
    wbp_filter,
    weighted_backprojection,
)
from tomobench.simulation.ctf import Microscope
from tomobench.simulation.scene import (
    SceneGeometry,
    SceneParameters,
    add_ice,
    build_scene,
    final_ground_truth,
)
from tomobench.simulation.tilt_series import (
    TiltSeriesSettings,
    draw_acquisition,
    simulate_tilt_series,
)

GEOMETRY = SceneGeometry(48, 32, 1.0, 2, 20)
RECON = ReconstructionGeometry(
    GEOMETRY.final_shape, GEOMETRY.binning, GEOMETRY.z_offset, GEOMETRY.simulation_shape[0]
)


def blob(n, radius, v_real, v_imag):
    g = np.arange(n) - n // 2
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    m = ndimage.gaussian_filter((np.sqrt(zz**2 + yy**2 + xx**2) <= radius).astype(float), 0.7)
    return (m * v_real + 1j * m * v_imag).astype(np.complex64)


def simulate(scene, seed, shift_sigma_nm=0.5, defocus_um=1.0, tilts=31, noise=False):
    settings = TiltSeriesSettings(
        tilt_count=tilts,
        defocus_um=(defocus_um, defocus_um),
        shift_sigma_nm=shift_sigma_nm,
        noise=noise,
        detector="K2",
        beam_damage="none",
    )
    potential = scene.potential.copy()
    add_ice(potential, 300.0)
    acquisition = draw_acquisition(settings, GEOMETRY.simulation_voxel_nm, seed, 0)
    projections = simulate_tilt_series(
        potential, GEOMETRY.simulation_voxel_nm, acquisition, settings, Microscope()
    )
    shifts_px = np.array(acquisition.shifts_nm) / GEOMETRY.simulation_voxel_nm
    return projections, acquisition.tilt_angles_deg, shifts_px


def bead_scene(seed):
    parameters = SceneParameters((0, 0), (1, 1), (0, 0))
    return build_scene(GEOMETRY, parameters, {}, [], [blob(13, 3, 25.0, 0.9)], seed, 0)


def darkest_voxel(volume):
    smooth = ndimage.gaussian_filter(volume, 1.0)
    return np.array(np.unravel_index(np.argmin(smooth), smooth.shape))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bead_reconstructs_at_its_recorded_voxel(seed):
    scene = bead_scene(seed)
    *_, locations = final_ground_truth(scene, GEOMETRY)
    truth = locations.loc[0, ["z", "y", "x"]].to_numpy(dtype=int)
    projections, angles, shifts = simulate(scene, seed, shift_sigma_nm=1.0)
    volume = weighted_backprojection(projections, angles, shifts, RECON)
    assert volume.shape == GEOMETRY.final_shape
    assert np.all(np.abs(darkest_voxel(volume) - truth) <= 1), (darkest_voxel(volume), truth)


def test_shift_correction_is_needed_and_applied():
    scene = bead_scene(4)
    *_, locations = final_ground_truth(scene, GEOMETRY)
    truth = locations.loc[0, ["z", "y", "x"]].to_numpy(dtype=int)
    projections, angles, shifts = simulate(scene, 4, shift_sigma_nm=3.0)
    corrected = weighted_backprojection(projections, angles, shifts, RECON)
    uncorrected = weighted_backprojection(projections, angles, np.zeros_like(shifts), RECON)
    assert np.all(np.abs(darkest_voxel(corrected) - truth) <= 1)
    depth = [
        v[tuple(truth)]
        for v in (
            ndimage.gaussian_filter(corrected, 1.0),
            ndimage.gaussian_filter(uncorrected, 1.0),
        )
    ]
    assert depth[0] < 1.5 * depth[1]  # the corrected bead is markedly darker (more negative)


def _slab_correlation(volume, grandmodel, band=False):
    slab = slice(GEOMETRY.z_offset, GEOMETRY.z_offset + GEOMETRY.ice_voxels)
    if band:  # the band the CTF transmits at a few um defocus

        def keep(v):
            return ndimage.gaussian_filter(v, 1.0) - ndimage.gaussian_filter(v, 4.0)
    else:

        def keep(v):
            return ndimage.gaussian_filter(v, 1.0)

    return np.corrcoef(-keep(volume)[slab].ravel(), keep(grandmodel)[slab].ravel())[0, 1]


def test_in_focus_absorption_reconstruction_matches_grand_model():
    """Without phase contrast (in focus, Cs = 0) the image is exp(-2 sigma V_imag): the WBP of
    the noise-free series reproduces the (imaginary) grand model up to the missing wedge."""
    proteins = {"1BXN": blob(19, 6, 0.0, 0.3), "3QM1": blob(11, 3, 0.0, 0.3)}
    parameters = SceneParameters((25, 25), (0, 0), (0, 0), max_placement_attempts=50)
    scene = build_scene(GEOMETRY, parameters, proteins, [], [], 9, 0)
    scene.potential.real[:] = scene.potential.imag  # ground truth = absorption map
    grandmodel, *_ = final_ground_truth(scene, GEOMETRY)
    scene.potential.real[:] = 0
    settings = TiltSeriesSettings(
        tilt_count=41, defocus_um=(0, 0), shift_sigma_nm=0.5, noise=False, detector="ideal",
        beam_damage="none",
    )
    acquisition = draw_acquisition(settings, 0.5, 9, 0)
    projections = simulate_tilt_series(
        scene.potential, 0.5, acquisition, settings, Microscope(spherical_aberration_mm=0)
    )
    shifts = np.array(acquisition.shifts_nm) / 0.5
    volume = weighted_backprojection(projections, acquisition.tilt_angles_deg, shifts, RECON)
    assert _slab_correlation(volume, grandmodel) > 0.75


def test_noise_free_phase_contrast_reconstruction_correlates_with_grand_model():
    proteins = {"1BXN": blob(19, 6, 2.0, 0.2), "3QM1": blob(11, 3, 2.0, 0.2)}
    parameters = SceneParameters((25, 25), (1, 1), (0, 0), max_placement_attempts=50)
    scene = build_scene(GEOMETRY, parameters, proteins, [], [blob(13, 3, 25.0, 0.9)], 9, 0)
    grandmodel, *_ = final_ground_truth(scene, GEOMETRY)
    projections, angles, shifts = simulate(scene, 9, defocus_um=3.0)
    volume = weighted_backprojection(projections, angles, shifts, RECON)
    # underfocus phase contrast: dense objects reconstruct dark, in the CTF's pass band
    clean = _slab_correlation(volume, grandmodel, band=True)
    assert clean > 0.5
    noisy, *_ = simulate(scene, 9, defocus_um=3.0, noise=True)
    noisy_volume = weighted_backprojection(noisy, angles, shifts, RECON)
    assert 0.1 < _slab_correlation(noisy_volume, grandmodel, band=True) < clean


def test_wbp_filter_shape():
    weights = wbp_filter((64, 64), 0.9, 0.18)
    kx = np.fft.rfftfreq(64) / 0.5
    assert weights[0, 0] == 0  # the ramp removes the mean
    assert np.allclose(weights[0, 1:20], kx[1:20], rtol=1e-6)  # ramp |kx|/Nyquist, y-independent
    assert np.allclose(weights[5, 1:20], kx[1:20], rtol=1e-6)
    i = 32  # Nyquist along x: 0.1 beyond the cut-off
    assert weights[0, i] == pytest.approx(kx[i] * np.exp(-((kx[i] - 0.9) ** 2) / (2 * 0.18**2)))
    assert np.all(weights[np.hypot(*np.meshgrid(kx, np.fft.fftfreq(64) / 0.5)) > 1] == 0)


def test_threads_and_slab_reading_leave_every_stage_byte_identical(tmp_path):
    """Scene (two parts rotated side by side), tilt series (tilts side by side, the model
    read from its file in z-slabs) and WBP (blocks of planes side by side) give the same
    bytes with one or two threads."""
    proteins = {"1BXN": blob(15, 4, 2.0, 0.2), "3QM1": blob(9, 2, 2.0, 0.2)}
    parameters = SceneParameters((12, 12), (1, 1), (0, 0))
    gold = [blob(13, 3, 25.0, 0.9)]
    one = build_scene(GEOMETRY, parameters, proteins, [], gold, 4, 0, threads=1)
    two = build_scene(GEOMETRY, parameters, proteins, [], gold, 4, 0, threads=2)
    assert one.potential.tobytes() == two.potential.tobytes() and one.objects.equals(two.objects)
    potential = one.potential.copy()
    add_ice(potential, 300.0)
    write_mrc(tmp_path / "unbinned.mrc", potential, GEOMETRY.simulation_voxel_nm)
    settings = TiltSeriesSettings(tilt_count=5, noise=True, detector="K2")
    series = []
    for source, workers in ((potential, 1), (MrcVolume(tmp_path / "unbinned.mrc"), 2)):
        acquisition = draw_acquisition(settings, GEOMETRY.simulation_voxel_nm, 4, 0)
        series.append(simulate_tilt_series(source, GEOMETRY.simulation_voxel_nm, acquisition,
                                           settings, Microscope(), workers=workers))
    assert series[0].tobytes() == series[1].tobytes()
    shifts = np.array(acquisition.shifts_nm) / GEOMETRY.simulation_voxel_nm
    volumes = [weighted_backprojection(series[0], acquisition.tilt_angles_deg, shifts, RECON,
                                       workers=workers) for workers in (1, 2)]
    assert volumes[0].tobytes() == volumes[1].tobytes()


def test_measured_snr_equals_the_snr_of_known_signal_and_noise():
    """Known signal (smooth projections) plus known noise (Gaussian, added to the images):
    the measured SNR (one back-projection of the normalised difference) equals the SNR from
    the two reconstructions made separately, var(noisy) - var(noise) over var(noise), for
    every region; with independent noise it also matches var(signal) / var(noise)."""
    rng = np.random.default_rng(11)
    tilts = 21
    angles = np.linspace(-60, 60, tilts)
    shifts = rng.normal(0, 0.5, (tilts, 2))
    shape = (tilts, 2 * GEOMETRY.size_xy_voxels, 2 * GEOMETRY.size_xy_voxels)
    signal = 40.0 * (1 + 0.2 * ndimage.gaussian_filter(rng.normal(size=shape), (0, 3, 3)))
    noise_free = signal.astype(np.float32)
    noisy = (signal + rng.normal(0, 1.0, shape)).astype(np.float32)
    volume = weighted_backprojection(noisy, angles, shifts, RECON)
    clean = weighted_backprojection(noise_free, angles, shifts, RECON)
    noise = noise_reconstruction(noisy, noise_free, angles, shifts, RECON)
    assert np.allclose(noise, volume - clean, atol=1e-4 * np.abs(volume).max())
    ice = slice(GEOMETRY.z_offset, GEOMETRY.z_offset + GEOMETRY.ice_voxels)
    occupancy = np.zeros(GEOMETRY.final_shape, np.float32)
    occupancy[ice, 8:20, 8:20] = 1
    measured = snr_by_region(volume, noise, ice_planes=ice, occupancy=occupancy)
    for region, voxels in (("whole_tomogram", slice(None)), ("ice_slab", ice)):
        direct_noise = (volume - clean)[voxels]
        direct = (volume[voxels].var() - direct_noise.var()) / direct_noise.var()
        assert measured[region]["snr"] == pytest.approx(direct, rel=1e-3)
        assert measured[region]["snr_noise_free"] == pytest.approx(
            clean[voxels].var() / direct_noise.var(), rel=1e-3)
        assert measured[region]["snr"] == pytest.approx(measured[region]["snr_noise_free"],
                                                        rel=0.1)
    inside = occupancy > 0
    direct_noise = (volume - clean)[inside]
    assert measured["particle_voxels"]["snr"] == pytest.approx(
        (volume[inside].var() - direct_noise.var()) / direct_noise.var(), rel=1e-3)
    assert measured["particle_voxels"]["voxels"] == int(inside.sum())
    assert 0.05 < measured["whole_tomogram"]["snr"] < 20
    silent = snr_by_region(clean, np.zeros_like(clean), ice_planes=ice)  # no noise source on
    assert silent["whole_tomogram"]["snr"] is None and silent["ice_slab"]["var_noise"] == 0
