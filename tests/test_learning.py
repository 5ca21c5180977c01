"""Learning pickers: training infrastructure, inference tiling, post-processing, both kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage

from tests import synthetic as syn
from tomobench.classes import CLASS_ID
from tomobench.errors import InputError
from tomobench.evaluation.bootstrap import Units, point_estimates
from tomobench.evaluation.shrec import score_picks
from tomobench.methods.learning import (
    KINDS,
    load_checkpoint,
    load_tomogram,
    pick,
    save_checkpoint,
    train,
)
from tomobench.methods.learning import training as training_module
from tomobench.methods.learning.augment import AUGMENT_MODES, augment, draw_transform
from tomobench.methods.learning.data import bin_tomogram
from tomobench.methods.learning.inference import sliding_window
from tomobench.methods.learning.networks import SegmentationUNet
from tomobench.methods.learning.postprocess import (
    connected_components,
    maxpool_nms,
    mean_shift_clusters,
)
from tomobench.methods.learning.registry import LearningKind, register
from tomobench.methods.learning.training import (
    class_weights,
    inference_parameters,
    macro_dice,
    validation_truth,
)
from tomobench.paper.figures import save_figure, training_curves_figure
from tomobench.particles import read_picks, write_picks

RADII = {"5MRC": 5.0, "3QM1": 3.0}
TINY_TRAINING = {"widths": [8, 8, 16], "patch_voxels": 24, "batch_size": 2,
                 "validation_interval": 10, "validation_patches": 4, "shift_voxels": 2,
                 "background_fraction": 0.0}
TINY_INFERENCE = {"patch_voxels": 32, "overlap_voxels": 8, "margin_voxels": 2}


@pytest.fixture(scope="module")
def tomograms(tmp_path_factory):
    """Three toy tomograms (two training, one validation) with planted spheres."""
    root = tmp_path_factory.mktemp("learning")
    loaded = []
    for key in range(3):
        directory = root / f"model_{key}"
        syn.synthetic_tomogram(directory, (32, 48, 48), RADII, 12, seed=5, key=key, noise=0.3)
        loaded.append(load_tomogram(syn.tomogram_paths(directory)))
    return loaded


def _recall(picks: pd.DataFrame, tomogram) -> float:
    found, _, total = syn.localization_hits(picks, tomogram.occupancy)
    return found / total


# --- training -------------------------------------------------------------------------------

THREE_SIZES = {"5MRC": 5.0, "3CF3": 3.5, "3QM1": 2.5}


@pytest.fixture(scope="module")
def three_sizes(tmp_path_factory):
    """One toy tomogram with planted spheres of three sizes (radius 5, 3.5 and 2.5 voxels)."""
    directory = tmp_path_factory.mktemp("three_sizes") / "model_0"
    syn.synthetic_tomogram(directory, (32, 56, 56), THREE_SIZES, 15, seed=3, noise=0.3)
    return load_tomogram(syn.tomogram_paths(directory))


@pytest.mark.parametrize("kind", ["deepfinder", "mc_ds_net"])
def test_tiny_network_overfits_and_recovers_particles_with_their_classes(kind, three_sizes):
    training = {**TINY_TRAINING, "steps": 100, "learning_rate": 3e-3, "norm": "batch",
                "cross_entropy_weight": 1.0, "class_weight_power": 0.5}
    if kind == "mc_ds_net":  # its shared encoder also learns to denoise: more steps
        training.update(widths=[8, 8, 16], steps=160)
    checkpoint, report = train(kind, training, [three_sizes], [three_sizes], seed=1)
    losses = [entry["validation_loss"] for entry in report["history"]]
    assert losses[-1] < 0.7 * losses[0]
    assert report["class_weights"][0] == 1 and min(report["class_weights"][1:]) > 1
    picks = pick(checkpoint, three_sizes.reconstruction, TINY_INFERENCE)
    scores = score_picks(validation_truth(three_sizes), picks, mode="corrected")
    estimates = point_estimates(Units.from_json(scores["units"]))
    assert estimates["F1"] >= 0.85, estimates
    for name in THREE_SIZES:  # every size found with its class
        assert estimates[f"class:{name}"] >= 0.75, (name, estimates)


def test_bin_tomogram_samples_masks_on_the_fourier_binned_grid(three_sizes):
    binned = bin_tomogram(three_sizes, 2)
    assert binned.shape == (16, 28, 28) and binned.voxel_size_nm == 2 * three_sizes.voxel_size_nm
    np.testing.assert_array_equal(binned.class_mask, three_sizes.class_mask[::2, ::2, ::2])
    np.testing.assert_array_equal(binned.occupancy, three_sizes.occupancy[::2, ::2, ::2])
    assert abs(float(binned.reconstruction.mean())) < 1e-3  # normalised again
    np.testing.assert_array_equal(binned.particles["x"], three_sizes.particles["x"] // 2)
    with pytest.raises(InputError, match="input_binning = 3"):
        bin_tomogram(three_sizes, 3)


def test_binned_network_picks_in_tomogram_voxels(three_sizes):
    """With input_binning 2 the network sees a (16, 28, 28) volume; its picks come back in the
    (32, 56, 56) tomogram's voxels and hit the planted particles there."""
    training = {**TINY_TRAINING, "input_binning": 2, "patch_voxels": 16, "shift_voxels": 1,
                "steps": 100, "learning_rate": 3e-3, "norm": "batch",
                "cross_entropy_weight": 1.0, "class_weight_power": 0.5}
    checkpoint, report = train("deepfinder", training, [three_sizes], [three_sizes], seed=1)
    assert report["class_stats"]["5MRC"]["radius_voxels"] < 3.5  # measured on the binned masks
    picks = pick(checkpoint, three_sizes.reconstruction, {**TINY_INFERENCE, "patch_voxels": 16})
    assert picks[["z", "y", "x"]].max().max() > 28  # tomogram voxels, not binned ones
    scores = score_picks(validation_truth(three_sizes), picks, mode="corrected")
    estimates = point_estimates(Units.from_json(scores["units"]))
    assert estimates["F1"] >= 0.8, estimates
    for name in ("5MRC", "3CF3"):
        assert estimates[f"class:{name}"] >= 0.75, (name, estimates)


