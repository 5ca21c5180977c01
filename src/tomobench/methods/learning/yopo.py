"""YOPO, "you only pool once" (SHREC 2021 §3.5; Zeng et al. 2021): a subtomogram classifier.

Network: valid (unpadded) 3×3×3 convolutions, each followed by ELU and batch normalisation,
with a global max-pool over the box after *every* layer; the pooled features of all layers are
concatenated, normalised and classified by dense layers (published: 32³ boxes, ~10 layers of
64-208 channels, Gaussian dropout on the input, dense 1024). Max-pooling over the whole box
makes the class tolerant to where the particle sits in the box. Training: boxes at particle
centres (plus a small shift) and random boxes, labelled with the class of the particle whose
centre is within ``positive_radius_voxels`` of the box centre, else background (15 classes,
vesicle centres excluded); softmax cross entropy.

Picking: the paper applies the classifier at *every* location of the test tomogram. The
network does that exactly and cheaply as a fully convolutional pass (``dense``): valid convs
over the whole (reflect-padded) volume, then per layer a stride-1 max-pool whose window is
that layer's extent inside one box, so the output voxel ``p`` holds the logits of the box
starting at ``p - B // 2`` (centre half a voxel before ``p`` for even ``B``), as if the box had
been cut out and classified; dense layers become 1×1×1 convolutions. Locations whose most
probable class is a structure with probability above ``min_probability`` (published 0.9)
are kept as local maxima, then greedily thinned so detections are more than
``min_distance_voxels`` (published 14) apart. Not implemented: the Gaussian input dropout
(it would draw from torch's global generator and break reproducible training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from tomobench.errors import InputError
from tomobench.methods.learning.data import ClassTable, TomogramData, patch_shape_of
from tomobench.methods.learning.postprocess import COMPONENT_COLUMNS, maxpool_nms
from tomobench.methods.learning.registry import LearningKind, PredictContext, register
from tomobench.methods.learning.subtomograms import (
    box_targets,
    centre_markers,
    excluded_channels,
    focal_loss,
    greedy_min_distance,
)

TRAINING_DEFAULTS = {
    "widths": [8, 16, 16, 32],      # channels of the valid conv layers (published ~10, 64-208)
    "dense_channels": 128,          # hidden dense layer (published 1024)
    "patch_voxels": 32,             # the box edge B (published 32)
    "batch_size": 8,
    "steps": 400,
    "learning_rate": 1.0e-3,
    "shift_voxels": 1,              # boxes at particle centres, shifted by at most this
    "background_fraction": 0.3,     # random boxes (published: 20,000 random boxes)
    "positive_radius_voxels": 2.0,  # a particle centre this close to the box centre labels it
    "exclude_classes": ["vesicle"],  # centres that label no box (published: vesicles)
}

INFERENCE_DEFAULTS = {
    "patch_voxels": [128, 128, 128],  # sliding window over the dense classifier
    "overlap_voxels": 32,           # >= B: every output voxel sees its whole box
    "margin_voxels": 16,            # >= B / 2
    "min_probability": 0.9,         # published 0.9
    "min_distance_voxels": 14.0,    # published 14
    "smoothing_voxels": 0.0,        # Gaussian sigma on the structure probability (0: published)
}

#: Post-processing tried on the validation tomograms: the probability threshold (a briefly
#: trained classifier is rarely 0.9 sure), the minimum distance between detections (14 voxels
#: merges neighbours in crowded tomograms, and is 28 nm on a 2 nm grid) and the smoothing of
#: the probability plateau around each particle (0 = published).
TUNING_GRID = {
    "min_probability": [0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
    "min_distance_voxels": [4.0, 6.0, 10.0, 14.0],
    "smoothing_voxels": [0.0, 1.0, 2.0],
}


class YOPONetwork(nn.Module):
    """Valid convolutions + global max-pool after each layer + dense layers.

    ``forward`` of a ``(N, 1, B, B, B)`` box batch gives ``{"class": (N, C, 1, 1, 1)}``; of a
    larger input ``(N, 1, Z, Y, X)`` the logits of every box inside it,
    ``(N, C, Z - B + 1, Y - B + 1, X - B + 1)``. ``dense`` keeps the input's shape.
    """

    def __init__(self, n_classes: int, widths: list[int], box_voxels: int, dense_channels: int):
        super().__init__()
        if box_voxels <= 2 * len(widths):
            raise InputError(f"yopo: training.patch_voxels {box_voxels} must exceed twice the "
                             f"number of layers ({len(widths)})")
        self.box_voxels = box_voxels
        layers, previous = [], 1
        for width in widths:
            layers.append(nn.Sequential(nn.Conv3d(previous, width, 3), nn.ELU(inplace=True),
                                        nn.BatchNorm3d(width)))
            previous = width
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(
            nn.BatchNorm3d(sum(widths)), nn.Conv3d(sum(widths), dense_channels, 1),
            nn.ELU(inplace=True), nn.Conv3d(dense_channels, n_classes, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = []
        for depth, layer in enumerate(self.layers, start=1):
            x = layer(x)
            window = self.box_voxels - 2 * depth  # this layer's extent inside one box
            # Separable max over the window: O(window) per voxel instead of O(window^3).
            y = F.max_pool3d(x, (window, 1, 1), stride=1)
            y = F.max_pool3d(y, (1, window, 1), stride=1)
            pooled.append(F.max_pool3d(y, (1, 1, window), stride=1))
        return {"class": self.head(torch.cat(pooled, dim=1))}

    def dense(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of the box starting ``B // 2`` before every voxel (reflect-padded input)."""
        before, after = self.box_voxels // 2, self.box_voxels - 1 - self.box_voxels // 2
        return self(F.pad(x, (before, after) * 3, mode="reflect"))


