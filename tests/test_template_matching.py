"""Template matching (TM, TM-F) and LoG fiducials: planted signals recovered, FLCF = brute force."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.fft
import scipy.stats
from scipy import ndimage
from scipy.spatial.transform import Rotation

from tomobench.backend import cupy_available
from tomobench.classes import TABLE1
from tomobench.errors import InputError
from tomobench.fourier import fourier_bin, frequency_magnitude, missing_wedge
from tomobench.io import read_acquisition
from tomobench.methods.log_fiducials import pick_fiducials
from tomobench.methods.peaks import greedy_peaks, non_overlapping, subvoxel_offsets
from tomobench.methods.template_matching import (
    angles,
    extract_picks,
    search_class,
)
from tomobench.methods.template_matching.correlation import (
    LocalCorrelation,
    brute_force_score,
    index_rotation_matrix,
)
from tomobench.methods.template_matching.extraction import (
    TM_F_ORDER,
    ClassSearch,
    false_alarm_threshold,
    filter_tm_f,
    fit_particle_population,
    merge_tm,
)
from tomobench.methods.template_matching.pipeline import EXTRACTION_DEFAULTS
from tomobench.methods.template_matching.templates import make_template, spherical_mask
from tomobench.optics import electron_wavelength_nm


def _asymmetric_template(box: int = 15) -> np.ndarray:
    """Three Gaussian blobs of different sizes: no rotational symmetry."""
    grid = np.indices((box,) * 3, dtype=np.float32) - box // 2
    blobs = [((0, 0, 2), 2.5, 1.0), ((2, -3, -2), 1.5, 0.8), ((-3, 2, -1), 1.0, 0.6)]
    volume = np.zeros((box,) * 3, dtype=np.float32)
    for (z, y, x), sigma, weight in blobs:
        d2 = (grid[0] - z) ** 2 + (grid[1] - y) ** 2 + (grid[2] - x) ** 2
        volume += weight * np.exp(-d2 / (2 * sigma**2))
    return volume


def _rotate(template: np.ndarray, rotation: Rotation, order: int = 3) -> np.ndarray:
    matrix = index_rotation_matrix(rotation)
    centre = np.full(3, template.shape[0] // 2, dtype=float)
    return ndimage.affine_transform(template, matrix, offset=centre - matrix @ centre, order=order)


def _plant(shape, template, centre, rotation, noise_sigma, seed):
    volume = np.zeros(shape, dtype=np.float32)
    half = template.shape[0] // 2
    window = tuple(slice(c - half, c + half + 1) for c in centre)
    volume[window] += _rotate(template, rotation)
    volume += noise_sigma * np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (volume - volume.mean()) / volume.std()


# --- rotation sets ---------------------------------------------------------------------------

def test_rotation_counts_match_hopf_grids():
    assert angles.rotation_count(30) == 551  # PyTom's HEALPix grid: 576
    assert angles.rotation_count(15) == 4401  # 4608
    quaternions = angles.super_fibonacci_quaternions(100)
    assert np.allclose(np.linalg.norm(quaternions, axis=1), 1.0)


@pytest.mark.parametrize("step", [30.0, 60.0])
def test_rotation_set_covers_so3(step):
    rotations = angles.uniform_rotations(step)
    probes = Rotation.random(300, random_state=3)
    nearest = [angles.angular_distance_deg(rotations, probe).min() for probe in probes]
    assert max(nearest) < step
    assert 0.35 * step < np.median(nearest) < 0.65 * step


def test_chunks_partition_the_rotation_set():
    parts = [angles.chunk_indices(551, 4, c) for c in range(4)]
    assert np.array_equal(np.concatenate(parts), np.arange(551))
    with pytest.raises(ValueError):
        angles.chunk_indices(10, 2, 2)


# --- FLCF -----------------------------------------------------------------------------------

def test_flcf_equals_brute_force_normalised_correlation():
    rng = np.random.default_rng(0)
    volume = rng.standard_normal((18, 22, 20)).astype(np.float32)
    template = rng.standard_normal((9, 9, 9)).astype(np.float32)
    mask = spherical_mask(9, 3.0, 1.0)
    engine = LocalCorrelation(volume, mask)
    rotation = Rotation.from_euler("ZXZ", [[20, 50, 110]], degrees=True)
    result = engine.search([template], rotation)
    rotated = _rotate(template, rotation[0], order=1)
    for centre in [(0, 0, 0), (5, 7, 3), (17, 21, 19), (9, 11, 10), (3, 20, 12)]:
        expected = brute_force_score(volume, rotated, mask, centre)
        assert result.scores[centre] == pytest.approx(expected, abs=2e-5)
    assert np.all(result.angles == 0)


def test_rotation_workers_give_byte_identical_maps_and_the_brute_force_scores():
    """Rotations dealt to 1, 2 or 3 threads: the same bytes (ties go to the earliest
    rotation), every score the brute-force normalised correlation of its best rotation."""
    rng = np.random.default_rng(4)
    volume = rng.standard_normal((16, 18, 20)).astype(np.float32)
    template = rng.standard_normal((7, 7, 7)).astype(np.float32)
    mask = spherical_mask(7, 2.5, 1.0)
    rotations = angles.uniform_rotations(60.0)[:10]
    templates = [template, np.ascontiguousarray(template[:, :, ::-1])]
    results = [LocalCorrelation(volume, mask, workers=workers).search(templates, rotations)
               for workers in (1, 2, 3)]
    for other in results[1:]:
        assert other.scores.tobytes() == results[0].scores.tobytes()
        assert other.angles.tobytes() == results[0].angles.tobytes()
        assert (other.score_mean, other.score_std) == (results[0].score_mean,
                                                       results[0].score_std)
    assert len(np.unique(results[0].angles)) > 5  # the workers' shares all won somewhere
    for centre in [(0, 0, 0), (4, 9, 13), (15, 17, 19), (8, 2, 11)]:
        index = int(results[0].angles[centre])
        candidate = templates[index // len(rotations)]
        rotated = _rotate(candidate, rotations[index % len(rotations)], order=1)
        expected = brute_force_score(volume, rotated, mask, centre)
        assert results[0].scores[centre] == pytest.approx(expected, abs=2e-5)


def test_planted_template_found_exactly_without_noise():
    template = _asymmetric_template()
    truth = Rotation.from_euler("ZXZ", [33, 71, -140], degrees=True)
    centre = (17, 19, 24)
    volume = _plant((36, 40, 44), template, centre, truth, noise_sigma=0.0, seed=1)
    step = 30.0
    rotations = angles.uniform_rotations(step)
    result = LocalCorrelation(volume, spherical_mask(15, 6.0)).search([template], rotations)
    peak = np.unravel_index(np.argmax(result.scores), result.scores.shape)
    assert peak == centre
    assert result.scores[peak] > 0.9
    assert angles.angular_distance_deg(truth, rotations[int(result.angles[peak])]) < step


def test_planted_template_found_in_noise_with_mirror():
    template = _asymmetric_template()
    truth = Rotation.from_euler("ZXZ", [-70, 120, 15], degrees=True)
    centre = (14, 22, 19)
    mirrored = np.ascontiguousarray(template[:, :, ::-1])
    volume = _plant((32, 40, 40), mirrored, centre, truth, noise_sigma=0.15, seed=2)
    step = 30.0
    rotations = angles.uniform_rotations(step)
    engine = LocalCorrelation(volume, spherical_mask(15, 6.0))
    result = engine.search([template, mirrored], rotations)
    peak = np.unravel_index(np.argmax(result.scores), result.scores.shape)
    assert peak == centre
    index = int(result.angles[peak])
    found, mirrored = angles.rotation_of_index(index, step)
    assert mirrored  # the mirrored template won
    assert angles.angular_distance_deg(truth, found) < step
    assert 0.0 < result.score_std < 0.5


def test_missing_wedge_weighting_keeps_planted_peak():
    template = _asymmetric_template()
    truth = Rotation.from_euler("ZXZ", [10, 40, 80], degrees=True)
    centre = (15, 18, 20)
    shape = (30, 36, 40)
    clean = np.zeros(shape, dtype=np.float32)
    clean[8:23, 11:26, 13:28] = _rotate(template, truth)
    wedged = scipy.fft.irfftn(scipy.fft.rfftn(clean) * missing_wedge(shape, (-60, 60)), s=shape)
    wedged = ((wedged - wedged.mean()) / wedged.std()).astype(np.float32)
    rotations = angles.uniform_rotations(30.0)
    engine = LocalCorrelation(wedged, spherical_mask(15, 6.0))
    plain = engine.search([template], rotations)
    weighted = engine.search([template], rotations, wedge=missing_wedge((15,) * 3, (-60, 60)))
    for result in (plain, weighted):
        assert np.unravel_index(np.argmax(result.scores), shape) == centre
    assert weighted.scores[centre] > plain.scores[centre]


def test_missing_wedge_geometry():
    wedge = missing_wedge((16, 8, 16), (-60, 60))
    assert wedge.shape == (16, 8, 9)
    kz, kx = scipy.fft.fftfreq(16), scipy.fft.rfftfreq(16)
    # along x (tilt 0) sampled, along z (beam direction at tilt 0) missing, 45° sampled, 70° not
    assert wedge[0, 0, 3] == 1 and wedge[3, 0, 0] == 0
    assert wedge[3, 5, 3] == 1
    z70 = np.argmin(np.abs(kz - 0.25 * math.tan(math.radians(70))))
    x = np.argmin(np.abs(kx - 0.25))
    assert wedge[z70, 2, x] == 0
    assert wedge[0, 0, 0] == 1


@pytest.mark.skipif(not cupy_available(), reason="no usable cupy/CUDA GPU")
def test_gpu_search_equals_cpu():
    import cupy

    template = _asymmetric_template()
    truth = Rotation.from_euler("ZXZ", [5, 60, 200], degrees=True)
    volume = _plant((32, 36, 40), template, (16, 18, 20), truth, noise_sigma=0.2, seed=4)
    rotations = angles.uniform_rotations(60.0)
    mask = spherical_mask(15, 6.0)
    wedge = missing_wedge((15,) * 3, (-60, 60))
    cpu = LocalCorrelation(volume, mask).search([template], rotations, wedge=wedge)
    gpu = LocalCorrelation(volume, mask, xp=cupy).search([template], rotations, wedge=wedge)
    assert np.allclose(cpu.scores, gpu.scores, atol=1e-4)
    assert np.mean(cpu.angles == gpu.angles) > 0.99


# --- templates --------------------------------------------------------------------------------

def test_fourier_bin_keeps_alignment_and_mean():
    grid = np.indices((32, 40, 36), dtype=np.float32)
    centre = (12, 18, 22)
    d2 = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True))
    blob = np.exp(-d2 / (2 * 3.0**2)).astype(np.float32)
    binned = fourier_bin(blob, 2)
    assert binned.shape == (16, 20, 18)
    assert np.unravel_index(np.argmax(binned), binned.shape) == (6, 9, 11)
    assert binned.mean() == pytest.approx(blob.mean(), rel=1e-4)
    assert fourier_bin(blob[:31], 2, trim=True).shape == (15, 20, 18)
    with pytest.raises(ValueError, match="multiple"):
        fourier_bin(blob[:31], 2)


def test_electron_wavelength():
    assert electron_wavelength_nm(300) == pytest.approx(0.001969, rel=1e-3)
    assert electron_wavelength_nm(200) == pytest.approx(0.002508, rel=1e-3)


def _synthetic_potential(voxel_nm=0.5, box=40):
    """Positive protein-like potential (volts) centred at box // 2, asymmetric."""
    grid = (np.indices((box,) * 3, dtype=np.float32) - box // 2) * voxel_nm
    potential = np.zeros((box,) * 3, dtype=np.float32)
    lobes = [((0, 0, 1.5), 3.0), ((2.0, -2.5, -2.0), 2.0), ((-2.5, 2.0, -1.0), 1.5)]
    for (z, y, x), radius in lobes:
        d = np.sqrt((grid[0] - z) ** 2 + (grid[1] - y) ** 2 + (grid[2] - x) ** 2)
        potential += 1.5 / (1 + np.exp((d - radius) / 0.3))
    return potential


def _simulator_contrast(potential_1nm, defocus_um, voltage_kv=300.0, cs_mm=2.7):
    """Image contrast of a weak phase object the way the simulator forms it, written
    independently: ψ = 1 + iσV, image wave × exp(-iχ) with χ = ½π(Cs λ³ q⁴ - 2 Δf λ q²),
    intensity - 1 = 2σ F⁻¹[V̂ sin χ] (σ > 0 dropped)."""
    wavelength = electron_wavelength_nm(voltage_kv)
    q = frequency_magnitude(potential_1nm.shape, 1.0, real=True)
    cs_nm, defocus_nm = cs_mm * 1e6, defocus_um * 1e3
    chi = 0.5 * math.pi * (cs_nm * wavelength**3 * q**4 - 2 * defocus_nm * wavelength * q**2)
    return scipy.fft.irfftn(scipy.fft.rfftn(potential_1nm) * np.sin(chi), s=potential_1nm.shape)


def test_template_contrast_matches_simulated_ctf():
    potential = _synthetic_potential()
    shape = (40, 48, 48)
    scene = np.zeros((shape[0] * 2, shape[1] * 2, shape[2] * 2), dtype=np.float32)
    scene[20:60, 30:70, 40:80] = potential  # molecule centre at (40, 50, 60) in 0.5 nm voxels
    tomogram = _simulator_contrast(fourier_bin(scene, 2), defocus_um=3.0).astype(np.float32)
    # protein is dark in the image, as in the simulator's reconstructions
    assert tomogram[20, 25, 30] < 0
    acquisition = {"defocus_um": 3.0, "voltage_kv": 300.0, "spherical_aberration_mm": 2.7,
                   "tilt_range_deg": (-60, 60)}
    settings = {"angular_step_deg": 60, "search_voxel_size_nm": 1.0, "missing_wedge": False,
                "defocus_um": None}
    result, description = search_class(tomogram, 1.0, potential, 0.5, acquisition, settings,
                                       device="cpu")
    peak = np.unravel_index(np.argmax(result.scores), result.scores.shape)
    assert np.abs(np.array(peak) - (20, 25, 30)).max() <= 1
    assert result.scores[peak] > 0.8
    assert description["factor"] == 1
    inverted, _ = search_class(tomogram, 1.0, potential, 0.5, acquisition,
                               {**settings, "protein_contrast": "bright"}, device="cpu")
    assert inverted.scores[peak] < 0.5


def test_make_template_geometry_and_errors():
    potential = _synthetic_potential()
    template = make_template(potential, 0.5, 2.0, defocus_um=3.0)
    box = template.volume.shape[0]
    assert box % 2 == 1 and template.mask.shape == (box,) * 3
    assert template.mask[box // 2, box // 2, box // 2] == 1.0
    assert template.enclosing_radius_nm < template.mask_radius_nm + 1e-6 + 0.5
    assert 2.0 < template.particle_radius_nm < template.enclosing_radius_nm
    assert template.volume[box // 2, box // 2, box // 2] < 0  # dark protein
    with pytest.raises(InputError, match="search_voxel_size_nm"):
        make_template(potential, 0.5, 1.3, defocus_um=3.0)


def test_read_acquisition(tmp_path):
    fallback = {"voltage_kv": 300, "spherical_aberration_mm": 2.7, "tilt_range_deg": [-60, 60]}
    path = tmp_path / "acquisition_parameters.json"
    path.write_text(json.dumps({"defocus_um": [3.0, 3.2], "tilt_angles_deg": [-50, 0, 54],
                                "microscope": {"voltage_kv": 200.0}}))
    acquisition = read_acquisition(path, fallback)
    assert acquisition["defocus_um"] == pytest.approx(3.1)
    assert acquisition["tilt_range_deg"] == (-50.0, 54.0)
    assert acquisition["voltage_kv"] == 200.0
    assert acquisition["spherical_aberration_mm"] == 2.7
    path.write_text(json.dumps({"dose_e_per_A2": 100}))
    with pytest.raises(InputError, match="defocus_um"):
        read_acquisition(path, fallback)


# --- extraction -------------------------------------------------------------------------------

def test_gaussian_fit_finds_particle_population():
    rng = np.random.default_rng(5)
    scores = np.concatenate([rng.normal(0.20, 0.03, 900), rng.normal(0.50, 0.05, 100)])
    fit = fit_particle_population(scores)
    assert fit["mean"] == pytest.approx(0.50, abs=0.02)
    assert fit["std"] == pytest.approx(0.05, abs=0.015)
    assert fit["threshold"] == pytest.approx(0.40, abs=0.04)
    assert fit == fit_particle_population(scores)  # deterministic


def test_false_alarm_threshold_counts():
    values = np.random.default_rng(6).standard_normal(2_000_000)
    threshold = false_alarm_threshold(0.0, 1.0, values.size, false_alarms=20)
    assert 8 <= int((values > threshold).sum()) <= 35
    one_in_a_billion = scipy.stats.norm.isf(1e-9)  # 5.998
    expected = 0.1 + 0.02 * one_in_a_billion
    assert false_alarm_threshold(0.1, 0.02, 10**9, 1) == pytest.approx(expected)


def test_greedy_peaks_exclusion_and_subvoxel():
    volume = np.zeros((20, 20, 20), dtype=np.float32)
    volume[5, 5, 5], volume[5, 5, 8], volume[15, 15, 15] = 3.0, 2.0, 1.0
    coords, values = greedy_peaks(volume, exclusion_radius=4.0, threshold=0.5)
    assert [tuple(c) for c in coords] == [(5, 5, 5), (15, 15, 15)]
    coords, _ = greedy_peaks(volume, exclusion_radius=2.0, max_peaks=2, threshold=0.5)
    assert [tuple(c) for c in coords] == [(5, 5, 5), (5, 5, 8)]
    x = np.arange(11, dtype=np.float32)
    bump = np.exp(-((x - 5.3) ** 2) / 4)[None, None, :].repeat(3, 0).repeat(3, 1)
    assert subvoxel_offsets(bump, np.array([[1, 1, 5]]))[0, 2] == pytest.approx(0.3, abs=0.05)


def _search(name, scores, radius_nm, mean=0.0, std=0.1, factor=2):
    return ClassSearch(name, scores, np.zeros(scores.shape, np.int32), mean, std,
                       scores.size * 100, factor, radius_nm, radius_nm + 1, 2.0)


def test_tm_f_never_outputs_overlapping_particles():
    rng = np.random.default_rng(7)
    candidates = []
    for k, name in enumerate(["1BXN", "3H84", "5MRC", "fiducial"]):
        n = 150
        candidates.append(pd.DataFrame({
            "class_name": name, "x": rng.uniform(0, 100, n), "y": rng.uniform(0, 100, n),
            "z": rng.uniform(0, 50, n), "score": rng.uniform(0, 1, n),
            "zscore": rng.uniform(0, 10, n), "angle_index": 0, "radius_voxels": 2.0 + 2 * k,
        }))
    picks = filter_tm_f(candidates)
    radius = {f["class_name"].iloc[0]: f["radius_voxels"].iloc[0] for f in candidates}
    positions = picks[["x", "y", "z"]].to_numpy()
    radii = picks["class_name"].map(radius).to_numpy()
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    assert np.all(distance >= radii[:, None] + radii[None, :] - 1e-9)
    assert len(picks) > 20
    # fiducials are accepted first, then the paper's order (5MRC before 3H84 before 1BXN)
    order = picks["class_name"].drop_duplicates().tolist()
    assert order == ["fiducial", "5MRC", "3H84", "1BXN"]
    # every dropped candidate overlaps a kept one
    assert non_overlapping(positions, radii).all()


# §3.7 of the paper (TM-F): "To test for overlap, we calculate the distance between the centre of
# an existing particle to the centre of the candidate and calculate whether the distance is
# smaller than the sum of their radii. The candidates for round and symmetrical particles were
# filtered before asymmetrical and elongated particles [...] This resulted in 9 fiducials and
# 122, 81, 79, 127, 624, 212, 37, 71, 125, 85, 32, 65 particles of each class recognized [...],
# from largest to smallest respectively"; TM, before the filter: "122, 107, 318, 314, 924, 708,
# 211, 329, 127, 399, 149, 301 particles of each class [...] from largest to smallest".
PAPER_HEAVIEST_FIRST = ("5MRC", "4CR2", "1QVR", "1BXN", "3CF3", "1U6G", "3D2F", "2CG9", "3H84",
                        "3GL1", "3QM1", "1S3X")
PAPER_TM_PICKS = (122, 107, 318, 314, 924, 708, 211, 329, 127, 399, 149, 301)
PAPER_TM_F_PICKS = (122, 81, 79, 127, 624, 212, 37, 71, 125, 85, 32, 65)


def _candidates(name, points_zyx, zscores, radius_voxels):
    points = np.asarray(points_zyx, dtype=float).reshape(-1, 3)
    return pd.DataFrame({"class_name": name, "x": points[:, 2], "y": points[:, 1],
                         "z": points[:, 0], "score": np.asarray(zscores) / 10,
                         "zscore": zscores, "angle_index": 0, "radius_voxels": radius_voxels})


def test_tm_f_class_order_is_the_papers():
    """The order §3.7 states ("round and symmetrical" classes first) is the one its counts
    show: the class filtered first loses no candidate (5MRC: 122 of 122), later ones lose more
    as the tomogram fills. So the default order is decreasing kept fraction TM-F / TM."""
    assert tuple(TABLE1[n].paper_tm_picks for n in PAPER_HEAVIEST_FIRST) == PAPER_TM_PICKS
    assert tuple(TABLE1[n].paper_tm_f_picks for n in PAPER_HEAVIEST_FIRST) == PAPER_TM_F_PICKS
    by_weight = sorted(TABLE1, key=lambda n: -TABLE1[n].molecular_weight_kda)
    assert PAPER_HEAVIEST_FIRST == tuple(by_weight)
    kept = {n: f / t for n, t, f in zip(PAPER_HEAVIEST_FIRST, PAPER_TM_PICKS, PAPER_TM_F_PICKS,
                                        strict=True)}
    assert TM_F_ORDER == (*sorted(kept, key=lambda n: -kept[n]), "4V94")
    # the large and the round, symmetric complexes first, never the small ones
    assert TM_F_ORDER == ("5MRC", "3H84", "4CR2", "3CF3", "1BXN", "1U6G", "1QVR", "1S3X", "2CG9",
                          "3QM1", "3GL1", "3D2F", "4V94")
    assert EXTRACTION_DEFAULTS["class_order"] is None
    assert EXTRACTION_DEFAULTS["overlap_radius_scale"] == 1.0
    # the filter accepts class by class in that order, whatever the input and score order:
    # one candidate per class, far apart, the highest scores on the last classes
    names = list(reversed(PAPER_HEAVIEST_FIRST))
    candidates = [_candidates(n, [(0, 0, 100 * k)], [float(k)], 5.0) for k, n in enumerate(names)]
    candidates.append(_candidates("fiducial", [(0, 100, 0)], [0.5], 3.0))
    picks = filter_tm_f(candidates)
    assert picks["class_name"].tolist() == ["fiducial", *TM_F_ORDER[:-1]]


def test_tm_f_overlap_is_the_sum_of_radii_and_the_large_round_complex_survives():
    """A 5MRC candidate (radius 12 voxels) scored below five 1BXN candidates (radius 5) around
    it: 5MRC's class is filtered first, so it is kept, and each 1BXN candidate is dropped exactly
    when its distance to the 5MRC centre is below 12 + 5 = 17 (not 12, the larger radius; not
    5 + 5; equality is not an overlap)."""
    centre = np.array([50.0, 50.0, 50.0])
    offsets = {6.0: (0, 0, 1), 13.0: (0, 0, -1), 16.99: (0, 1, 0), 17.0: (0, -1, 0),
               30.0: (1, 0, 0)}  # pairwise >= 10 voxels apart: no 1BXN-1BXN overlap
    small_points = [centre + d * np.array(u) for d, u in offsets.items()]
    big = _candidates("5MRC", [centre], [3.0], 12.0)
    small = _candidates("1BXN", small_points, [9.0, 8.0, 7.0, 6.0, 5.0], 5.0)
    picks = filter_tm_f([small, big])
    assert picks["class_name"].tolist() == ["5MRC", "1BXN", "1BXN"]
    kept = np.linalg.norm(picks[["z", "y", "x"]].to_numpy()[1:] - centre, axis=1)
    assert kept.tolist() == [17.0, 30.0]
    # the same through the default TM-F extraction of score maps (search voxel = 2 tomogram
    # voxels): 1BXN peaks 6, 14, 16, 18 and 30 voxels from the 5MRC peak; 18 and 30 survive
    maps = {n: np.zeros((40, 40, 40), np.float32) for n in ("1BXN", "5MRC")}
    maps["5MRC"][20, 20, 20] = 0.3
    for steps, value in zip(((0, 0, 3), (0, 0, -7), (0, 8, 0), (0, -9, 0), (15, 0, 0)),
                            (0.9, 0.8, 0.7, 0.6, 0.5), strict=True):
        maps["1BXN"][tuple(20 + np.array(steps))] = value
    searches = [_search("1BXN", maps["1BXN"], 5.0), _search("5MRC", maps["5MRC"], 12.0)]
    params = {"top_n": 10, "threshold": "fixed", "fixed_threshold": 0.1, "fiducials": False}
    picks, report = extract_picks(searches, None, "tm_f", params)
    assert report["picks_per_class"] == {"1BXN": 2, "5MRC": 1}
    distances = np.linalg.norm(picks[["z", "y", "x"]].to_numpy() - 40.0, axis=1)
    assert picks["class_name"].tolist() == ["5MRC", "1BXN", "1BXN"]
    assert distances.round(6).tolist() == [0.0, 18.0, 30.0]
    # the old Table-1 sphericity order, one key away, lets the 1BXN candidates win
    old_order = ["1BXN", "2CG9", "3CF3", "3H84", "3QM1", "1S3X", "3GL1", "3D2F", "1U6G", "1QVR",
                 "5MRC", "4CR2"]
    picks, _ = extract_picks(searches, None, "tm_f", {**params, "class_order": old_order})
    assert "5MRC" not in set(picks["class_name"]) and len(picks) == 5
    for bad in (["5mrc", "1BXN"], ["1BXN", "1BXN"]):
        with pytest.raises(InputError, match="class_order"):
            extract_picks(searches, None, "tm_f", {**params, "class_order": bad})


def test_tm_merge_keeps_best_normalised_score_per_voxel():
    a = pd.DataFrame({"class_name": ["1BXN", "1BXN"], "x": [10.0, 40.0], "y": [10.0, 40.0],
                      "z": [5.0, 5.0], "score": [0.5, 0.4], "zscore": [5.0, 4.0],
                      "angle_index": 0, "radius_voxels": 5.0})
    b = pd.DataFrame({"class_name": ["3H84"], "x": [11.0], "y": [10.0], "z": [5.0],
                      "score": [0.3], "zscore": [6.0], "angle_index": 0, "radius_voxels": 3.0})
    picks = merge_tm([a, b], merge_distance_voxels=2.0, pick_order="score")
    assert picks["class_name"].tolist() == ["3H84", "1BXN"]
    assert picks["score"].tolist() == [6.0, 4.0]
    assert len(merge_tm([a, b], merge_distance_voxels=0.0)) == 3


def test_tm_pick_order_decides_the_class_of_a_particle_hit_twice():
    """The evaluation labels a particle by its first hit: class_weight (the paper's per-class
    lists, heaviest first) lists the 1BXN pick on the 3H84 particle before the better-scoring
    3H84 pick; score order puts the 3H84 pick first."""
    heavy = pd.DataFrame({"class_name": ["1BXN", "1BXN"], "x": [10.0, 40.0], "y": [10.0, 40.0],
                          "z": [5.0, 5.0], "score": [0.3, 0.5], "zscore": [3.0, 5.0],
                          "angle_index": 0, "radius_voxels": 5.0})
    light = pd.DataFrame({"class_name": ["3H84"], "x": [11.0], "y": [10.0], "z": [5.0],
                          "score": [0.3], "zscore": [6.0], "angle_index": 0, "radius_voxels": 3.0})
    bead = pd.DataFrame({"class_name": ["fiducial"], "x": [60.0], "y": [60.0], "z": [5.0],
                         "score": [1.0], "zscore": [1.0], "angle_index": -1, "radius_voxels": 3.0})
    by_weight = merge_tm([light, heavy, bead])
    assert by_weight["class_name"].tolist() == ["fiducial", "1BXN", "1BXN", "3H84"]
    assert by_weight["score"].tolist() == [1.0, 5.0, 3.0, 6.0]
    by_score = merge_tm([light, heavy, bead], pick_order="score")
    assert by_score["class_name"].tolist() == ["3H84", "1BXN", "1BXN", "fiducial"]
    with pytest.raises(InputError, match="pick_order"):
        merge_tm([light], pick_order="random")


def _two_class_scene():
    """Score maps of two classes with planted peaks over weak noise, and a bead tomogram."""
    rng = np.random.default_rng(8)
    shape = (20, 30, 30)
    maps = {name: rng.normal(0.1, 0.02, shape).astype(np.float32) for name in ("1BXN", "3H84")}
    peaks = {"1BXN": [(5, 5, 5), (10, 20, 20)], "3H84": [(10, 21, 20), (15, 8, 25)]}
    for name, points in peaks.items():
        for k, point in enumerate(points):
            maps[name][point] = 0.7 - 0.05 * k
    searches = [_search(name, maps[name], radius_nm=3.0) for name in maps]
    tomogram = rng.normal(0, 1, (40, 60, 60)).astype(np.float32)
    return searches, tomogram


def test_extract_picks_tm_and_tm_f():
    searches, tomogram = _two_class_scene()
    params = {"top_n": 50, "threshold": "fixed", "fixed_threshold": 0.5, "fiducials": False,
              "merge_distance_voxels": 0.0}
    tm, report = extract_picks(searches, tomogram, "tm", params)
    assert sorted(zip(tm.class_name, tm.z.round(), tm.y.round(), tm.x.round(), strict=True)) == [
        ("1BXN", 10, 10, 10), ("1BXN", 20, 40, 40), ("3H84", 20, 42, 40), ("3H84", 30, 16, 50)]
    assert report["1BXN"]["accepted"] == 2
    tm_f, _ = extract_picks(searches, tomogram, "tm_f", params)
    # 3H84 at (20, 42, 40) overlaps the 1BXN pick at (20, 40, 40): 2 < 3 + 3 nm (1 nm voxels)
    assert len(tm_f) == 3 and "3H84" in set(tm_f.class_name)
    with pytest.raises(InputError, match="unknown keys"):
        extract_picks(searches, tomogram, "tm", {"top_m": 3})


# --- LoG fiducials ----------------------------------------------------------------------------

def test_log_finds_planted_beads():
    rng = np.random.default_rng(9)
    shape = (48, 64, 64)
    grid = np.indices(shape, dtype=np.float32)
    volume = rng.standard_normal(shape).astype(np.float32)
    beads = [(20, 15, 15), (30, 45, 20), (24, 30, 50)]
    for centre in beads:  # gold: radius 4 voxels, far darker than everything else
        d = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)))
        volume -= 6.0 / (1 + np.exp(np.minimum((d - 4.0) / 0.5, 50)))
    for centre in [(24, 50, 45), (16, 40, 36)]:  # proteins: weak contrast
        d = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)))
        volume -= 0.6 / (1 + np.exp(np.minimum((d - 5.0) / 0.5, 50)))
    fiducials = pick_fiducials(volume, sigma_voxels=2.5, threshold_sigma=10.0)
    found = sorted(zip(fiducials.z.round(), fiducials.y.round(), fiducials.x.round(), strict=True))
    assert found == sorted(beads)
    assert set(fiducials.class_name) == {"fiducial"}


