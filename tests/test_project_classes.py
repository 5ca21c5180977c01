"""dataset.source copick on a project of its own classes (CZII-style objects, points only): the
config check, the class table carried through import and scoring, balls of each object's radius
as labels, the CZII weighted F-beta, and a dry run that plans the right jobs and skips the paper
outputs the project lacks facts for."""

import json
import math

import numpy as np
import pytest
import yaml

from tests.conftest import REPO_ROOT, planned_jobs, snakemake
from tomobench import dataset_source, project_classes
from tomobench.config_checks import check_config
from tomobench.errors import InputError

copick = pytest.importorskip(
    "copick", reason="the copick library is not installed (pip install 'tomobench[formats]')")

SHAPE = (40, 64, 64)
#: name -> (label, radius Å, CZII weight in the object's metadata or None)
OBJECTS = {"apo-ferritin": (1, 40.0, 1.0), "thyroglobulin": (2, 60.0, 2.0),
           "beta-amylase": (3, 50.0, None)}
#: Ground-truth centres (x, y, z) in voxels (10 Å) per run and object.
TRUTH = {
    "TS_a": {"apo-ferritin": [(12, 12, 20), (50, 14, 18)], "thyroglobulin": [(30, 40, 20)],
             "beta-amylase": [(14, 50, 22)]},
    "TS_b": {"apo-ferritin": [(20, 20, 20)], "thyroglobulin": [(44, 44, 20), (14, 46, 18)],
             "beta-amylase": [(46, 16, 21)]},
    "TS_c": {"apo-ferritin": [(16, 16, 20), (48, 48, 20)], "thyroglobulin": [(16, 46, 20)],
             "beta-amylase": [(46, 18, 19)]},
}


def _blobs(points: dict[str, list], seed: int) -> np.ndarray:
    """A tomogram (z, y, x) with a dark Gaussian blob of each object's radius at each point."""
    z, y, x = np.indices(SHAPE, dtype=np.float32)
    volume = np.random.default_rng(seed).normal(0, 0.05, SHAPE).astype(np.float32)
    for name, centres in points.items():
        sigma = OBJECTS[name][1] / 10.0 / math.sqrt(3.0)
        for cx, cy, cz in centres:
            volume -= np.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / (2 * sigma**2))
    return volume


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copick project written with copick's own API: three CZII objects, points only."""
    from copick.models import PickableObject

    folder = tmp_path_factory.mktemp("czii")
    objects = [PickableObject(name=name, is_particle=True, label=label, radius=radius,
                              metadata={} if weight is None else {"score_weight": weight})
               for name, (label, radius, weight) in OBJECTS.items()]
    config = folder / "copick.json"
    root = copick.new_config(str(config), overlay_root=str(folder / "overlay"),
                             pickable_objects=objects)
    for seed, (run_name, points) in enumerate(TRUTH.items()):
        run = root.new_run(run_name)
        run.new_voxel_spacing(10.0).new_tomogram("denoised").from_numpy(_blobs(points, seed))
        for name, centres in points.items():
            run.new_picks(name, session_id="0", user_id="curation").from_numpy(
                np.array(centres, float) * 10.0)
    return config


def _config(project, **copick_keys) -> dict:
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    config["name"] = "czii"
    config["methods"] = {"DoG": {"kind": "dog", "threshold_sigma": 4.0}}
    config["dataset"] = {"source": "copick", "path": str(project),
                         "copick": {"runs": list(TRUTH), "tomo_type": "denoised",
                                    "truth_user": "curation", "grandmodel_type": None,
                                    **copick_keys}}
    return config


