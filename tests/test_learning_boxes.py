"""The subtomogram (box) classifiers YOPO and CFN: targets, losses, pooling, training, picking."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml
from scipy import ndimage

from tests import synthetic as syn
from tomobench.classes import CLASS_ID
from tomobench.errors import InputError
from tomobench.methods.learning import load_tomogram, pick, train
from tomobench.methods.learning.augment import apply_transform
from tomobench.methods.learning.cfn import CFNNetwork, _starts, start_spacing
from tomobench.methods.learning.data import ClassTable
from tomobench.methods.learning.registry import KINDS
from tomobench.methods.learning.subtomograms import (
    box_targets,
    centre_markers,
    focal_loss,
    greedy_min_distance,
)
from tomobench.methods.learning.training import (
    build_network,
    network_from_checkpoint,
    predict_maps,
)
from tomobench.methods.learning.yopo import YOPONetwork

from .conftest import REPO_ROOT, planned_jobs, requires_structures, snakemake

#: Three sizes, as the issue asks: small, medium and large particles.
RADII = {"5MRC": 5.0, "1BXN": 4.0, "3QM1": 3.0}
YOPO_TRAINING = {"widths": [8, 16, 16], "patch_voxels": 16, "dense_channels": 32,
                 "batch_size": 12, "validation_interval": 50, "validation_patches": 12,
                 "background_fraction": 0.3, "shift_voxels": 1}
YOPO_INFERENCE = {"patch_voxels": [32, 48, 48], "overlap_voxels": 16, "margin_voxels": 8}
CFN_TRAINING = {"widths": [8, 16], "dilations": [1, 2], "stem_channels": 4, "hidden_units": 32,
                "patch_voxels": 16, "batch_size": 12, "validation_interval": 50,
                "validation_patches": 12, "shift_voxels": 3,
                "positive_radius_voxels": 5.0, "background_fraction": 0.3, "offset_weight": 1.0}
CFN_INFERENCE = {"start_spacing_voxels": 5, "min_votes": 2, "cluster_voxels": 6.0}


@pytest.fixture(scope="module")
def tomograms(tmp_path_factory):
    """Two toy tomograms (training, validation) with planted spheres of three sizes."""
    root = tmp_path_factory.mktemp("boxes")
    loaded = []
    for key in range(2):
        directory = root / f"model_{key}"
        syn.synthetic_tomogram(directory, (32, 48, 48), RADII, 12, seed=11, key=key, noise=0.3)
        loaded.append(load_tomogram(syn.tomogram_paths(directory)))
    return loaded


def _hits_with_class(picks: pd.DataFrame, tomogram) -> tuple[int, int, int]:
    """(particles hit by a pick of their class, picks, particles); a pick hits the particle
    whose one-voxel dilated occupancy region holds it (the SHREC criterion)."""
    dilated = ndimage.grey_dilation(tomogram.occupancy,
                                    footprint=ndimage.generate_binary_structure(3, 1))
    found = set()
    for row in picks.itertuples(index=False):
        z, y, x = np.clip(np.rint([row.z, row.y, row.x]).astype(int), 0,
                          np.array(tomogram.shape) - 1)
        line = int(dilated[z, y, x])
        if line and tomogram.particles.class_name[line - 1] == row.class_name:
            found.add(line)
    return len(found), len(picks), len(tomogram.particles)


# --- targets and losses ---------------------------------------------------------------------

def test_box_targets_pick_the_nearest_centre_within_the_radius():
    markers = torch.zeros((3, 8, 8, 8), dtype=torch.uint8)
    markers[0, 4, 4, 5] = 2          # 1.66 voxels from the centre (3.5, 3.5, 3.5)
    markers[0, 0, 0, 0] = 3          # farther: loses
    markers[1, 0, 0, 0] = 3          # 6.06 voxels: outside a radius of 3
    labels, offsets, positive = box_targets(markers, 3.0)
    assert labels.tolist() == [2, 0, 0] and positive.tolist() == [True, False, False]
    assert torch.allclose(offsets[0], torch.tensor([0.5, 0.5, 1.5]))
    assert torch.all(offsets[1:] == 0)


def test_box_targets_follow_flips_of_the_box():
    """Flipping the marker patch (as the augmentation does) flips the offset's signs."""
    markers = np.zeros((8, 8, 8), dtype=np.uint8)
    markers[5, 2, 4] = 1
    _, offset, _ = box_targets(torch.from_numpy(markers[None]), 4.0)
    for flips in [(True, False, False), (False, True, True), (True, True, True)]:
        flipped = apply_transform(markers, (flips, False))
        _, moved, _ = box_targets(torch.from_numpy(flipped[None]), 4.0)
        signs = torch.tensor([-1.0 if f else 1.0 for f in flips])
        assert torch.allclose(moved, offset * signs)