# --- search outputs and rotation chunks -------------------------------------------------------

def _scene_with_potential():
    potential = _synthetic_potential()
    scene = np.zeros((64, 80, 80), dtype=np.float32)
    scene[12:52, 20:60, 30:70] = potential  # centre (32, 40, 50) in 0.5 nm voxels
    tomogram = _simulator_contrast(fourier_bin(scene, 2), defocus_um=3.0).astype(np.float32)
    tomogram += 0.3 * tomogram.std() * np.random.default_rng(10).standard_normal(tomogram.shape,
                                                                                  np.float32)
    acquisition = {"defocus_um": 3.0, "voltage_kv": 300.0, "spherical_aberration_mm": 2.7,
                   "tilt_range_deg": (-60, 60)}
    return potential, tomogram, acquisition


def test_rotation_chunks_merge_to_the_full_search(tmp_path):
    from tomobench.methods.template_matching import load_class_search, write_search

    potential, tomogram, acquisition = _scene_with_potential()
    settings = {"angular_step_deg": 45, "search_voxel_size_nm": 2.0, "mirror": True,
                "defocus_um": None}
    paths = {}
    for chunks in (1, 3):
        paths[chunks] = []
        for chunk in range(chunks):
            result, description = search_class(tomogram, 1.0, potential, 0.5, acquisition,
                                               {**settings, "rotation_chunks": chunks},
                                               chunk=chunk, device="cpu")
            stem = tmp_path / f"c{chunks}_{chunk}"
            files = [f"{stem}.json", f"{stem}_scores.mrc", f"{stem}_angles.mrc"]
            write_search(result, description, files[1], files[2], files[0], "1BXN")
            paths[chunks].append(files)
    whole, split = (load_class_search(*zip(*paths[n], strict=True)) for n in (1, 3))
    assert np.allclose(whole.scores, split.scores, atol=1e-6)
    assert np.mean(whole.angles == split.angles) > 0.999
    assert whole.score_std == pytest.approx(split.score_std, rel=1e-6)
    assert whole.search_space == split.search_space == 16 * 20 * 20 * 163 * 2
    assert whole.factor == 2 and whole.class_name == "1BXN"
    peak = np.unravel_index(np.argmax(whole.scores), whole.scores.shape)
    assert np.abs(np.array(peak) * 2 - (16, 20, 25)).max() <= 1
    description = json.loads(open(paths[3][1][0]).read())
    assert description["rotation_index_range"] == [54, 109]
    # same inputs, same bytes (no timings or paths in the outputs)
    result, description = search_class(tomogram, 1.0, potential, 0.5, acquisition,
                                       {**settings, "rotation_chunks": 3}, chunk=1, device="cpu")
    again = [str(tmp_path / name) for name in ("again.json", "again_s.mrc", "again_a.mrc")]
    write_search(result, description, again[1], again[2], again[0], "1BXN")
    for first, second in zip(paths[3][1], again, strict=True):
        assert open(first, "rb").read() == open(second, "rb").read()