def test_training_is_deterministic_and_resumable(tomograms, tmp_path):
    # with the moving average and class weights, whose state must survive the resume too
    training = {**TINY_TRAINING, "steps": 6, "validation_interval": 3,
                "checkpoint_interval": 3, "ema_decay": 0.5, "class_weight_power": 0.5}
    first, report = train("deepfinder", training, tomograms[:1], tomograms[2:], seed=7)
    second, _ = train("deepfinder", training, tomograms[:1], tomograms[2:], seed=7)
    for key, value in first["state_dict"].items():
        assert torch.equal(value, second["state_dict"][key])

    class Interrupt(RuntimeError):
        pass

    # Calls per step: 1 training; every 3 steps also 2 validation batches.
    calls = {"n": 0, "fail_at": 7}  # the 5th training step, after the state saved at step 3
    base = KINDS["deepfinder"]

    def flaky_loss(outputs, batch, params, class_weights=None):
        calls["n"] += 1
        if calls["n"] == calls["fail_at"]:
            raise Interrupt
        return base.loss(outputs, batch, params, class_weights)

    flaky = KINDS.get("deepfinder_flaky") or register(LearningKind(
        name="deepfinder_flaky", build_network=base.build_network, alignment=base.alignment,
        make_targets=base.make_targets, loss=flaky_loss, heads=base.heads,
        postprocess=base.postprocess, training_defaults=base.training_defaults,
        inference_defaults=base.inference_defaults))
    state = tmp_path / "training_state.pt"
    with pytest.raises(Interrupt):
        train(flaky.name, training, tomograms[:1], tomograms[2:], seed=7, state_path=state)
    assert state.is_file()
    calls.update(n=0, fail_at=-1)
    resumed, resumed_report = train(flaky.name, training, tomograms[:1], tomograms[2:], seed=7,
                                    state_path=state)
    assert calls["n"] == 3 + 2  # steps 4-6 and one validation: resumed, not restarted
    assert not state.exists()
    assert [entry["step"] for entry in resumed_report["history"]] == [3, 6]
    uninterrupted, _ = train(flaky.name, training, tomograms[:1], tomograms[2:], seed=7)
    for key, value in uninterrupted["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key])
    assert report["best_step"] in (3, 6)


def test_cpu_precision_is_resolved_from_the_config_and_the_cpu(monkeypatch):
    cpu = torch.device("cpu")
    assert training_module.resolve_precision({"cpu_precision": "fp32"}, cpu) == "fp32"
    monkeypatch.setattr(training_module, "cpu_bf16_supported", lambda: False)
    assert training_module.resolve_precision({"cpu_precision": "auto"}, cpu) == "fp32"
    with pytest.raises(InputError, match="cpu_precision: bf16 asked for"):
        training_module.resolve_precision({"cpu_precision": "bf16"}, cpu)
    with pytest.raises(InputError, match="cpu_precision must be one of"):
        training_module.resolve_precision({"cpu_precision": "fp16"}, cpu)
    monkeypatch.setattr(training_module, "cpu_bf16_supported", lambda: True)
    assert training_module.resolve_precision({"cpu_precision": "auto"}, cpu) == "bf16"
    # CUDA follows mixed_precision, whatever cpu_precision says
    cuda = torch.device("cuda")
    assert training_module.resolve_precision({"cpu_precision": "fp32"}, cuda) == "bf16"
    assert training_module.resolve_precision({"mixed_precision": False}, cuda) == "fp32"


@pytest.mark.skipif(not training_module.cpu_bf16_supported(), reason="no native bf16 on CPU")
def test_bf16_training_is_recorded_reproducible_and_not_fp32(tomograms):
    training = {**TINY_TRAINING, "steps": 4, "validation_interval": 2, "cpu_precision": "bf16"}
    first, report = train("deepfinder", training, tomograms[:1], tomograms[2:], seed=7,
                          threads=1)
    second, _ = train("deepfinder", training, tomograms[:1], tomograms[2:], seed=7, threads=1)
    fp32, fp32_report = train("deepfinder", {**training, "cpu_precision": "fp32"},
                              tomograms[:1], tomograms[2:], seed=7, threads=1)
    assert report["compute"]["precision"] == "bf16"
    assert report["compute"]["memory_format"] == "channels_last_3d"
    assert report["compute"]["torch_version"] == torch.__version__
    assert fp32_report["compute"]["precision"] == "fp32"
    for key, value in first["state_dict"].items():
        assert torch.equal(value, second["state_dict"][key])
    # autocast really ran: bf16 rounding moves the weights (same draws, same steps)
    assert not all(torch.equal(value, fp32["state_dict"][key])
                   for key, value in first["state_dict"].items())
    first_picks = pick(first, tomograms[2].reconstruction, TINY_INFERENCE, threads=1)
    second_picks = pick(second, tomograms[2].reconstruction, TINY_INFERENCE, threads=1)
    pd.testing.assert_frame_equal(first_picks, second_picks)


def test_checkpoint_round_trip_weights_only(tomograms, tmp_path):
    checkpoint, _ = train("mc_ds_net", {**TINY_TRAINING, "widths": [4, 8], "steps": 2},
                          tomograms[:1], [], seed=3)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, checkpoint)
    loaded = load_checkpoint(path)
    assert loaded["kind"] == "mc_ds_net" and loaded["class_ids"] == checkpoint["class_ids"]
    for key, value in checkpoint["state_dict"].items():
        assert torch.equal(value, loaded["state_dict"][key])
    volume = tomograms[1].reconstruction
    assert pick(checkpoint, volume, TINY_INFERENCE).equals(pick(loaded, volume, TINY_INFERENCE))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")


