"""dataset.source shrec: which files a run reads in place and which it derives, the checks
before any job, and the derivations (acquisition, scene, 180-slab placement, class names)."""

import hashlib
import json

import numpy as np
import pytest

from tests.synthetic import synthetic_tomogram
from tomobench import dataset_source as source
from tomobench.config_checks import dataset_layout
from tomobench.errors import InputError
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import read_particle_locations
from tomobench.simulation.alignment import write_alignment

SHAPE = (24, 32, 32)
RADII = {"1BXN": 3.0, "3H84": 2.5, "1S3X": 2.0}


def _config(root, **dataset) -> dict:
    return {
        "dataset": {"source": "shrec", "path": str(root), "defocus_um": None,
                    "slab_offset_voxels": None, **dataset},
        "tomograms": {"count": 3, "training": [0], "validation": [], "test": [2],
                      "size_z_voxels": SHAPE[0], "size_xy_voxels": SHAPE[1],
                      "voxel_size_nm": 1.0},
        "microscope": {"voltage_kv": 300, "spherical_aberration_mm": 2.7,
                       "defocus_um": [2.0, 3.0]},
        "tilt_series": {"tilt_range_deg": [-60, 60]},
    }


@pytest.fixture(scope="module")
def shrec_folder(tmp_path_factory):
    """Two model folders (0 and 2) of the competition release's layout (cube masks)."""
    root = tmp_path_factory.mktemp("shrec")
    for i in (0, 2):
        synthetic_tomogram(root / f"model_{i}", SHAPE, RADII, count=6, seed=3, key=i)
    return root