PROTEIN_CENTRES_1NM = [(20, 12, 12), (20, 12, 35), (20, 35, 12), (20, 35, 35)]
BEAD_CENTRE_1NM = (20, 24, 24)


def _scene_with_proteins_and_bead(noise=1.0):
    """Four copies of the synthetic protein and a gold bead (25 V, radius 2.5 nm) imaged like
    the simulator at 3 µm defocus, 1 nm voxels, noise ``noise`` × the signal std."""
    potential = _synthetic_potential()
    scene = np.zeros((80, 96, 96), dtype=np.float32)
    for z, y, x in PROTEIN_CENTRES_1NM:
        scene[2 * z - 20:2 * z + 20, 2 * y - 20:2 * y + 20, 2 * x - 20:2 * x + 20] += potential
    grid = np.indices(scene.shape, dtype=np.float32)
    distance = 0.5 * np.sqrt(sum((g - 2 * c) ** 2
                                 for g, c in zip(grid, BEAD_CENTRE_1NM, strict=True)))
    scene += 25.0 / (1 + np.exp(np.minimum((distance - 2.5) / 0.2, 50)))
    tomogram = _simulator_contrast(fourier_bin(scene, 2), defocus_um=3.0).astype(np.float32)
    rng = np.random.default_rng(11)
    tomogram += noise * tomogram.std() * rng.standard_normal(tomogram.shape, np.float32)
    return potential, tomogram