def test_centre_markers_skip_excluded_classes(tomograms):
    tomogram = tomograms[0]
    table = ClassTable.from_tomograms([tomogram])
    markers = centre_markers(tomogram, table, {"exclude_classes": ["3QM1"]})
    particles = tomogram.particles
    kept = particles[particles.class_name != "3QM1"]
    assert np.count_nonzero(markers) == len(kept)
    channel = table.class_ids.index(CLASS_ID["5MRC"])
    row = kept[kept.class_name == "5MRC"].iloc[0]
    assert markers[row.z, row.y, row.x] == channel
    with pytest.raises(InputError, match="training.exclude_classes"):
        centre_markers(tomogram, table, {"exclude_classes": ["nothing"]})


def test_focal_loss_is_cross_entropy_at_gamma_zero_and_discounts_easy_boxes():
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    labels = torch.tensor([0, 1])
    assert torch.allclose(focal_loss(logits, labels, 0.0), F.cross_entropy(logits, labels))
    per_box = [float(focal_loss(logits[i:i + 1], labels[i:i + 1], 2.0)) for i in range(2)]
    ce = [float(F.cross_entropy(logits[i:i + 1], labels[i:i + 1])) for i in range(2)]
    assert per_box[0] / ce[0] < 0.01 < per_box[1] / ce[1]  # the confident box counts less
    weights = torch.tensor([1.0, 3.0, 1.0])
    assert torch.allclose(focal_loss(logits, labels, 0.0, weights),
                          (F.cross_entropy(logits, labels, reduction="none")
                           * torch.tensor([1.0, 3.0])).mean())


def test_greedy_min_distance_keeps_the_best_of_close_detections():
    frame = pd.DataFrame({"z": [0, 0, 0, 0], "y": [0, 0, 0, 0], "x": [0, 10, 14, 30],
                          "score": [0.5, 0.9, 0.8, 0.1]})
    kept = greedy_min_distance(frame, 14.0)
    assert kept["x"].tolist() == [10, 30]  # 0 and 14 are within 14 of the best (10)
    assert greedy_min_distance(frame, 0.0)["x"].tolist() == [10, 14, 0, 30]


def test_yopo_smoothing_puts_the_detection_at_the_plateau_centre():
    """A plateau of structure probability with its highest voxel off-centre: unsmoothed, the
    detection sits on that voxel; smoothed, on the plateau's centre."""
    probability = np.full((21, 21, 21), 0.05, np.float32)
    probability[6:15, 6:15, 6:15] = 0.8  # plateau centred on (10, 10, 10)
    probability[7, 13, 8] = 0.85  # a noisy maximum at its edge
    labels = np.where(probability > 0.5, 2, 0)
    maps = {"class_max": probability, "class_label": labels}
    table = ClassTable((0, CLASS_ID["4CR2"], CLASS_ID["1BXN"]))
    params = KINDS["yopo"].inference_params({"min_probability": 0.5, "min_distance_voxels": 4})
    raw = KINDS["yopo"].postprocess(maps, table, {}, params)
    assert raw[["z", "y", "x"]].to_numpy().tolist()[0] == [7, 13, 8]
    smoothed = KINDS["yopo"].postprocess(maps, table, {}, {**params, "smoothing_voxels": 2.0})
    assert len(smoothed) == 1 and smoothed["class_id"].tolist() == [CLASS_ID["1BXN"]]
    assert smoothed[["z", "y", "x"]].to_numpy().tolist()[0] == [10, 10, 10]


# --- networks -------------------------------------------------------------------------------

