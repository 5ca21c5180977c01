"""DeepFinder (SHREC 2021 §3.2; Moebel et al. 2021): 3D U-Net segmentation + mean-shift.

Network: a small 3D U-Net (published channels 32, 48, 64 with two poolings, four convolutions
in the bottleneck, up-convolutions, concatenated skips, no normalisation) with a softmax over
the classes, trained on the class masks with the soft Dice (Tversky 0.5/0.5) loss and Adam
(lr 1e-4, betas 0.9/0.999) on class-balanced patches. Picking: argmax label map, per-class
flat mean-shift with a per-class bandwidth, per-class cluster-size filter. Bandwidths and size
thresholds default to fractions of each class's median particle size measured on the
training occupancy masks (``class_stats`` in the checkpoint) and can be set per class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tomobench.classes import CLASS_ID
from tomobench.errors import InputError
from tomobench.methods.learning.data import ClassTable, TomogramData
from tomobench.methods.learning.losses import cross_entropy_loss, tversky_loss
from tomobench.methods.learning.networks import SegmentationUNet
from tomobench.methods.learning.postprocess import mean_shift_clusters
from tomobench.methods.learning.registry import LearningKind, register

#: Radius (voxels) assumed for a class without training statistics.
FALLBACK_RADIUS_VOXELS = 3.0

TRAINING_DEFAULTS = {
    "widths": [8, 16, 32],        # channels per U-Net level (published 32, 48, 64)
    "convs": 2,                   # convolutions per encoder/decoder level
    "bottleneck_convs": 4,        # convolutions at the coarsest level
    "norm": "batch",              # none (published) | batch | instance | group; batch keeps the
                                  # short CPU schedule from collapsing to background
    "patch_voxels": 40,
    "steps": 800,
    "learning_rate": 1.0e-3,      # published 1e-4 (needs ~10^4 steps)
    "tversky_alpha": 0.5,         # 0.5 / 0.5 = soft Dice
    "tversky_beta": 0.5,
    "cross_entropy_weight": 1.0,  # extra CE term (0 = as published; speeds up short schedules)
}

INFERENCE_DEFAULTS = {
    "bandwidth_factor": 1.0,      # mean-shift bandwidth = factor x class radius (voxels)
    "min_size_fraction": 0.02,     # drop clusters smaller than fraction x median class volume
    "bandwidth_voxels": {},       # per-class overrides {class_name: voxels}
    "min_size_voxels": {},        # per-class overrides {class_name: voxels}
}


#: Post-processing tried on the validation tomograms after training (tune_postprocessing):
#: the voxels' probability floor and the cluster-size filter (DeepFinder's per-class cluster
#: size thresholds, as fractions of each class's median particle volume).
TUNING_GRID = {
    "min_probability": [0.0, 0.4, 0.6],
    "min_size_fraction": [0.02, 0.1, 0.25, 0.5],
}


def _build(params: dict, n_classes: int) -> SegmentationUNet:
    return SegmentationUNet(n_classes, list(params["widths"]), convs=int(params["convs"]),
                            bottleneck_convs=int(params["bottleneck_convs"]), norm=params["norm"])


def _alignment(params: dict) -> int:
    return 2 ** (len(params["widths"]) - 1)


def _targets(tomogram: TomogramData, table: ClassTable, params: dict) -> dict[str, np.ndarray]:
    return {"segmentation": table.channel_map(tomogram.class_mask)}


def _loss(outputs, batch, params, class_weights=None):
    logits = outputs["segmentation"]
    dice = tversky_loss(logits, batch["segmentation"], float(params["tversky_alpha"]),
                        float(params["tversky_beta"]))
    terms = {"tversky": float(dice.detach())}
    total = dice
    weight = float(params["cross_entropy_weight"])
    if weight > 0:
        ce = cross_entropy_loss(logits, batch["segmentation"], class_weights)
        terms["cross_entropy"] = float(ce.detach())
        total = total + weight * ce
    return total, terms


def excluded_ids(names: list[str], key: str = "inference.exclude_classes") -> set[int]:
    """Class ids of ``names``; ``InputError`` naming ``key`` for an unknown class."""
    unknown = [n for n in names if n not in CLASS_ID]
    if unknown:
        raise InputError(f"{key}: unknown classes {unknown}")
    return {0, *(CLASS_ID[n] for n in names)}


def label_volume(maps: dict[str, np.ndarray], table: ClassTable, min_probability: float = 0.0
                 ) -> np.ndarray:
    """Argmax channel map → SHREC class-id map ``(z, y, x)``.

    Voxels whose winning probability is below ``min_probability`` become background.
    """
    labels = np.asarray(table.class_ids, dtype=np.uint8)[maps["segmentation_label"]]
    if min_probability > 0:
        labels[maps["segmentation_max"] < min_probability] = 0
    return labels


def _postprocess(maps, table: ClassTable, stats: dict, params: dict) -> pd.DataFrame:
    excluded = excluded_ids(params["exclude_classes"])
    bandwidths, min_sizes = {}, {}
    for class_id, name in zip(table.class_ids, table.names, strict=True):
        if class_id in excluded:
            continue
        class_stats = stats.get(name, {})
        radius = class_stats.get("radius_voxels", FALLBACK_RADIUS_VOXELS)
        bandwidths[class_id] = float(params["bandwidth_voxels"].get(
            name, max(1.0, float(params["bandwidth_factor"]) * radius)))
        min_sizes[class_id] = float(params["min_size_voxels"].get(
            name, float(params["min_size_fraction"]) * class_stats.get("median_voxels", 0.0)))
    labels = label_volume(maps, table, float(params["min_probability"]))
    return mean_shift_clusters(labels, bandwidths, min_sizes,
                               scores=maps["segmentation_max"])


DEEPFINDER = register(LearningKind(
    name="deepfinder",
    build_network=_build,
    alignment=_alignment,
    make_targets=_targets,
    loss=_loss,
    heads={"segmentation": ("softmax", "argmax")},
    postprocess=_postprocess,
    training_defaults=TRAINING_DEFAULTS,
    inference_defaults=INFERENCE_DEFAULTS,
    tuning_grid=TUNING_GRID,
))
