"""URFinder and U-CLSTM (paper §3.1, §3.3): networks, targets, losses, post-processing and the
overfit-and-recover check on planted particles."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests import synthetic as syn
from tomobench.classes import CLASS_ID
from tomobench.methods.learning import load_tomogram, pick, train
from tomobench.methods.learning.data import ClassTable, PatchSampler
from tomobench.methods.learning.postprocess import component_filter
from tomobench.methods.learning.training import sampling_probabilities
from tomobench.methods.learning.u_clstm import (
    U_CLSTM,
    SliceConvLSTM,
    UCLSTMNetwork,
    distance_heatmaps,
    heatmap_mse,
)
from tomobench.methods.learning.urfinder import (
    DenseResNet,
    UNet3Plus,
    multilabel_bce,
)
from tomobench.methods.learning.urfinder import _postprocess as urfinder_postprocess
from tomobench.particles import read_picks

from .conftest import REPO_ROOT, snakemake

#: Three particle sizes (radii in voxels).
RADII = {"5MRC": 6.0, "1BXN": 4.0, "3QM1": 2.5}
TINY_INFERENCE = {"patch_voxels": 32, "overlap_voxels": 8, "margin_voxels": 2}


@pytest.fixture(scope="module")
def tomogram(tmp_path_factory):
    directory = tmp_path_factory.mktemp("paper_kinds") / "model_0"
    syn.synthetic_tomogram(directory, (32, 48, 48), RADII, 15, seed=4, key=0, noise=0.3)
    return load_tomogram(syn.tomogram_paths(directory))


def _class_recall(picks: pd.DataFrame, tomogram) -> float:
    """Share of the planted particles hit by a pick of their own class."""
    coordinates = np.rint(picks[["z", "y", "x"]].to_numpy(float)).astype(int)
    coordinates = np.clip(coordinates, 0, np.array(tomogram.shape) - 1)
    hit = tomogram.occupancy[tuple(coordinates.T)]
    particles = tomogram.particles.reset_index(drop=True)
    found = {int(i) for i, name in zip(hit, picks.class_name, strict=True)
             if i > 0 and particles.class_name[i - 1] == name}
    return len(found) / len(particles)


# --- overfit and recover ---------------------------------------------------------------------

@pytest.mark.parametrize("kind, training", [
    ("urfinder", {"widths": [8, 16, 16], "cat_channels": 8, "resnet_width": 8,
                  "resnet_blocks": 2, "fiducial_blocks": 1, "class_weight_power": 0.5,
                  "steps": 150}),
    ("u_clstm", {"widths": [8, 16, 16], "class_weight_power": 1.0, "steps": 100}),
])
def test_overfits_and_recovers_planted_particles_with_classes(kind, training, tomogram):
    """Three sizes (radii 6, 4 and 2.5 voxels): the particles are found (localisation recall
    and precision >= 0.8) and most with their own class (>= 0.7; the two smaller sizes are
    the hard pair)."""
    training = {**training, "patch_voxels": 24, "batch_size": 2, "learning_rate": 3e-3,
                "validation_interval": 50, "validation_patches": 4, "shift_voxels": 3,
                "background_fraction": 0.0}
    checkpoint, _ = train(kind, training, [tomogram], [tomogram], seed=1)
    picks = pick(checkpoint, tomogram.reconstruction, TINY_INFERENCE)
    found, count, total = syn.localization_hits(picks, tomogram.occupancy)
    assert found / total >= 0.8 and found / count >= 0.8
    assert _class_recall(picks, tomogram) >= 0.7


# --- URFinder ----------------------------------------------------------------------------------

def test_unet3plus_deep_supervision_heads_only_in_training():
    network = UNet3Plus(4, [4, 8, 16], cat_channels=4, norm="batch")
    x = torch.randn(2, 1, 16, 16, 16)
    outputs = network.train()(x)
    assert sorted(outputs) == ["deep_1", "deep_2", "segmentation"]
    assert all(v.shape == (2, 4, 16, 16, 16) for v in outputs.values())
    assert sorted(network.eval()(x)) == ["segmentation"]


def test_dense_resnet_is_a_box_classifier_slid_at_stride_two():
    """Shifting the input by the stride shifts the output by the same amount (away from the
    borders), and a voxel's output depends only on a box of 3 + 8 * blocks voxels around it."""
    torch.manual_seed(0)
    network = DenseResNet(3, width=4, blocks=2).eval()
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        out = network(x)
        shifted = network(torch.roll(x, shifts=2, dims=4))
        np.testing.assert_allclose(shifted[..., 14:22, 14:22, 12:20],
                                   out[..., 14:22, 14:22, 10:18], atol=1e-5)
        changed = x.clone()
        changed[..., 0:6, :, :] = 0  # more than 19 / 2 + 1 voxels away from z = 16
        np.testing.assert_allclose(network(changed)[..., 16, 16, 16], out[..., 16, 16, 16],
                                   atol=1e-6)