def test_checkpoint_bytes_depend_on_the_tensors_only(tmp_path):
    """Two saves of equal payloads under different names are byte-identical (zip member names
    do not come from the temporary file); a changed weight changes the bytes."""
    payload = {"kind": "deepfinder", "state_dict": {"w": torch.arange(6.0).reshape(2, 3)},
               "class_ids": [1, 2]}
    first, second = tmp_path / "a" / "checkpoint.pt", tmp_path / "b" / "other.pt"
    save_checkpoint(first, payload)
    save_checkpoint(second, {**payload, "state_dict": {"w": torch.arange(6.0).reshape(2, 3)}})
    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in first.parent.iterdir()) == ["checkpoint.pt"]
    save_checkpoint(second, {**payload, "state_dict": {"w": torch.ones(2, 3)}})
    assert first.read_bytes() != second.read_bytes()


@pytest.mark.parametrize("kind", ["deepfinder", "mc_ds_net"])
def test_methods_train_and_pick_end_to_end(kind, tomograms, tmp_path):
    checkpoint, report = train(kind, {**TINY_TRAINING, "steps": 4, "validation_interval": 2},
                               tomograms[:2], tomograms[2:], seed=11)
    assert report["class_names"] == ["background", "3QM1", "5MRC"]
    assert set(report["class_stats"]) == {"3QM1", "5MRC"}
    assert len(report["history"]) == 2 and report["best_validation_loss"] is not None
    assert all(0 <= entry["validation_dice"] <= 1 for entry in report["history"])
    tuned = checkpoint["tuned_inference"]
    grid = KINDS[kind].tuning_grid
    assert set(tuned) == set(grid) and all(tuned[k] in grid[k] for k in grid)
    assert len(report["tuning"]) == np.prod([len(v) for v in grid.values()])
    save_figure(training_curves_figure(report, kind), tmp_path / "training.png", pdf=False)
    assert (tmp_path / "training.png").stat().st_size > 10_000
    picks = pick(checkpoint, tomograms[2].reconstruction * 7 + 3, TINY_INFERENCE)
    assert list(picks.columns) == ["class_name", "x", "y", "z", "score"]
    assert set(picks.class_name) <= {"3QM1", "5MRC"}
    write_picks(tmp_path / "picks.txt", picks)
    assert len(read_picks(tmp_path / "picks.txt")) == len(picks)


