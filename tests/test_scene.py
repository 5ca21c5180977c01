"""Scenes: geometry/frame, exact non-overlap, SO(3) sampling, rotation convention, determinism."""

import numpy as np
import pytest
from scipy import ndimage, stats

from tomobench.config import scene_geometry, scene_parameters
from tomobench.errors import InputError
from tomobench.simulation.rotation import (
    Rotator,
    rotate_volume,
    rotation_matrix_xyz,
    sample_euler_angles_deg,
)
from tomobench.simulation.scene import (
    SceneGeometry,
    SceneParameters,
    _prepare,
    add_ice,
    build_scene,
    centre_ball_radius_voxels,
    convex_hull_mask,
    final_ground_truth,
    solid_envelope,
)


def blob(n, radius, v_real, v_imag=0.0, elongate=1.0):
    """Complex test potential: a smooth (optionally elongated along x) ball centred at n//2."""
    g = np.arange(n) - n // 2
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    r = np.sqrt(zz**2 + yy**2 + (xx / elongate) ** 2)
    m = ndimage.gaussian_filter((r <= radius).astype(float), 0.7)
    return (m * v_real + 1j * m * v_imag).astype(np.complex64)


GEOMETRY = SceneGeometry(32, 24, 1.0, 2, 16)


def test_geometry_and_config_errors():
    assert GEOMETRY.simulation_shape == (32, 64, 64)
    assert GEOMETRY.z_offset == 4 and GEOMETRY.final_shape == (24, 32, 32)
    config = {
        "tomograms": {
            "size_xy_voxels": 32,
            "size_z_voxels": 10,
            "voxel_size_nm": 1.0,
            "binning": 2,
        },
        "scene": {"ice_thickness_nm": 16},
    }
    with pytest.raises(InputError, match="scene.ice_thickness_nm"):
        scene_geometry(config)
    bad = {
        "scene": {
            "proteins_per_tomogram": [5, 2],
            "fiducials_per_tomogram": [0, 0],
            "vesicles_per_tomogram": [0, 0],
            "orientation_sampling": "uniform",
            "max_placement_attempts": 5,
            "motion_blur_sigma_nm": 0.4,
        },
        "microscope": {"voltage_kv": 300},
    }
    with pytest.raises(InputError, match="scene.proteins_per_tomogram"):
        scene_parameters(bad)