def test_extract_picks_end_to_end_with_fiducial():
    potential, tomogram = _scene_with_proteins_and_bead()
    acquisition = {"defocus_um": 3.0, "voltage_kv": 300.0, "spherical_aberration_mm": 2.7,
                   "tilt_range_deg": (-60, 60)}
    result, description = search_class(tomogram, 1.0, potential, 0.5, acquisition,
                                       {"angular_step_deg": 45, "defocus_um": None},
                                       device="cpu")
    search = ClassSearch("1BXN", result.scores, result.angles, result.score_mean,
                         result.score_std, 10**6, description["factor"],
                         description["particle_radius_nm"], description["mask_radius_nm"], 2.0)
    for kind in ("tm", "tm_f"):
        picks, report = extract_picks([search], tomogram, kind,
                                      {"top_n": 20, "threshold": "false_alarm"})
        fiducials = picks[picks.class_name == "fiducial"]
        assert len(fiducials) == 1
        assert np.allclose(fiducials[["z", "y", "x"]].to_numpy()[0], BEAD_CENTRE_1NM, atol=1.0)
        proteins = picks[picks.class_name == "1BXN"][["z", "y", "x"]].to_numpy()
        for centre in PROTEIN_CENTRES_1NM:
            assert np.linalg.norm(proteins - centre, axis=1).min() <= 2.0
        assert report["picks_per_class"]["fiducial"] == 1


