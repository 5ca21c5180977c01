"""copick projects through the copick library: export round trip, scoring copick-made projects."""

import json

import numpy as np
import pandas as pd
import pytest

from tomobench.cli import main
from tomobench.mrc import write_mrc
from tomobench.orientation import rotation_matrix_xyz
from tomobench.particles import write_particle_locations, write_picks

copick = pytest.importorskip(
    "copick", reason="the copick library is not installed (pip install 'tomobench[formats]')")

SHAPE = (24, 32, 40)  # z, y, x
TRUTH = pd.DataFrame({
    "class_name": ["1BXN", "3H84", "fiducial"], "x": [10, 25, 33], "y": [8, 20, 5],
    "z": [12, 10, 6], "a1": [30.0, -120.0, np.nan], "a2": [50.0, 100.0, np.nan],
    "a3": [170.0, 15.0, np.nan]})


def _shrec_folder(folder, voxel_size_nm=0.8):
    """A SHREC-layout tomogram: balls of radius 3 as occupancy, their classes as class mask."""
    rng = np.random.default_rng(0)
    write_mrc(folder / "reconstruction.mrc", rng.normal(size=SHAPE).astype(np.float32),
              voxel_size_nm)
    zz, yy, xx = np.indices(SHAPE)
    occupancy = np.zeros(SHAPE, np.int16)
    classes = np.zeros(SHAPE, np.float32)
    for k, row in enumerate(TRUTH.itertuples(), start=1):
        ball = (zz - row.z) ** 2 + (yy - row.y) ** 2 + (xx - row.x) ** 2 <= 9
        occupancy[ball] = k
        classes[ball] = {"1BXN": 4, "3H84": 9, "fiducial": 15}[row.class_name]
    write_mrc(folder / "occupancy_mask.mrc", occupancy, voxel_size_nm)
    write_mrc(folder / "class_mask.mrc", classes, voxel_size_nm)
    write_particle_locations(folder / "particle_locations.txt", TRUTH)


@pytest.fixture
def results(tmp_path):
    run = tmp_path / "results" / "tiny"
    _shrec_folder(run / "data" / "model_0")
    # the first line hits particle 1 with the wrong class: the line order decides its class
    picks = pd.DataFrame({"class_name": ["3H84", "1BXN", "3h84", "fiducial", "1BXN"],
                          "x": [10.0, 11.0, 25.0, 33.0, 2.0], "y": [9.0, 8.0, 21.0, 5.0, 2.0],
                          "z": [12.0, 12.0, 10.0, 6.0, 2.0],
                          "score": [0.95, 0.9, 0.8, 0.7, 0.1]})
    write_picks(run / "picks" / "TM" / "model_0.txt", picks)
    (run / "config.yaml").write_text("potential:\n  gold_diameter_nm: [4, 6]\n")
    return run


def test_export_reopens_in_copick_with_identical_coordinates(results, tmp_path):
    out = tmp_path / "project"
    assert main(["export-copick", "--results", str(results), "--out", str(out)]) == 0
    root = copick.from_file(str(out / "copick_config.json"))
    objects = {o.name: o for o in root.pickable_objects}
    assert objects["1BXN"].label == 4 and objects["fiducial"].label == 15
    assert objects["fiducial"].radius == pytest.approx(25.0)  # middle of [4, 6] nm / 2, in Å
    run = root.get_run("model_0")
    assert [vs.voxel_size for vs in run.voxel_spacings] == [8.0]
    (tomogram,) = run.get_voxel_spacing(8.0).get_tomograms("wbp")
    from tomobench.formats.copick_project import load_tomogram
    from tomobench.mrc import read_mrc

    volume, _ = read_mrc(results / "data" / "model_0" / "reconstruction.mrc")
    assert np.array_equal(tomogram.numpy(), volume)
    loaded, voxel_size_nm = load_tomogram(root, "model_0", 8.0, "wbp")  # the pickers' input
    assert np.array_equal(loaded, volume) and voxel_size_nm == pytest.approx(0.8)
    multiscales = json.loads((out / "overlay" / "ExperimentRuns" / "model_0" / "VoxelSpacing8.000"
                              / "wbp.zarr" / ".zattrs").read_text())["multiscales"][0]
    scales = [d["coordinateTransformations"][0]["scale"] for d in multiscales["datasets"]]
    assert scales == [[8.0] * 3, [16.0] * 3, [32.0] * 3]  # OME-Zarr pyramid in Å
    for k, row in enumerate(TRUTH.itertuples(), start=1):
        (points,) = run.get_picks(object_name=row.class_name, user_id="ground-truth")
        positions, transforms = points.numpy()
        assert np.array_equal(positions[0] / 8.0, [row.x, row.y, row.z])
        assert points.instance_ids().tolist() == [k]
        expected = np.eye(3) if np.isnan(row.a1) else rotation_matrix_xyz((row.a1, row.a2,
                                                                           row.a3))
        assert np.allclose(transforms[0, :3, :3], expected)
    (picks,) = run.get_picks(object_name="3H84", user_id="TM")
    assert np.array_equal(picks.numpy()[0] / 8.0, [[10.0, 9.0, 12.0], [25.0, 21.0, 10.0]])
    assert picks.scores().tolist() == [0.95, 0.8]
    assert picks.instance_ids().tolist() == [1, 3]  # line numbers: the submission's order
    (panoptic,) = run.get_segmentations(user_id="ground-truth", is_panoptic=True)
    occupancy, _ = read_mrc(results / "data" / "model_0" / "occupancy_mask.mrc")
    assert np.array_equal(panoptic.numpy(channel="instance"), occupancy)
    (classes,) = run.get_segmentations(user_id="ground-truth", is_multilabel=True)
    class_mask, _ = read_mrc(results / "data" / "model_0" / "class_mask.mrc")
    assert np.array_equal(classes.numpy(), class_mask)

    # scoring the project equals scoring the SHREC folder
    assert main(["evaluate", "--truth", str(out / "copick_config.json"), "--picks",
                 str(out / "copick_config.json"), "--picks-user", "TM", "--out",
                 str(tmp_path / "from_copick"), "--no-plots"]) == 0
    assert main(["evaluate", "--truth", str(results / "data" / "model_0"), "--picks",
                 str(results / "picks" / "TM" / "model_0.txt"), "--out",
                 str(tmp_path / "from_folder"), "--no-plots"]) == 0
    a = json.loads((tmp_path / "from_copick" / "model_0.json").read_text())
    b = json.loads((tmp_path / "from_folder" / "model_0.json").read_text())
    assert a["localization"] == b["localization"]
    assert a["classification"] == b["classification"]
    assert a["classification"]["matrix"][1][2] == 1  # 1BXN first hit as 3H84 (line 1)
    # CZII counts agree; the radii are the project's (the run's 2.5 nm beads, not the default)
    assert {n: (c["TP"], c["FP"], c["FN"]) for n, c in a["czii"]["per_class"].items()} == \
        {n: (c["TP"], c["FP"], c["FN"]) for n, c in b["czii"]["per_class"].items()}
    assert a["czii"]["per_class"]["fiducial"]["radius_nm"] == pytest.approx(2.5)