def test_class_weights_follow_voxel_shares():
    # channel voxel counts 800 / 100 / 25 / 0
    target = np.repeat(np.arange(4), [800, 100, 25, 0])
    assert class_weights([target], 4, 0.0, 100.0).tolist() == [1, 1, 1, 1]
    np.testing.assert_allclose(class_weights([target[:400], target[400:]], 4, 0.5, 100.0),
                               [1, 8 ** 0.5, 32 ** 0.5, 100])  # absent channel: the cap
    np.testing.assert_allclose(class_weights([target], 4, 1.0, 10.0), [1, 8, 10, 10])


def test_macro_dice_rewards_every_class():
    target = np.array([0, 0, 1, 1, 2, 2])
    assert macro_dice(target, target) == 1.0
    assert macro_dice(np.array([0, 0, 1, 1, 1, 1]), target) == pytest.approx((2 / 3 + 0) / 2)
    assert macro_dice(np.zeros(4, int), np.zeros(4, int)) == 0.0  # background only


def test_configured_inference_keys_override_the_tuned_ones():
    checkpoint = {"kind": "deepfinder",
                  "tuned_inference": {"min_probability": 0.6, "min_size_fraction": 0.25}}
    params = inference_parameters(checkpoint, {"min_size_fraction": 0.02})
    assert params["min_probability"] == 0.6 and params["min_size_fraction"] == 0.02
    assert inference_parameters({"kind": "deepfinder"}, None)["min_probability"] == 0.0


def test_bad_configuration_is_reported(tomograms):
    with pytest.raises(InputError, match="unknown keys.*'width'"):
        train("deepfinder", {"width": [8, 16]}, tomograms[:1], [], seed=1)
    with pytest.raises(InputError, match="unknown learning kind"):
        train("nope", {}, tomograms[:1], [], seed=1)
    with pytest.raises(InputError, match="multiple of 4"):
        train("deepfinder", {"patch_voxels": 30}, tomograms[:1], [], seed=1)
    with pytest.raises(InputError, match="training.select_by: 'f1' is not one of"):
        train("deepfinder", {"select_by": "f1"}, tomograms[:1], [], seed=1)
    with pytest.raises(InputError, match="exceeds the tomogram shape"):
        train("deepfinder", {"patch_voxels": 64}, tomograms[:1], [], seed=1)


def test_mismatched_volumes_are_rejected(tmp_path):
    syn.synthetic_tomogram(tmp_path / "a", (16, 24, 24), RADII, 2, seed=1)
    syn.synthetic_tomogram(tmp_path / "b", (16, 24, 32), RADII, 2, seed=1)
    paths = syn.tomogram_paths(tmp_path / "a")
    paths["class_mask"] = syn.tomogram_paths(tmp_path / "b")["class_mask"]
    with pytest.raises(InputError, match="class_mask.mrc: shape"):
        load_tomogram(paths)


# --- augmentation ---------------------------------------------------------------------------