def test_multilabel_bce_matches_per_channel_binary_cross_entropy():
    logits = torch.randn(1, 3, 2, 2, 2)
    target = torch.randint(0, 3, (1, 2, 2, 2))
    weights = torch.tensor([1.0, 2.0, 5.0])
    probabilities = torch.sigmoid(logits)
    expected = 0.0
    for channel in range(3):
        positive = (target == channel).float()
        expected += -(weights[channel] * positive * torch.log(probabilities[:, channel])
                      + (1 - positive) * torch.log(1 - probabilities[:, channel])).sum()
    expected /= logits.numel()
    assert float(multilabel_bce(logits, target, weights)) == pytest.approx(float(expected),
                                                                           rel=1e-5)


def test_component_filter_keeps_components_within_size_and_extent():
    mask = np.zeros((20, 20, 60), dtype=bool)
    mask[2:5, 2:5, 2:5] = True            # 27 voxels, extent 3
    mask[10, 10, 10:12] = True            # 2 voxels
    mask[15, 15, 5:55] = True             # 50 voxels, extent 50
    kept = component_filter(mask, min_size=27, max_extent=40)
    assert kept.sum() == 27 and kept[3, 3, 3]
    assert component_filter(mask, min_size=2).sum() == 27 + 2 + 50


def test_urfinder_merges_touching_detections_of_both_networks():
    """A UNet3+ component and a touching ResNet component are one particle (majority label,
    UNet3+ winning on shared voxels); a bead of the fiducial detector is kept when small."""
    table = ClassTable((0, CLASS_ID["1BXN"], CLASS_ID["3QM1"], CLASS_ID["fiducial"]))
    shape = (20, 20, 40)
    segmentation = np.zeros(shape, dtype=np.uint8)
    classification = np.zeros(shape, dtype=np.uint8)
    segmentation[5:9, 5:9, 5:9] = 1           # 64 voxels of 1BXN
    classification[5:9, 5:9, 9:11] = 2        # 32 touching voxels of 3QM1
    classification[12:16, 12:16, 20:24] = 2   # a separate ResNet detection
    fiducial = np.zeros((1, *shape), dtype=np.float32)
    fiducial[0, 2:6, 2:6, 30:34] = 0.9
    maps = {"segmentation_label": segmentation, "segmentation_max": np.full(shape, 0.9,
                                                                            np.float32),
            "classification_label": classification,
            "classification_max": np.full(shape, 0.8, np.float32), "fiducial": fiducial}
    params = {"exclude_classes": ["vesicle"], "connectivity": 26, "min_probability": 0.0,
              "min_size_voxels": 8, "classifier_min_size_voxels": 8, "use_classifier": True,
              "fiducial_threshold": 0.5, "fiducial_min_size_voxels": 27,
              "fiducial_max_extent_voxels": 40}
    frame = urfinder_postprocess(maps, table, {}, params)
    names = sorted(frame.class_id.tolist())
    assert names == sorted([CLASS_ID["1BXN"], CLASS_ID["3QM1"], CLASS_ID["fiducial"]])
    merged = frame[frame.class_id == CLASS_ID["1BXN"]].iloc[0]
    assert merged["size"] == 64 + 32
    alone = urfinder_postprocess(maps, table, {}, {**params, "use_classifier": False})
    assert sorted(alone.class_id.tolist()) == [CLASS_ID["1BXN"], CLASS_ID["fiducial"]]