def _copy(folder, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def test_cube_release_is_read_in_place(shrec_folder):
    layout = dataset_layout(_config(shrec_folder))
    assert sorted(layout) == [0, 2]
    model = layout[2]
    assert model.release == "cube"
    assert model.files["reconstruction"] == shrec_folder / "model_2" / "reconstruction.mrc"
    # what the synthetic folder lacks is derived, nothing else
    assert set(model.derived) == {"acquisition", "scene_parameters"}


def test_class_name_aliases_are_derived(shrec_folder, tmp_path):
    root = _copy(shrec_folder, tmp_path)
    path = root / "model_0" / "particle_locations.txt"
    path.write_text(path.read_text().replace("1BXN", "4V94_fixed", 1))
    model = dataset_layout(_config(root))[0]
    assert "particle_locations" in model.derived
    frame = source.normalised_locations(path)
    assert "4V94" in set(frame["class_name"]) and "4V94_fixed" not in set(frame["class_name"])


@pytest.mark.parametrize("change, message", [
    (lambda root: __import__("shutil").rmtree(root / "model_2"), "model_2: SHREC tomogram folder"),
    (lambda root: (root / "model_0" / "grandmodel.mrc").unlink(), "grandmodel.mrc: file not found"),
    (lambda root: write_mrc(root / "model_0" / "occupancy_mask.mrc",
                            np.zeros((8, 32, 30), np.float32), 1.0), "matches neither SHREC"),
    (lambda root: write_mrc(root / "model_0" / "reconstruction.mrc",
                            np.zeros(SHAPE, np.float32), 0.5), "voxel size 0.5 nm"),
    (lambda root: (root / "model_0" / "particle_locations.txt").write_text(
        "ABCD 1 2 3 0 0 0\n"), "not SHREC classes"),
])
def test_bad_folders_fail_before_any_job(shrec_folder, tmp_path, change, message):
    root = _copy(shrec_folder, tmp_path)
    change(root)
    with pytest.raises(InputError, match=message):
        dataset_layout(_config(root))


def test_reconstruction_shape_must_match_the_config(shrec_folder):
    config = _config(shrec_folder)
    config["tomograms"]["size_z_voxels"] = 40
    with pytest.raises(InputError, match="tomograms.size_z_voxels"):
        dataset_layout(config)


def test_missing_path_names_the_key():
    config = _config("")
    with pytest.raises(InputError, match="config key dataset.path"):
        dataset_layout(config)


def _slab_release(tmp_path, slab_frame=False):
    """A model folder with particles in z 20..31 of a 40-section cube, masks cut to the
    12-section slab at offset 20 (the re-release's layout); returns (root, cube masks)."""
    from tomobench.classes import CLASS_ID
    from tomobench.particles import write_particle_locations

    shape, offset, depth = (40, 32, 32), 20, 12
    grid = np.indices(shape)
    particles = [("1BXN", 8, 9, 24), ("3H84", 20, 22, 27), ("1S3X", 25, 8, 23)]
    occupancy = np.zeros(shape, np.float32)
    class_mask = np.zeros(shape, np.float32)
    for k, (name, x, y, z) in enumerate(particles, start=1):
        inside = (grid[0] - z) ** 2 + (grid[1] - y) ** 2 + (grid[2] - x) ** 2 <= 9
        occupancy[inside], class_mask[inside] = k, CLASS_ID[name]
    folder = tmp_path / "slab" / "model_0"
    folder.mkdir(parents=True)
    write_mrc(folder / "reconstruction.mrc", np.ones(shape, np.float32), 1.0)
    cube = {"class_mask": class_mask, "occupancy_mask": occupancy,
            "grandmodel": (occupancy > 0).astype(np.float32)}
    for key, volume in cube.items():
        write_mrc(folder / f"{key}.mrc", volume[offset:offset + depth].copy(), 1.0)
    shift = offset if slab_frame else 0
    write_particle_locations(folder / "particle_locations.txt", __import__("pandas").DataFrame(
        [(n, x, y, z - shift, 0.0, 0.0, 0.0) for n, x, y, z in particles],
        columns=["class_name", "x", "y", "z", "a1", "a2", "a3"]))
    return tmp_path / "slab", cube, offset


def _slab_config(root):
    config = _config(root)
    config["tomograms"].update(size_z_voxels=40, training=[], test=[0])
    return config


def test_slab_release_is_placed_back_in_the_reconstruction_frame(tmp_path):
    root, cube, offset = _slab_release(tmp_path)
    model = dataset_layout(_slab_config(root))[0]
    assert model.release == "slab" and model.mask_depth == 12
    assert {"class_mask", "occupancy_mask", "grandmodel", "particle_locations"} <= set(
        model.derived)
    folder = root / "model_0"
    placement = source.slab_placement(folder / "particle_locations.txt",
                                      folder / "occupancy_mask.mrc", 40, None)
    assert (placement["z_offset"], placement["locations_frame"]) == (offset, "volume")
    for key in source.SHREC_MASKS:
        slab, _ = read_mrc(folder / f"{key}.mrc")
        np.testing.assert_array_equal(source.pad_slab(slab, offset, 40), cube[key])
    unshifted = source.normalised_locations(folder / "particle_locations.txt", 0)
    assert list(unshifted["z"]) == [24, 27, 23]


def test_slab_frame_particle_list_is_shifted(tmp_path):
    root, _, offset = _slab_release(tmp_path, slab_frame=True)
    folder = root / "model_0"
    placement = source.slab_placement(folder / "particle_locations.txt",
                                      folder / "occupancy_mask.mrc", 40, None)
    # a list in the slab frame cannot place the slab: centred unless the config says where
    assert (placement["z_offset"], placement["locations_frame"]) == ((40 - 12) // 2, "slab")
    placement = source.slab_placement(folder / "particle_locations.txt",
                                      folder / "occupancy_mask.mrc", 40, offset)
    assert (placement["z_offset"], placement["locations_frame"]) == (offset, "slab")
    shifted = source.normalised_locations(folder / "particle_locations.txt", offset)
    assert list(shifted["z"]) == [24, 27, 23]
    with pytest.raises(InputError, match="dataset.slab_offset_voxels"):
        source.slab_placement(folder / "particle_locations.txt", folder / "occupancy_mask.mrc",
                              40, 30)


def test_acquisition_is_derived_from_the_alignment_file(shrec_folder, tmp_path):
    angles = np.linspace(-58, 62, 61)
    alignment = tmp_path / "alignment_simulated.txt"
    write_alignment(alignment, angles, np.zeros((61, 2)))
    reconstruction = shrec_folder / "model_0" / "reconstruction.mrc"
    record = source.derived_acquisition(alignment, reconstruction, _config(shrec_folder))
    assert record["tilt_angles_deg"] == pytest.approx(list(angles))
    assert record["defocus_um"] == 2.5 and "microscope.defocus_um" in record["derived"][
        "defocus_um"]
    config = _config(shrec_folder, defocus_um=3.7)
    without = source.derived_acquisition(None, reconstruction, config)
    assert without["defocus_um"] == 3.7
    assert without["tilt_angles_deg"] == [-60.0, 60.0]
    assert "tilt_series.tilt_range_deg" in without["derived"]["tilt_angles_deg"]
    from tomobench.io import read_acquisition

    path = tmp_path / "acquisition_parameters.json"
    path.write_text(json.dumps(record))
    assert read_acquisition(path)["tilt_range_deg"] == (-58.0, 62.0)


def test_scene_parameters_span_the_particles():
    occupancy = np.zeros((20, 4, 4), np.int16)
    occupancy[5, 1, 1] = 1
    occupancy[11, 2, 2] = 2
    record = source.derived_scene_parameters(occupancy)
    assert (record["z_offset"], record["ice_voxels"]) == (5, 7)
    with pytest.raises(InputError, match="empty"):
        source.derived_scene_parameters(np.zeros((3, 3, 3)))


def test_file_record_is_size_and_sha256(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"tomobench" * 1000)
    record = source.file_record(path, chunk_bytes=7)
    assert record["size_bytes"] == 9000
    assert record["sha256"] == hashlib.sha256(b"tomobench" * 1000).hexdigest()


# --------------------------------------------------------------------------- copick

def _copick_config(project, runs=("model_0", "model_2"), classes=("1BXN", "3H84", "1S3X"),
                   **copick):
    config = _config("")
    config["dataset"] = {"source": "copick", "path": str(project), "defocus_um": None,
                         "slab_offset_voxels": None,
                         "copick": {"runs": list(runs), "tomo_type": "wbp",
                                    "truth_user": "ground-truth", "truth_session": None,
                                    "grandmodel_type": "grandmodel", **copick}}
    config["tomograms"].update(training=[0], test=[1])
    config["structures"] = {"classes": list(classes)}
    return config


@pytest.fixture(scope="module")
def copick_project(shrec_folder, tmp_path_factory):
    """The two synthetic model folders exported as a copick project (export-copick)."""
    pytest.importorskip("copick")
    import shutil

    from tomobench.formats.copick_project import export_run_folder

    results = tmp_path_factory.mktemp("results")
    shutil.copytree(shrec_folder, results / "data")
    return export_run_folder(results, tmp_path_factory.mktemp("project") / "copick")


def test_copick_runs_are_checked_and_listed(copick_project):
    layout = dataset_layout(_copick_config(copick_project))
    assert sorted(layout) == [0, 1] and layout[1].run == "model_2"
    assert layout[1].release == "copick" and "reconstruction" in layout[1].derived
    assert any(key.endswith("wbp.zarr/0/.zarray") for key in layout[1].files)


@pytest.mark.parametrize("change, message", [
    ({"runs": ["model_0", "model_7"]}, "no run 'model_7'"),
    ({"truth_user": "curation"}, "no points of user 'curation'"),
    ({"tomo_type": "denoised"}, "dataset.copick.tomo_type"),
    ({"classes": ["1BXN", "1S3X"]}, "structures.classes"),
    ({"voxel_size_nm": 0.8}, "tomograms.voxel_size_nm"),
    ({"runs": ["model_0"]}, "not a run of dataset.copick.runs"),
])
def test_bad_copick_settings_fail_before_any_job(copick_project, change, message):
    change = dict(change)
    classes = change.pop("classes", ("1BXN", "3H84", "1S3X"))
    voxel = change.pop("voxel_size_nm", None)
    config = _copick_config(copick_project, classes=classes, **change)
    if voxel:
        config["tomograms"]["voxel_size_nm"] = voxel
    with pytest.raises(InputError, match=message):
        dataset_layout(config)


def test_copick_run_imports_as_the_exported_folder(copick_project, shrec_folder):
    config = _copick_config(copick_project)
    volumes, locations, notes = source.import_copick_run(config, "model_2")
    folder = shrec_folder / "model_2"
    for key in ("reconstruction", "class_mask", "occupancy_mask", "grandmodel"):
        np.testing.assert_array_equal(volumes[key], read_mrc(folder / f"{key}.mrc")[0], key)
    original = read_particle_locations(folder / "particle_locations.txt")
    np.testing.assert_array_equal(locations[["class_name", "x", "y", "z"]],
                                  original[["class_name", "x", "y", "z"]])
    np.testing.assert_allclose(locations[["a1", "a2", "a3"]], original[["a1", "a2", "a3"]],
                               atol=1e-6)
    assert any("shrec-particles" in note for note in notes)


def test_copick_points_without_segmentation_become_balls(copick_project, tmp_path):
    """Learners train from points: no segmentation, no grand model -> balls of the radius."""
    import shutil

    project = tmp_path / "copy"
    shutil.copytree(copick_project.parent, project)
    config_path = project / "copick_config.json"
    text = config_path.read_text().replace(str(copick_project.parent.resolve()), str(project))
    config_path.write_text(text)
    run = project / "overlay" / "ExperimentRuns" / "model_2"
    for folder in ("PanopticSegmentations", "Segmentations"):
        shutil.rmtree(run / folder)
    shutil.rmtree(run / "VoxelSpacing10.000" / "grandmodel.zarr")
    volumes, locations, notes = source.import_copick_run(_copick_config(config_path), "model_2")
    occupancy = volumes["occupancy_mask"]
    from tomobench.formats.copick_project import open_project

    radius_A = {o.name: o.radius for o in open_project(config_path).pickable_objects}
    for k, row in enumerate(locations.itertuples(), start=1):
        assert occupancy[row.z, row.y, row.x] == k
        extent = np.argwhere(occupancy == k)
        reach = np.sqrt(((extent - [row.z, row.y, row.x]) ** 2).sum(axis=1)).max()
        assert reach <= radius_A[row.class_name] / 10.0
    np.testing.assert_array_equal(volumes["grandmodel"], (occupancy > 0).astype(np.float32))
    assert any("balls" in note for note in notes)
    assert any("stands in" in n or "occupancy, 1 inside" in n for n in notes)


def _sparse_release(root, models=range(10), size=512):
    """A SHREC release layout of sparse files (headers right, data all zero): enough for the
    checks and a dry run, without writing gigabytes."""
    import mrcfile

    for i in models:
        folder = root / f"model_{i}"
        folder.mkdir(parents=True)
        for key in ("reconstruction", *source.SHREC_MASKS):
            with mrcfile.new_mmap(folder / f"{key}.mrc", shape=(size, size, size),
                                  mrc_mode=2) as handle:
                handle.voxel_size = 10.0
        (folder / "particle_locations.txt").write_text("4V94 100 100 250 0 0 0\n"
                                                       "4CR2 200 200 260 10 20 30\n")
        write_alignment(folder / "alignment_simulated.txt", np.linspace(-60, 60, 61),
                        np.zeros((61, 2)))


def test_release_config_plans_every_method_on_the_release(tmp_path):
    """config/shrec2021_release.yaml on a folder of the release's layout: nothing simulated,
    the acquisition and scene records derived per model, every method scored on model_9."""
    import yaml

    from tests.conftest import REPO_ROOT, planned_jobs, snakemake

    _sparse_release(tmp_path / "release")
    config = yaml.safe_load((REPO_ROOT / "config" / "shrec2021_release.yaml").read_text())
    config["dataset"]["path"] = str(tmp_path / "release")
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(snakemake(tmp_path, "-n", configfile=path))
    assert "reconstruct" not in jobs and "simulate_scene" not in jobs
    assert jobs["derive_acquisition"] == jobs["derive_scene_parameters"] == 10
    assert jobs["record_inputs"] == 1
    assert jobs["evaluate_picks"] == len(config["methods"]) + 2
    assert {"DeepFinder", "MC-DS-Net", "URFinder", "U-CLSTM", "YOPO", "CFN", "TM-F"} <= set(
        config["methods"])


def test_copick_object_radii_are_the_czii_radii(copick_project):
    from tomobench.evaluation.czii import PARTICLE_RADIUS_NM

    radii = source.copick_radii_nm(_copick_config(copick_project))
    assert radii["1BXN"] == pytest.approx(PARTICLE_RADIUS_NM["1BXN"])