def test_project_made_by_copick_is_scored(tmp_path, capsys):
    """CZII-style data: objects and truth written with copick alone (no segmentation)."""
    from copick.models import PickableObject

    objects = [PickableObject(name="apo-ferritin", is_particle=True, label=1, radius=60.0),
               PickableObject(name="ribosome", is_particle=True, label=2, radius=150.0)]
    config = tmp_path / "czii" / "copick.json"
    root = copick.new_config(str(config), overlay_root=str(tmp_path / "czii" / "overlay"),
                             pickable_objects=objects)
    run = root.new_run("TS_5_4")
    run.new_voxel_spacing(10.0).new_tomogram("denoised").from_numpy(
        np.zeros((30, 60, 60), np.float32))
    truth = {"apo-ferritin": [[100.0, 100.0, 100.0], [400.0, 300.0, 150.0]],
             "ribosome": [[300.0, 450.0, 200.0]]}
    for name, points in truth.items():
        run.new_picks(name, session_id="0", user_id="curation").from_numpy(np.array(points))
    picks = {"apo-ferritin": [[120.0, 100.0, 100.0],    # 2 voxels off: hit, CZII match
                              [500.0, 500.0, 200.0]],   # nowhere: FP
             "ribosome": [[400.0, 300.0, 150.0]]}       # on the 2nd ferritin: wrong class
    for name, points in picks.items():
        run.new_picks(name, session_id="1", user_id="alice").from_numpy(np.array(points))
    out = tmp_path / "scores"
    assert main(["evaluate", "--truth", str(config), "--picks", str(config), "--truth-user",
                 "curation", "--picks-user", "alice", "--out", str(out), "--mode",
                 "corrected", "--no-plots"]) == 0
    result = json.loads((out / "TS_5_4.json").read_text())
    loc = result["localization"]
    assert (loc["RR"], loc["N"], loc["TP"], loc["FP"], loc["FN"]) == (3, 3, 2, 1, 1)
    assert result["truth"]["voxel_size_nm"] == 1.0
    assert result["truth"]["volume_shape_zyx"] == [30, 60, 60]
    cls = result["classification"]
    assert cls["labels"] == ["background", "apo-ferritin", "ribosome"]
    # rows actual: ferritin found as ferritin and as ribosome, ribosome missed
    assert cls["matrix"] == [[0, 0, 0], [0, 1, 1], [1, 0, 0]]
    czii = result["czii"]["per_class"]
    assert (czii["apo-ferritin"]["TP"], czii["apo-ferritin"]["FP"]) == (1, 1)
    assert czii["apo-ferritin"]["radius_nm"] == 6.0
    assert (czii["ribosome"]["TP"], czii["ribosome"]["FP"], czii["ribosome"]["FN"]) == (0, 1, 1)
    assert "TS_5_4" in capsys.readouterr().out


def test_copick_errors_name_the_problem(results, tmp_path, capsys):
    out = tmp_path / "project"
    assert main(["export-copick", "--results", str(results), "--out", str(out)]) == 0
    config = str(out / "copick_config.json")
    assert main(["evaluate", "--truth", config, "--picks", config, "--out",
                 str(tmp_path / "s")]) == 2
    assert "--picks-user" in capsys.readouterr().err
    assert main(["evaluate", "--truth", config, "--picks", config, "--picks-user", "nobody",
                 "--out", str(tmp_path / "s")]) == 2
    assert "no copick run has points of user 'nobody'" in capsys.readouterr().err
    bad = results / "picks" / "DoG" / "model_0.txt"
    bad.parent.mkdir()
    bad.write_text("ribosome 1 2 3\n")
    assert main(["export-copick", "--results", str(results), "--out", str(out)]) == 2
    assert "'ribosome' is not a SHREC class" in capsys.readouterr().err
    assert (out / "copick_config.json").is_file()  # the earlier project is left as it was