# --- U-CLSTM -----------------------------------------------------------------------------------

def test_distance_heatmaps_peak_at_particle_centres_in_their_class_channel():
    occupancy = np.zeros((16, 16, 24), dtype=np.int32)
    grid = np.indices(occupancy.shape)
    for index, (centre, radius) in enumerate((((8, 8, 6), 4), ((8, 8, 14), 4)), start=1):
        inside = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius ** 2
        occupancy[inside & (occupancy == 0)] = index  # the two spheres touch at x = 10
    ids = np.array([CLASS_ID["1BXN"], CLASS_ID["3QM1"]])
    heat = distance_heatmaps(occupancy, ids, (0, CLASS_ID["1BXN"], CLASS_ID["3QM1"]))
    assert heat.shape == (2, *occupancy.shape) and heat.dtype == np.float32
    assert heat[0, 8, 8, 6] == 1.0 and heat[1, 8, 8, 14] == 1.0
    assert heat[0][occupancy != 1].max() == 0 and heat[1][occupancy != 2].max() == 0
    assert 0 < heat[0, 8, 8, 9] < heat[0, 8, 8, 7]  # falls towards the border
    assert heat[0, 8, 8, 10] < 0.5 and heat[1, 8, 8, 10] < 0.5  # separated where they touch


def test_heatmap_mse_weights_the_errors_on_particles():
    prediction = torch.zeros(1, 2, 2, 2, 2)
    target = torch.zeros(1, 2, 2, 2, 2)
    target[0, 1, 0, 0, 0] = 1.0
    assert float(heatmap_mse(prediction, target)) == pytest.approx(1 / 16)
    weights = torch.tensor([1.0, 1.0, 4.0])  # background first
    assert float(heatmap_mse(prediction, target, weights)) == pytest.approx(4 / (15 + 4))


def test_slice_conv_lstm_sees_slices_on_both_sides():
    torch.manual_seed(0)
    lstm = SliceConvLSTM(2, 4, norm="none").eval()
    x = torch.randn(1, 2, 6, 5, 5)
    with torch.no_grad():
        base = lstm(x)
        for changed_slice in (0, 5):
            other = x.clone()
            other[:, :, changed_slice] += 1.0
            assert not torch.allclose(lstm(other)[:, :, 3], base[:, :, 3])
    assert base.shape == (1, 4, 6, 5, 5)
    network = UCLSTMNetwork(3, [4, 8, 8], residual_blocks=1, aspp_rates=[1, 2])
    assert network(torch.randn(1, 1, 8, 12, 12))["heatmap"].shape == (1, 3, 8, 12, 12)


def test_argmax_assignment_labels_by_the_strongest_channel_not_its_threshold():
    """A weak class channel (peak 0.35) names its particle under ``argmax`` at threshold 0.3,
    although the other channel is positive there too; ``per_class`` at 0.4 loses it."""
    table = ClassTable((0, CLASS_ID["1BXN"], CLASS_ID["3QM1"], CLASS_ID["vesicle"]))
    heat = np.zeros((3, 12, 12, 24), dtype=np.float32)
    heat[0, 4:8, 4:8, 2:6] = 0.9          # a strong 1BXN particle
    heat[1, 4:8, 4:8, 12:16] = 0.35       # a weak 3QM1 particle ...
    heat[0, 4:8, 4:8, 12:16] = 0.25       # ... where 1BXN is weaker still
    heat[2, 4:8, 4:8, 19:23] = 0.8        # a vesicle: excluded
    params = {**U_CLSTM.inference_params({}), "threshold": 0.3, "min_size_voxels": 1}
    argmax = U_CLSTM.postprocess({"heatmap": heat}, table, {}, {**params,
                                                                  "class_assignment": "argmax"})
    assert sorted(argmax["class_id"]) == [CLASS_ID["1BXN"], CLASS_ID["3QM1"]]
    weak = argmax[argmax["class_id"] == CLASS_ID["3QM1"]].iloc[0]
    assert (weak["z"], weak["y"], weak["x"]) == pytest.approx((5.5, 5.5, 13.5))
    assert list(argmax["score"]) == pytest.approx([0.9, 0.35])
    per_class = U_CLSTM.postprocess({"heatmap": heat}, table, {}, {**params, "threshold": 0.4})
    assert list(per_class["class_id"]) == [CLASS_ID["1BXN"]]
    with pytest.raises(ValueError, match="class_assignment"):
        U_CLSTM.postprocess({"heatmap": heat}, table, {}, {**params, "class_assignment": "x"})