def _resolved(config: dict) -> dict:
    """The config with the schema's defaults filled in (as the workflow sees it)."""
    from snakemake.utils import validate

    validate(config, str(REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_objects_are_the_class_table(project):
    config = _resolved(_config(project, objects={"beta-amylase": {"czii_weight": 0}}))
    objects = project_classes.project_objects(config)
    assert [(o.id, o.name, o.radius_nm) for o in objects] == [
        (1, "apo-ferritin", 4.0), (2, "thyroglobulin", 6.0), (3, "beta-amylase", 5.0)]
    assert project_classes.class_table(objects) == (
        "background", "apo-ferritin", "thyroglobulin", "beta-amylase")
    # weights: the metadata's score_weight, the config's where given
    assert project_classes.czii_weights(objects) == {
        "apo-ferritin": 1.0, "thyroglobulin": 2.0, "beta-amylase": 0.0}
    # without beta-amylase's weight there is no weighted score (nothing is filled in)
    plain = project_classes.project_objects(_resolved(_config(project)))
    assert project_classes.czii_weights(plain) is None
    # the layout check accepts the project (no SHREC class anywhere)
    layout = dataset_source.copick_layout(config)
    assert sorted(layout) == [0, 1, 2] and layout[2].run == "TS_c"


def test_gap_in_labels_leaves_an_unused_id_that_scoring_ignores():
    import pandas as pd

    from tomobench.evaluation.shrec import evaluate_picks
    from tomobench.evaluation.truth import GroundTruth

    objects = [project_classes.ProjectObject(1, "a", 2.0),
               project_classes.ProjectObject(4, "b", 3.0)]
    table = project_classes.class_table(objects)
    assert table == ("background", "a", "", "", "b")
    occupancy = np.zeros((10, 10, 10), np.int32)
    occupancy[2:5, 2:5, 2:5], occupancy[6:9, 6:9, 6:9] = 1, 2
    truth = GroundTruth(("a", "b"), np.array([[3, 3, 3], [7, 7, 7]]), occupancy, 0,
                        (10, 10, 10), 1.0, class_table=table,
                        radii_nm=project_classes.radii_nm(objects))
    picks = pd.DataFrame({"class_name": ["a", "b"], "x": [3.0, 7.0], "y": [3.0, 7.0],
                          "z": [3.0, 7.0]})
    result = evaluate_picks(truth, picks, source="t", mode="corrected", bootstrap_resamples=5)
    assert result["localization"]["F1"] == 1.0
    assert result["czii"]["fbeta_micro"] == 1.0 and set(result["czii"]["per_class"]) == {"a",
                                                                                        "b"}
    assert not any("absent" in w for w in result["warnings"])


@pytest.mark.parametrize("methods, message", [
    ({"TM": {"kind": "tm"}}, "methods.TM: tm needs a template of every class, but the copick "
                             "objects ['apo-ferritin', 'thyroglobulin', 'beta-amylase']"),
    ({"DF": {"kind": "deepfinder"}}, "methods.DF: the learned picker deepfinder is not carried"),
    ({"ext": {"kind": "command", "pick": "my-picker {manifest}"}},
     "methods.ext: a command method's manifest"),
])
def test_methods_without_the_facts_are_refused_before_any_job(project, methods, message):
    config = _resolved({**_config(project), "methods": methods})
    with pytest.raises(InputError, match="^config key " + message.replace("[", r"\[")
                       .replace("]", r"\]")):
        check_config(config, check_device=False)


def test_tm_is_refused_even_with_templates(project):
    pdb = {name: {"pdb_id": "1ABC"} for name in OBJECTS}
    config = _resolved({**_config(project, objects=pdb), "methods": {"TM": {"kind": "tm"}}})
    with pytest.raises(InputError, match="is not supported"):
        check_config(config, check_device=False)


def test_unknown_object_in_config_is_named(project):
    config = _resolved(_config(project, objects={"ribosome": {"czii_weight": 1}}))
    with pytest.raises(InputError, match=r"dataset.copick.objects: \['ribosome'\]"):
        project_classes.project_objects(config)


def test_import_labels_are_balls_of_each_radius_with_the_label_id(project):
    config = _resolved(_config(project))
    volumes, locations, notes = dataset_source.import_copick_run(config, "TS_a")
    assert list(locations["class_name"]) == ["apo-ferritin", "apo-ferritin", "thyroglobulin",
                                             "beta-amylase"]
    occupancy, class_mask = volumes["occupancy_mask"], volumes["class_mask"]
    z, y, x = np.indices(SHAPE)
    for k, row in enumerate(locations.itertuples(), start=1):
        label, radius_A, _ = OBJECTS[row.class_name]
        ball = (x - row.x) ** 2 + (y - row.y) ** 2 + (z - row.z) ** 2 <= (radius_A / 10) ** 2
        assert np.all(occupancy[ball] == k)  # the balls do not touch here
        assert np.all(class_mask[ball] == label)
        assert np.count_nonzero(occupancy == k) == np.count_nonzero(ball)
    assert any("labels apo-ferritin=1" in note for note in notes)


def test_czii_weighted_score_on_known_picks(project, tmp_path):
    """Run TS_a, picks: both ferritins found (one 1.5 voxels off, inside half its 4-voxel radius)
    + one ferritin false positive; thyroglobulin picked 3.5 voxels off (outside half its 6-voxel
    radius: FP and FN); beta-amylase missed. Closed form (β = 4, β² = 16):
    ferritin P = 2/3, R = 1: F = 17·(2/3)/(16·2/3 + 1) = 34/35; thyroglobulin F = 0;
    beta-amylase F = 0. Weighted (1, 2, 0): (34/35) / 3."""
    from tomobench.evaluation.shrec import evaluate_picks
    from tomobench.evaluation.truth import load_ground_truth
    from tomobench.mrc import write_mrc
    from tomobench.particles import write_particle_locations

    config = _resolved(_config(project, objects={"beta-amylase": {"czii_weight": 0}}))
    objects = project_classes.project_objects(config)
    volumes, locations, _ = dataset_source.import_copick_run(config, "TS_a")
    write_mrc(tmp_path / "occupancy_mask.mrc", volumes["occupancy_mask"], 1.0)
    write_particle_locations(tmp_path / "particle_locations.txt", locations)
    truth = load_ground_truth(tmp_path / "particle_locations.txt",
                              tmp_path / "occupancy_mask.mrc",
                              class_table=project_classes.class_table(objects))
    import dataclasses

    import pandas as pd

    truth = dataclasses.replace(truth, radii_nm=project_classes.radii_nm(objects),
                                czii_weights=project_classes.czii_weights(objects))
    picks = pd.DataFrame({
        "class_name": ["apo-ferritin", "apo-ferritin", "apo-ferritin", "thyroglobulin"],
        "x": [13.5, 50.0, 40.0, 33.5], "y": [12.0, 14.0, 30.0, 40.0],
        "z": [20.0, 18.0, 5.0, 20.0]})
    result = evaluate_picks(truth, picks, source="known", mode="corrected",
                            bootstrap_resamples=10, seed=0)
    czii = result["czii"]
    assert czii["per_class"]["apo-ferritin"]["fbeta"] == pytest.approx(34 / 35)
    assert czii["per_class"]["thyroglobulin"]["fbeta"] == 0.0
    assert czii["per_class"]["beta-amylase"]["FN"] == 1
    assert czii["fbeta_weighted"] == pytest.approx((34 / 35) / 3)
    assert result["classification"]["labels"] == [
        "background", "apo-ferritin", "thyroglobulin", "beta-amylase"]
    # the SHREC hit test on the balls: thyroglobulin's pick is inside its 6-voxel ball
    assert result["localization"]["TP"] == 3 and result["localization"]["FP"] == 1


def test_dry_run_plans_the_right_jobs_and_skips_tables(project, tmp_path):
    config = _config(project)
    path = tmp_path / "czii.yaml"
    path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = snakemake(workdir, "-n", configfile=path)
    jobs = planned_jobs(result)
    assert jobs["import_copick_run"] == 3
    assert {"calibrate_dog", "pick_dog", "pick_control", "evaluate_picks",
            "table_localization", "table_timings", "figure_central_slice",
            "skipped_paper_outputs"} <= set(jobs)
    skipped = {"table1_structures", "compute_potential", "table_particle_counts",
               "table_class_f1", "table_size_groups", "table_size_group_f1",
               "figure_cumulative_f1", "figure_f1_vs_weight", "figure_confusion_matrices",
               "simulate_scene", "match_templates", "train_learning"}
    assert not skipped & set(jobs), skipped & set(jobs)


def test_skipped_outputs_say_why(project):
    config = _resolved(_config(project, objects={"beta-amylase": {"czii_weight": 0}}))
    skipped = project_classes.skipped_outputs(project_classes.project_objects(config))
    assert set(skipped) == {"table1", "table2", "table4", "table5", "table6", "figure9",
                            "figure10", "figure11"}
    assert "molecular weight" in skipped["table5"] and "apo-ferritin" in skipped["table5"]
    weights = {name: {"molecular_weight_kda": 100.0} for name in OBJECTS}
    heavy = project_classes.project_objects(_resolved(_config(project, objects=weights)))
    assert "not carried yet" in project_classes.skipped_outputs(heavy)["table5"]
    # a SHREC source (or a copick project of SHREC classes) skips nothing
    assert project_classes.skipped_outputs(()) == {}


@pytest.mark.slow
def test_dog_and_controls_end_to_end_on_a_read_only_project(project, tmp_path):
    """The whole workflow on the CZII-style project (DoG, oracle, random): the oracle scores 1
    (SHREC F1 and the CZII weighted F-beta), the skipped outputs are absent and listed, the
    project is left byte for byte as it was."""
    import hashlib
    import os
    import stat

    folder = project.parent

    def checksums():
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    before = checksums()
    weights = {"beta-amylase": {"czii_weight": 0}}
    path = tmp_path / "czii.yaml"
    path.write_text(yaml.safe_dump(_config(project, objects=weights)))
    workdir = tmp_path / "work"
    workdir.mkdir()
    paths = [folder, *folder.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        os.chmod(p, modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        snakemake(workdir, configfile=path)
    finally:
        for p in paths:
            os.chmod(p, modes[p])
    assert checksums() == before
    run = workdir / "results" / "czii"
    oracle = json.loads((run / "evaluation" / "oracle" / "model_2.json").read_text())
    assert oracle["localization"]["F1"] == 1.0
    assert oracle["czii"]["fbeta_weighted"] == 1.0
    assert oracle["czii"]["weights"] == {"apo-ferritin": 1.0, "thyroglobulin": 2.0,
                                         "beta-amylase": 0.0}
    assert oracle["classification"]["labels"] == [
        "background", "apo-ferritin", "thyroglobulin", "beta-amylase"]
    dog = json.loads((run / "evaluation" / "DoG" / "model_2.json").read_text())
    assert set(dog["czii"]["per_class"]) <= set(OBJECTS)
    # class ids in the imported class mask are the copick labels
    from tomobench.mrc import read_mrc

    assert set(np.unique(read_mrc(run / "data" / "model_2" / "class_mask.mrc")[0])) == {
        0, 1, 2, 3}
    table3 = (run / "paper" / "table3_localization.csv").read_text().splitlines()
    assert table3[0].endswith("CZII F-beta,CZII weighted F-beta")
    assert next(line for line in table3 if line.startswith("oracle")).endswith(",1,1")
    assert not (run / "paper" / "table1_structures.csv").exists()
    assert not (run / "paper" / "table5_size_groups.csv").exists()
    skipped = (run / "paper" / "skipped_outputs.md").read_text()
    assert "| table5 | Table 5 (size groups by molecular weight) needs" in skipped


def test_a_project_of_shrec_classes_keeps_the_shrec_table(tmp_path):
    """tomobench's own exports (every object a SHREC class, some without a radius) are not a
    project of its own classes: nothing changes for them."""
    from tomobench.formats.copick_project import new_project

    config_path = tmp_path / "copick_config.json"
    new_project(config_path, {"1BXN": 5.0})
    config = {"dataset": {"source": "copick", "path": str(config_path), "copick": {}}}
    assert project_classes.project_objects(config) == ()
    assert project_classes.skipped_outputs(()) == {}


def test_submitted_picks_of_project_classes_are_checked_by_name():
    from tomobench.methods.external import PickError, check_rows

    allowed = ["apo-ferritin", "thyroglobulin", "vesicle", "fiducial"]
    frame = check_rows([("line 1", ["APO-FERRITIN", 3, 4, 5]), ("line 2", ["thyroglobulin", 1,
                                                                           1, 1])],
                       shape_zyx=(8, 8, 8), allowed_classes=allowed, where="sub")
    assert list(frame["class_name"]) == ["apo-ferritin", "thyroglobulin"]
    with pytest.raises(PickError, match="line 1"):
        check_rows([("line 1", ["ribosome", 3, 4, 5])], shape_zyx=(8, 8, 8),
                   allowed_classes=allowed, where="sub")


def test_tomobench_evaluate_reads_the_weights_from_the_objects_metadata(tmp_path):
    """``tomobench evaluate`` on a copick project whose objects carry TopCUP's score_weight:
    ferritin found (F = 1), ribosome missed (F = 0): weighted (1·1 + 2·0) / 3 = 1/3."""
    from copick.models import PickableObject

    from tomobench.cli import main

    objects = [PickableObject(name="apo-ferritin", is_particle=True, label=1, radius=60.0,
                              metadata={"score_weight": 1}),
               PickableObject(name="ribosome", is_particle=True, label=2, radius=150.0,
                              metadata={"score_weight": 2})]
    config = tmp_path / "copick.json"
    root = copick.new_config(str(config), overlay_root=str(tmp_path / "overlay"),
                             pickable_objects=objects)
    run = root.new_run("TS_1")
    run.new_voxel_spacing(10.0).new_tomogram("denoised").from_numpy(
        np.zeros((30, 60, 60), np.float32))
    for name, point in (("apo-ferritin", [100.0, 100.0, 100.0]),
                        ("ribosome", [400.0, 400.0, 200.0])):
        run.new_picks(name, session_id="0", user_id="curation").from_numpy(np.array([point]))
    run.new_picks("apo-ferritin", session_id="1", user_id="alice").from_numpy(
        np.array([[110.0, 100.0, 100.0]]))
    out = tmp_path / "scores"
    assert main(["evaluate", "--truth", str(config), "--picks", str(config), "--truth-user",
                 "curation", "--picks-user", "alice", "--out", str(out), "--no-plots"]) == 0
    czii = json.loads((out / "TS_1.json").read_text())["czii"]
    assert czii["weights"] == {"apo-ferritin": 1.0, "ribosome": 2.0}
    assert czii["fbeta_weighted"] == pytest.approx(1 / 3)