def _wedge_mask(shape, tilt_max_deg=60.0):
    kz = np.fft.fftfreq(shape[0])[:, None, None]
    kx = np.fft.fftfreq(shape[2])[None, None, :]
    return np.broadcast_to(np.abs(kz) > np.abs(kx) * np.tan(np.deg2rad(tilt_max_deg)) + 1e-9,
                           shape)


def test_wedge_augmentations_keep_the_missing_wedge():
    shape = (24, 24, 24)
    volume = syn.wedge_filter(np.random.default_rng(0).normal(size=shape), 60.0)
    missing = _wedge_mask(shape)
    # Odd-sized reflections shift the FFT grid; use an even cube and check the energy.
    assert np.abs(np.fft.fftn(volume))[missing].max() < 1e-3
    generator = np.random.default_rng(1)
    for mode in ("wedge", "wedge_mirror"):
        for _ in range(12):
            (out,) = augment([volume], generator, mode)
            leak = np.abs(np.fft.fftn(out))[missing & _wedge_mask(shape, 59)].max()
            assert leak < 1e-3, mode
    rotated = np.rot90(volume, axes=(1, 2))
    assert np.abs(np.fft.fftn(rotated))[missing].max() > 1.0  # rot90 about z breaks it
    seen = {draw_transform(generator, "extended")[1] for _ in range(40)}
    assert seen == {False, True} and "extended" in AUGMENT_MODES


def test_augment_transforms_inputs_and_targets_identically():
    volume = np.arange(4 * 6 * 6, dtype=np.float32).reshape(1, 4, 6, 6)
    labels = volume[0].astype(np.int64)
    generator = np.random.default_rng(3)
    for _ in range(10):
        out, out_labels = augment([volume, labels], generator, "extended")
        assert np.array_equal(out[0].astype(np.int64), out_labels)
        assert sorted(out.ravel()) == sorted(volume.ravel())


# --- inference tiling ----------------------------------------------------------------------

def test_tiled_inference_equals_whole_volume():
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv3d(1, 3, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv3d(3, 3, 3, padding=1)).eval()

    def forward(x):
        return {"out": conv(x)}

    volume = np.random.default_rng(0).normal(size=(32, 40, 48)).astype(np.float32)
    with torch.no_grad():
        whole = conv(torch.from_numpy(volume)[None, None])[0].numpy()
    tiled = sliding_window(forward, volume, {"out": ("identity", "none")}, (16, 16, 16),
                           overlap=8, margin=2, batch_size=3)["out"]
    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    odd = np.random.default_rng(2).normal(size=(30, 37, 45)).astype(np.float32)
    with torch.no_grad():
        whole = conv(torch.from_numpy(odd)[None, None])[0].numpy()
    tiled = sliding_window(forward, odd, {"out": ("identity", "none")}, (64, 16, 16),
                           overlap=8, margin=2)["out"]  # z patch cut to the volume
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # A U-Net: equal away from the (reflect-padded) far borders once margin >= receptive field.
    torch.manual_seed(1)
    unet = SegmentationUNet(3, [4, 8], bottleneck_convs=2).eval()
    volume = np.random.default_rng(1).normal(size=(40, 56, 56)).astype(np.float32)
    with torch.no_grad():
        whole = torch.softmax(unet(torch.from_numpy(volume)[None, None])["segmentation"], 1)
    maps = sliding_window(unet, volume, {"segmentation": ("softmax", "none")}, (32, 32, 32),
                          overlap=24, margin=12, alignment=2)["segmentation"]
    np.testing.assert_allclose(maps[:, :-8, :-8, :-8], whole[0].numpy()[:, :-8, :-8, :-8],
                               atol=1e-5)
    reduced = sliding_window(unet, volume, {"segmentation": ("softmax", "argmax")},
                             (32, 32, 32), overlap=24, margin=12, alignment=2)
    assert np.array_equal(reduced["segmentation_label"], maps.argmax(0))


# --- post-processing ------------------------------------------------------------------------

def _blobs(shape, centres, radius, labels):
    grid = np.indices(shape)
    volume = np.zeros(shape, np.uint8)
    for centre, label in zip(centres, labels, strict=True):
        inside = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius ** 2
        volume[inside] = label
    return volume