def test_rotation_convention_moves_x_to_y():
    volume = np.zeros((15, 15, 15), np.complex64)
    volume[7, 7, 11] = 1.0  # at +4 along x from the centre
    rotated = rotate_volume(volume, (90.0, 0.0, 0.0))  # about z by 90 degrees
    assert np.unravel_index(np.argmax(np.abs(rotated)), rotated.shape) == (7, 11, 7)
    assert np.allclose(rotation_matrix_xyz((90, 0, 0)) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_cached_rotator_equals_affine_rotation():
    volume = blob(21, 6, 2.0, 0.3, elongate=1.5)
    for angles in [(0, 0, 0), (30.0, 70.0, -20.0), (200.0, 15.0, 95.0)]:
        expected = rotate_volume(volume, angles)
        assert np.allclose(Rotator(volume).rotate(angles), expected, atol=2e-4 * 2.0)


def test_uniform_orientations_pass_and_faithful_fails_uniformity():
    rng = np.random.default_rng(3)
    z_axis = np.array([0.0, 0.0, 1.0])
    uniform = sample_euler_angles_deg(rng, 4000, "uniform")
    matrices = np.array([rotation_matrix_xyz(a) for a in uniform])
    # Haar measure: the rotated z axis is uniform on the sphere (cos uniform on [-1, 1]) and
    # the rotation angle w has CDF (w - sin w) / pi.
    assert stats.kstest((matrices @ z_axis)[:, 2], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    angle = np.arccos(np.clip((np.trace(matrices, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert stats.kstest(angle, lambda w: (w - np.sin(w)) / np.pi).pvalue > 1e-3
    biased = sample_euler_angles_deg(rng, 4000, "faithful")
    biased_z = np.array([rotation_matrix_xyz(a) @ z_axis for a in biased])[:, 2]
    assert stats.kstest(biased_z, stats.uniform(-1, 2).cdf).pvalue < 1e-6
    # the organisers' excess of particles with their z axis near +-z (~2x)
    near_pole = np.mean(np.abs(biased_z) > 0.95) / 0.05
    assert near_pole > 1.5


def _dense_scene(seed, **overrides):
    proteins = {"1BXN": blob(13, 4, 2.0, 0.2, elongate=1.5), "3QM1": blob(9, 2.5, 2.0, 0.2)}
    kwargs = dict(
        proteins_per_tomogram=(200, 200),
        fiducials_per_tomogram=(3, 3),
        vesicles_per_tomogram=(1, 1),
        max_placement_attempts=30,
    )
    kwargs.update(overrides)
    parameters = SceneParameters(**kwargs)
    vesicle, gold = blob(31, 12, 1.0, 0.1), blob(11, 3, 25.0, 0.9)
    scene = build_scene(GEOMETRY, parameters, proteins, [vesicle], [gold], seed, 0)
    return scene, proteins, vesicle, gold


def test_placements_never_overlap_and_failures_are_counted():
    scene, proteins, vesicle, gold = _dense_scene(11)
    summary = scene.summary
    for kind in ("vesicle", "fiducial", "protein"):
        assert summary["placed"][kind] + summary["failed"][kind] == summary["drawn"][kind]
    assert summary["failed"]["protein"] > 0  # the box is crowded on purpose
    assert sum(summary["failed_by_class"].values()) == sum(summary["failed"].values())
    assert len(scene.objects) == sum(summary["placed"].values())
    shape = np.array(scene.occupancy.shape)
    claimed = np.zeros(scene.occupancy.shape, dtype=int)
    for k, row in enumerate(scene.objects.itertuples(), start=1):
        source = {"vesicle": vesicle, "fiducial": gold}.get(row.class_name)
        source = proteins[row.class_name] if source is None else source
        angles = (row.a1, row.a2, row.a3) if row.class_name in proteins else None
        # vesicles and gold were rotated with angles not recorded (NaN): check their own ids
        if angles is None:
            assert np.any(scene.occupancy == k)
            continue
        rotator = Rotator(source, solid_envelope(source), centre_ball_radius_voxels(2))
        prepared = _prepare(rotator, angles, "protein", False)
        start = np.array([row.z, row.y, row.x]) + prepared.low
        assert np.all(start >= 0) and np.all(start + prepared.block.shape <= shape)
        region = tuple(slice(a, a + n) for a, n in zip(start, prepared.block.shape, strict=True))
        # every voxel this particle occupies carries its id: nothing else was placed there
        assert np.all(scene.occupancy[region][prepared.occupied] == k)
        claimed[region] += prepared.occupied
    assert claimed.max() <= 1


def test_ground_truth_frame_and_determinism():
    scene, *_ = _dense_scene(5, proteins_per_tomogram=(4, 4), vesicles_per_tomogram=(0, 0))
    again, *_ = _dense_scene(5, proteins_per_tomogram=(4, 4), vesicles_per_tomogram=(0, 0))
    assert np.array_equal(scene.potential, again.potential)
    assert scene.objects.equals(again.objects)
    grandmodel, class_mask, occupancy, locations = final_ground_truth(scene, GEOMETRY)
    assert grandmodel.shape == class_mask.shape == occupancy.shape == GEOMETRY.final_shape
    z0 = GEOMETRY.z_offset
    assert not grandmodel[:z0].any() and not grandmodel[z0 + GEOMETRY.ice_voxels :].any()
    for k, row in enumerate(locations.itertuples(), start=1):
        unbinned = scene.objects.iloc[k - 1]
        assert row.x == unbinned.x // 2 and row.z == unbinned.z // 2 + z0
        if row.class_name == "fiducial":
            # the dense bead is the local maximum of the binned potential at its location
            window = grandmodel[row.z - 2 : row.z + 3, row.y - 2 : row.y + 3, row.x - 2 : row.x + 3]
            peak = np.unravel_index(np.argmax(window), window.shape)
            assert all(abs(p - 2) <= 1 for p in peak)
            assert occupancy[row.z, row.y, row.x] == k and class_mask[row.z, row.y, row.x] == 15
    assert np.isnan(locations.loc[locations.class_name == "fiducial", "a1"]).all()


def test_ice_background():
    potential = np.zeros((2, 2, 2), np.complex64)
    add_ice(potential, 300.0)
    assert np.allclose(potential.real, 4.5301) and np.allclose(potential.imag, 0.2041, atol=1e-3)
    potential[:] = 0
    add_ice(potential, 300.0, imaginary_only=True)
    assert np.all(potential.real == 0)


def test_occupancy_is_the_object_envelope_and_faithful_threshold():
    volume = blob(25, 6, 2.0, 0.2)
    volume.real += 0.05  # a weak tail over the whole box, as atomic potentials have
    volume.real[0, 0, 0] = -1.0
    prepared = _prepare(Rotator(volume), (10.0, 20.0, 30.0), "protein", False)
    ball = 4 / 3 * np.pi * 6**3
    assert prepared.occupied.sum() == pytest.approx(ball, rel=0.2)
    faithful = _prepare(Rotator(volume), (0.0, 0.0, 0.0), "protein", True)
    # organisers: real values < 0.01 V zeroed, every remaining voxel (the tail too) occupied
    assert faithful.block.real.min() >= 0 and faithful.occupied.sum() > 3 * ball


def ring(n, radius, tube, v_real=2.0, v_imag=0.2):
    """Complex test potential: a torus in the x-y plane (a ring complex), empty centre."""
    g = np.arange(n) - n // 2
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    distance = np.sqrt((np.sqrt(yy**2 + xx**2) - radius) ** 2 + zz**2)
    m = ndimage.gaussian_filter((distance <= tube).astype(float), 0.7)
    return (m * v_real + 1j * m * v_imag).astype(np.complex64)


def test_convex_hull_mask_matches_scikit_image():
    from skimage.morphology import convex_hull_image

    rng = np.random.default_rng(0)
    for volume in (ring(25, 7, 2.5), blob(21, 6, 2.0, 0.3, elongate=1.5)):
        mask = np.abs(volume) > 0.5 * np.abs(volume).max()
        mask &= rng.random(mask.shape) > 0.3  # holes and a ragged surface
        expected = convex_hull_image(mask, offset_coordinates=False)
        assert np.array_equal(convex_hull_mask(mask), expected)


def test_ring_centre_is_inside_its_own_occupancy():
    torus = ring(25, 7, 2.5)
    assert not (torus.imag > 0.1 * torus.imag.max())[12, 12, 12]  # the channel is empty
    proteins = {"1BXN": torus}
    parameters = SceneParameters((12, 12), (0, 0), (0, 0), max_placement_attempts=50)
    scene = build_scene(GEOMETRY, parameters, proteins, [], [], 3, 0)
    _, class_mask, occupancy, locations = final_ground_truth(scene, GEOMETRY)
    assert len(locations) >= 3
    for k, row in enumerate(locations.itertuples(), start=1):
        assert occupancy[row.z, row.y, row.x] == k and class_mask[row.z, row.y, row.x] == 4


def test_no_region_reaches_another_particles_centre():
    """In a crowded scene the final centre voxel of every particle and its six neighbours
    (what the SHREC evaluation reads for a pick at the centre) carry the particle's own id."""
    scene, *_ = _dense_scene(11)
    _, _, occupancy, locations = final_ground_truth(scene, GEOMETRY)
    cross = [(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
    shape = np.array(occupancy.shape)
    checked = 0
    for k, row in enumerate(locations.itertuples(), start=1):
        if row.class_name in ("vesicle", "fiducial"):
            continue
        for offset in cross:
            voxel = np.array([row.z, row.y, row.x]) + offset
            if np.all(voxel >= 0) and np.all(voxel < shape):
                assert occupancy[tuple(voxel)] == k
                checked += 1
    assert checked > 100


def _asymmetric_particle(n=21):
    """Three blobs at +6 x, +4 y and +2 z from the centre voxel: no rotation maps it onto itself."""
    g = np.arange(n) - n // 2
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    volume = np.zeros((n, n, n))
    for dz, dy, dx in ((0, 0, 6), (0, 4, 0), (2, 0, 0)):
        volume += np.exp(-((zz - dz) ** 2 + (yy - dy) ** 2 + (xx - dx) ** 2) / 2.0)
    return (volume * 2.0 + 0.2j * volume).astype(np.complex64)


def test_listed_angles_back_rotate_a_placed_particle_onto_its_template():
    """The one Euler convention (tomobench.orientation), end to end: a particle placed in a
    scene and cut out again, rotated back by the inverse of its listed angles, is the template."""
    from scipy.spatial.transform import Rotation

    from tomobench.orientation import euler_deg_from_rotation, rotation_from_euler_deg

    template = _asymmetric_particle()
    parameters = SceneParameters(proteins_per_tomogram=(1, 1), fiducials_per_tomogram=(0, 0),
                                 vesicles_per_tomogram=(0, 0), motion_blur_sigma_nm=0.0)
    half = template.shape[0] // 2
    for model_id in range(3):  # one particle per scene: no neighbour inside the cut-out
        scene = build_scene(GEOMETRY, parameters, {"1BXN": template}, [], [], 7, model_id)
        row = next(scene.objects.itertuples())
        padded = np.pad(scene.potential.real, half)
        cut = padded[row.z : row.z + 2 * half + 1, row.y : row.y + 2 * half + 1,
                     row.x : row.x + 2 * half + 1]
        listed = rotation_from_euler_deg((row.a1, row.a2, row.a3))
        back = rotate_volume(cut, euler_deg_from_rotation(listed.inv())[0])
        assert np.corrcoef(back.ravel(), template.real.ravel())[0, 1] > 0.95
        # the other reading of "ZXZ" (extrinsic z, x, z) does not bring it back
        other = Rotation.from_euler("zxz", (row.a1, row.a2, row.a3), degrees=True)
        wrong = rotate_volume(cut, euler_deg_from_rotation(other.inv())[0])
        assert np.corrcoef(wrong.ravel(), template.real.ravel())[0, 1] < 0.8


def test_voltools_reading_of_the_shrec_angles():
    """SHREC's voltools call: static zxz matrix of the negated angles used as the output->input
    map. Built independently here, its inverse is rotation_matrix_xyz of the listed angles."""

    def rz(a):
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

    def rx(a):
        c, s = np.cos(a), np.sin(a)
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])

    a1, a2, a3 = np.radians([37.0, 64.0, 151.0])
    output_to_input = rz(-a3) @ rx(-a2) @ rz(-a1)
    assert np.allclose(np.linalg.inv(output_to_input), rotation_matrix_xyz((37.0, 64.0, 151.0)))