def _box(params: dict) -> int:
    shape = patch_shape_of(params["patch_voxels"])
    if len(set(shape)) != 1:
        raise InputError(f"training.patch_voxels: the box must be a cube, got {list(shape)}")
    return shape[0]


def _build(params: dict, n_classes: int) -> YOPONetwork:
    return YOPONetwork(n_classes, list(params["widths"]), _box(params),
                       int(params["dense_channels"]))


def _targets(tomogram: TomogramData, table: ClassTable, params: dict) -> dict[str, np.ndarray]:
    return {"centres": centre_markers(tomogram, table, params)}


def _loss(outputs, batch, params, class_weights=None):
    labels, _, _ = box_targets(batch["centres"], float(params["positive_radius_voxels"]))
    logits = outputs["class"].flatten(start_dim=1)
    loss = focal_loss(logits, labels, 0.0, class_weights)
    return loss, {"cross_entropy": float(loss.detach())}


def _predict(network: YOPONetwork, volume: np.ndarray, params: dict,
             context: PredictContext) -> dict[str, np.ndarray]:
    half = network.box_voxels // 2
    if int(params["margin_voxels"]) < half:
        raise InputError(f"inference.margin_voxels must be at least half the box ({half}) "
                         f"so every output sees its whole box, got {params['margin_voxels']}")
    return context.sliding_window(network.dense)


def _postprocess(maps, table: ClassTable, stats: dict, params: dict) -> pd.DataFrame:
    """Local maxima of the structure probability, thinned to ``min_distance_voxels``."""
    excluded = {0} | excluded_channels(table, list(params["exclude_classes"]),
                                       "inference.exclude_classes")
    labels = maps["class_label"]
    score = np.where(np.isin(labels, sorted(excluded)), 0.0, maps["class_max"])
    if float(params["smoothing_voxels"]) > 0:
        score = ndimage.gaussian_filter(score, float(params["smoothing_voxels"]), mode="nearest")
    peaks = maxpool_nms(score, 1.0, max(float(params["min_probability"]), 1e-6))
    peaks = greedy_min_distance(peaks, float(params["min_distance_voxels"]))
    coordinates = tuple(peaks[["z", "y", "x"]].to_numpy(dtype=np.int64).T)
    class_ids = np.asarray(table.class_ids, dtype=np.int64)[labels[coordinates]] \
        if len(peaks) else np.zeros(0, np.int64)
    return pd.DataFrame({"class_id": class_ids, "z": peaks["z"].astype(float),
                         "y": peaks["y"].astype(float), "x": peaks["x"].astype(float),
                         "size": np.ones(len(peaks)), "score": peaks["score"].astype(float)}
                        )[COMPONENT_COLUMNS]


YOPO = register(LearningKind(
    name="yopo",
    build_network=_build,
    alignment=lambda params: 1,
    make_targets=_targets,
    loss=_loss,
    heads={"class": ("softmax", "argmax")},
    postprocess=_postprocess,
    training_defaults=TRAINING_DEFAULTS,
    inference_defaults=INFERENCE_DEFAULTS,
    tuning_grid=TUNING_GRID,
    predict=_predict,
))