def test_connected_components_recover_blobs_majority_and_size_filter():
    centres = [(8, 10, 10), (20, 30, 12), (10, 30, 32)]
    labels = _blobs((28, 40, 44), centres, 3, [CLASS_ID["5MRC"], CLASS_ID["1BXN"], 14])
    labels[8, 10, 10] = CLASS_ID["1BXN"]  # a minority voxel inside the first blob
    labels[2, 2, 2] = CLASS_ID["1BXN"]   # a one-voxel speck
    frame = connected_components(labels, min_size=5, exclude=(0, 14))
    assert len(frame) == 2
    found = {int(row.class_id): (row.z, row.y, row.x) for row in frame.itertuples()}
    np.testing.assert_allclose(found[CLASS_ID["5MRC"]], centres[0], atol=1e-9)
    np.testing.assert_allclose(found[CLASS_ID["1BXN"]], centres[1], atol=1e-9)
    diagonal = np.zeros((5, 5, 5), np.uint8)
    diagonal[1, 1, 1] = diagonal[2, 2, 2] = 1
    assert len(connected_components(diagonal, connectivity=26)) == 1
    assert len(connected_components(diagonal, connectivity=6)) == 2


def test_mean_shift_separates_touching_blobs_per_class():
    centres = [(12, 12, 12), (12, 12, 20), (12, 30, 20)]
    labels = _blobs((24, 40, 32), centres, 4, [2, 2, 5])
    assert len(connected_components(labels)) == 2  # the touching pair merges
    frame = mean_shift_clusters(labels, {2: 4.0, 5: 4.0}, {2: 20, 5: 20})
    assert len(frame) == 3
    positions = frame[["z", "y", "x"]].to_numpy()
    for centre in centres:
        assert np.min(np.linalg.norm(positions - centre, axis=1)) < 1.0
    assert len(mean_shift_clusters(labels, {2: 4.0, 5: 4.0}, {2: 20, 5: 1000})) == 2
    mixed = labels.copy()
    mixed[12, 30, 20:23] = 2  # a few voxels of another class inside the class-5 blob
    merged = mean_shift_clusters(mixed, {2: 4.0, 5: 4.0}, {2: 1, 5: 1})
    assert len(merged) == 3


def test_maxpool_nms_recovers_peaks_above_threshold():
    shape = (30, 40, 40)
    peaks = [(8, 10, 10), (20, 25, 30), (15, 30, 8)]
    heights = [1.0, 0.8, 0.2]
    score = np.zeros(shape, np.float32)
    for (z, y, x), height in zip(peaks, heights, strict=True):
        score[z, y, x] = height
    score = ndimage.gaussian_filter(score, 2.0)
    score /= score.max()
    frame = maxpool_nms(score, radius_voxels=4, threshold=0.5)
    assert [tuple(r) for r in frame[["z", "y", "x"]].to_numpy()] == peaks[:2]
    plateau = np.zeros((10, 10, 10), np.float32)
    plateau[4:6, 4:6, 4:7] = 1.0
    assert len(maxpool_nms(plateau, radius_voxels=1, threshold=0.5)) == 1
    assert len(maxpool_nms(score, 4, 0.0, max_picks=2)) == 2


def test_label_volume_maps_channels_to_class_ids_and_drops_unsure_voxels():
    from tomobench.methods.learning.data import ClassTable
    from tomobench.methods.learning.deepfinder import label_volume

    table = ClassTable((0, 5, 13))
    maps = {"segmentation_label": np.array([[[0, 1, 2, 2]]], np.uint8),
            "segmentation_max": np.array([[[0.9, 0.6, 0.4, 0.8]]], np.float32)}
    assert label_volume(maps, table).tolist() == [[[0, 5, 13, 13]]]
    assert label_volume(maps, table, 0.5).tolist() == [[[0, 5, 0, 13]]]


def test_training_log_says_percent_done_and_time_left(tomograms, caplog):
    import logging

    training = {**TINY_TRAINING, "steps": 4, "validation_interval": 2,
                "tune_postprocessing": False}
    with caplog.at_level(logging.INFO, "tomobench.methods.learning.training"):
        train("deepfinder", training, tomograms[:1], tomograms[2:], seed=3)
    steps = [r.getMessage() for r in caplog.records if " step " in r.getMessage()
             and r.getMessage().startswith("epoch")]
    assert [line.split(" left)")[0].split(", ")[0] for line in steps] == [
        "epoch 1 step 2/4 (50 %", "epoch 2 step 4/4 (100 %"]
    assert steps[-1].startswith("epoch 2 step 4/4 (100 %, 0 s left) loss ")