def test_size_weighted_sampling_favours_small_particles():
    stats = {"5MRC": {"median_voxels": 512.0}, "3QM1": {"median_voxels": 64.0}}
    table = ClassTable((0, CLASS_ID["5MRC"], CLASS_ID["3QM1"]))
    assert sampling_probabilities(stats, table, 0.0) is None
    weights = sampling_probabilities(stats, table, 1.0)
    assert weights[CLASS_ID["3QM1"]] == pytest.approx(8 * weights[CLASS_ID["5MRC"]])
    centres = pd.DataFrame({"class_id": [CLASS_ID["5MRC"], CLASS_ID["3QM1"]], "z": [4, 4],
                            "y": [4, 4], "x": [4, 12]})
    volume = np.zeros((8, 8, 16), dtype=np.float32)
    volume[:, :, 8:] = 1.0
    sampler = PatchSampler([volume], [{}], [centres], (2, 2, 2), background_fraction=0.0,
                           class_probabilities=weights)
    generator = np.random.default_rng(0)
    small = np.mean([sampler.sample(generator)["input"].mean() for _ in range(900)])
    assert small == pytest.approx(8 / 9, abs=0.04)


# --- end to end in the tiny workflow run -------------------------------------------------------

#: Toy sizes of the two kinds added to config/test.yaml's methods (kept out of the shared tiny
#: run so that its CI time does not grow).
TINY_METHODS = {
    "URFinder": {"kind": "urfinder", "training": {
        "widths": [4, 8], "cat_channels": 4, "resnet_width": 4, "resnet_blocks": 1,
        "fiducial_blocks": 1, "patch_voxels": 24, "batch_size": 2, "steps": 20,
        "validation_interval": 10, "validation_patches": 4, "checkpoint_interval": 10},
        "inference": {"patch_voxels": [40, 64, 64], "overlap_voxels": 8}},
    "U-CLSTM": {"kind": "u_clstm", "training": {
        "widths": [4, 8], "patch_voxels": 24, "batch_size": 2, "steps": 20,
        "validation_interval": 10, "validation_patches": 4, "checkpoint_interval": 10},
        "inference": {"patch_voxels": [40, 64, 64], "overlap_voxels": 8}},
}


@pytest.mark.slow
def test_tiny_run_with_urfinder_and_u_clstm(tiny_run, tmp_path):
    """Both kinds train, pick and are scored in a copy of the tiny run; the paper tables list
    them under their paper names."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = yaml.safe_load((REPO_ROOT / "config" / "test.yaml").read_text())
    config["methods"].update(TINY_METHODS)
    path = tmp_path / "more_learners.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake(workdir, configfile=path)
    run = workdir / "results" / config["name"]
    for method in TINY_METHODS:
        report = json.loads((run / "models" / method / "training.json").read_text())
        assert report["kind"] == TINY_METHODS[method]["kind"]
        for i in config["tomograms"]["test"]:
            picks = read_picks(run / "picks" / method / f"model_{i}.txt")
            assert set(picks.class_name) <= set(CLASS_ID) - {"background", "vesicle"}
            scores = json.loads((run / "evaluation" / method / f"model_{i}.json").read_text())
            assert 0.0 <= scores["localization"]["F1"] <= 1.0
    table = (run / "paper" / "table3_localization.csv").read_text()
    assert "URFinder" in table and "U-CLSTM" in table
    versus_paper = (run / "paper" / "table3_localization_vs_paper.html").read_text()
    assert versus_paper.count("URFinder") >= 2 and versus_paper.count("U-CLSTM") >= 2