def test_yopo_dense_pass_equals_classifying_every_box():
    network = build_network(KINDS["yopo"], KINDS["yopo"].training_params(
        {"widths": [4, 8], "patch_voxels": 12, "dense_channels": 8}), 5, seed=3).eval()
    volume = torch.randn(1, 1, 20, 22, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        dense = network.dense(volume)["class"]
        assert dense.shape == (1, 5, 20, 22, 24)
        for z, y, x in [(6, 6, 6), (10, 11, 17), (13, 15, 17)]:  # boxes inside the volume
            box = volume[:, :, z - 6:z + 6, y - 6:y + 6, x - 6:x + 6]
            assert torch.allclose(network(box)["class"][0, :, 0, 0, 0], dense[0, :, z, y, x],
                                  atol=1e-5)


def test_yopo_pooling_is_translation_invariant():
    """A particle shifted by a few voxels inside the box gives the same logits (global max)."""
    network = YOPONetwork(4, [4, 8, 8], 24, 8).eval()
    grid = np.indices((24, 24, 24)) - 11.5
    for shift in [(0, 0, 0), (3, -2, 1), (-3, 3, -3)]:
        blob = ((grid - np.array(shift)[:, None, None, None]) ** 2).sum(0) <= 9
        box = torch.from_numpy(blob.astype(np.float32))[None, None]
        with torch.no_grad():
            logits = network(box)["class"].flatten()
        if shift == (0, 0, 0):
            reference = logits
        assert torch.allclose(logits, reference, atol=1e-5)


def test_cfn_outputs_class_and_offset_from_central_neurons():
    params = KINDS["cfn"].training_params(CFN_TRAINING)
    network = CFNNetwork(6, params).eval()
    out = network(torch.randn(3, 1, 16, 16, 16))
    assert out["class"].shape == (3, 6) and out["offset"].shape == (3, 3)
    with pytest.raises(InputError, match="central_voxels"):
        KINDS["cfn"].build_network({**params, "central_voxels": 8}, 6)


def test_cfn_trace_starts_cover_every_cell_once():
    generator = np.random.default_rng(0)
    starts = _starts((10, 25, 12), 5, generator)
    assert len(starts) == 2 * 5 * 3
    assert starts.min() >= 0 and np.all(starts < [10, 25, 12])
    cells = {tuple(c) for c in starts // 5}
    assert len(cells) == len(starts)
    assert start_spacing({"start_spacing_voxels": None}, 16) == 4  # default: a quarter box
    assert start_spacing({"start_spacing_voxels": 5}, 16) == 5


def test_yopo_inference_margin_must_cover_half_the_box(tomograms):
    checkpoint, _ = train("yopo", {**YOPO_TRAINING, "steps": 1}, tomograms[:1], [], seed=1)
    with pytest.raises(InputError, match="margin_voxels"):
        predict_maps(checkpoint, tomograms[0].reconstruction,
                     {**YOPO_INFERENCE, "margin_voxels": 4})


# --- training and picking -------------------------------------------------------------------

def test_yopo_overfits_and_recovers_particles_with_their_classes(tomograms):
    checkpoint, report = train("yopo", {**YOPO_TRAINING, "steps": 300}, tomograms[:1],
                               tomograms[:1], seed=1)
    chance = np.log(len(checkpoint["class_ids"]))  # cross entropy of a uniform guess
    assert report["best_validation_loss"] < 0.3 * chance
    picks = pick(checkpoint, tomograms[0].reconstruction, YOPO_INFERENCE)
    found, count, total = _hits_with_class(picks, tomograms[0])
    assert found >= 0.75 * total and found >= 0.6 * count


def test_cfn_overfits_recovers_particles_and_tolerates_shifts(tomograms):
    checkpoint, report = train("cfn", {**CFN_TRAINING, "steps": 300}, tomograms[:1],
                               tomograms[:1], seed=1)
    losses = [entry["validation_loss"] for entry in report["history"]]
    assert losses[-1] < 0.5 * losses[0]
    picks = pick(checkpoint, tomograms[0].reconstruction, CFN_INFERENCE)
    found, count, total = _hits_with_class(picks, tomograms[0])
    assert found >= 0.8 * total and found >= 0.6 * count
    # Boxes shifted by a few voxels from a particle: same class, and the predicted offset
    # points back (the predicted centre is nearer the particle than the box centre is).
    _, network = network_from_checkpoint(checkpoint)
    table = ClassTable(tuple(checkpoint["class_ids"]))
    volume = np.pad(tomograms[0].reconstruction, 8, mode="reflect")
    same_class, errors, shifts = 0, [], []
    rows = list(tomograms[0].particles.itertuples(index=False))
    for row in rows:
        centre = np.array([row.z, row.y, row.x]) + 8
        for shift in [(0, 0, 0), (2, -1, 1), (-2, 2, -1)]:
            corner = centre + np.array(shift) - 8
            box = volume[corner[0]:corner[0] + 16, corner[1]:corner[1] + 16,
                         corner[2]:corner[2] + 16]
            with torch.no_grad():
                out = network(torch.from_numpy(np.ascontiguousarray(box))[None, None])
            same_class += table.names[int(out["class"].argmax())] == row.class_name
            box_centre = corner + 7.5
            errors.append(np.linalg.norm(box_centre + out["offset"][0].numpy() - centre))
            shifts.append(np.linalg.norm(box_centre - centre))
    assert same_class >= 0.8 * 3 * len(rows)
    assert np.mean(errors) < 0.75 * np.mean(shifts)


# --- workflow -------------------------------------------------------------------------------

@requires_structures
@pytest.mark.slow
def test_tiny_run_with_yopo_and_cfn(tiny_run, tmp_path):
    """Both kinds train, pick, get scored and appear in the paper tables of the tiny run."""
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    overlay = yaml.safe_load((REPO_ROOT / "config" / "test_box_classifiers.yaml").read_text())
    config["methods"].update(overlay["methods"])
    path = tmp_path / "boxes.yaml"
    path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    jobs = planned_jobs(snakemake(workdir, "-n", configfile=path))
    assert jobs.get("train_learning") == 2 and "simulate_scene" not in jobs, jobs
    snakemake(workdir, configfile=path)
    run = workdir / "results" / config["name"]
    for method in overlay["methods"]:
        for i in config["tomograms"]["test"]:
            assert (run / "picks" / method / f"model_{i}.txt").is_file()
            scores = json.loads((run / "evaluation" / method / f"model_{i}.json").read_text())
            assert 0.0 <= scores["localization"]["F1"] <= 1.0
        assert (run / "models" / method / "training.json").is_file()
    table = (run / "paper" / "table3_localization.csv").read_text()
    assert "YOPO" in table and "CFN" in table