def test_array_module_branch_runs_with_a_numpy_backed_stand_in(monkeypatch):
    """The non-numpy (cupy) code path, run with numpy/scipy standing in for cupy/cupyx: checks
    that it only uses calls cupy offers (no ``workers``), not cupy itself (GPU test above)."""
    import sys
    import types

    import scipy.ndimage

    fake_xp = types.ModuleType("fake_cupy")
    fake_xp.__getattr__ = lambda name: getattr(np, name)
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = types.ModuleType("cupyx.scipy")
    fft_without_workers = types.ModuleType("cupyx.scipy.fft")
    for name in ("rfft", "fft", "rfftn", "irfftn"):
        function = getattr(scipy.fft, name)

        def no_workers(*args, _function=function, **kwargs):
            assert "workers" not in kwargs
            return _function(*args, **kwargs)

        setattr(fft_without_workers, name, no_workers)
    cupyx.scipy.fft = fft_without_workers
    cupyx.scipy.ndimage = scipy.ndimage
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.setitem(sys.modules, "cupyx.scipy", cupyx.scipy)
    monkeypatch.setitem(sys.modules, "cupyx.scipy.fft", fft_without_workers)
    monkeypatch.setitem(sys.modules, "cupyx.scipy.ndimage", scipy.ndimage)

    template = _asymmetric_template()
    volume = _plant((24, 28, 30), template, (12, 14, 15),
                    Rotation.from_euler("ZXZ", [5, 60, 200], degrees=True), 0.2, seed=12)
    rotations = angles.uniform_rotations(90.0)
    mask = spherical_mask(15, 6.0)
    wedge = missing_wedge((15,) * 3, (-60, 60))
    reference = LocalCorrelation(volume, mask).search([template], rotations, wedge=wedge)
    stand_in = LocalCorrelation(volume, mask, xp=fake_xp).search([template], rotations,
                                                                 wedge=wedge)
    assert np.allclose(reference.scores, stand_in.scores, atol=1e-5)
    assert np.array_equal(reference.angles, stand_in.angles)
    assert stand_in.score_std == pytest.approx(reference.score_std, rel=1e-5)
