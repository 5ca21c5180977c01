"""Central Feature Network, CFN (SHREC 2021 §3.6): box classifier + centre regression, traced.

Network: a 3D ResNet (a stem convolution, then residual blocks of two dilated 3×3×3
convolutions with batch normalisation, each block halving the resolution) on cubic boxes
(published 64³). From every block only the *central* ``central_voxels``³ neurons are used, and
instead of average/max pooling each block's centre is reduced by "bottlenecked pooling": a
1×1×1 convolution to ``bottleneck_channels`` and two fully connected layers (which keep where
in the centre a feature fired). The blocks' vectors are concatenated (shallow blocks serve small
particles, deep ones large ones) and two linear heads predict the class (focal loss) and the
offset ``(z, y, x)`` in voxels from the box centre to the particle centre (smooth L1 on boxes
that hold a particle within ``positive_radius_voxels``).

Picking by centre tracing with random restarts: boxes are started at random points (one per
cell of a ``start_spacing_voxels`` grid, by default a quarter of the box edge; seeded), each box
predicts class and centre, a box that sees a particle is re-centred on the predicted centre, up
to ``trace_steps`` times.
Traces that end on a structure class with an offset under ``converged_voxels`` are near-centre
predictions; they are clustered (mean shift, bandwidth ``cluster_voxels``) into one detection
per cluster: mean position, majority class, score = mean class probability, and clusters with
fewer than ``min_votes`` traces or a score under ``min_probability`` are dropped.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from tomobench.errors import InputError
from tomobench.methods.learning.data import ClassTable, TomogramData, patch_shape_of
from tomobench.methods.learning.postprocess import COMPONENT_COLUMNS, mean_shift
from tomobench.methods.learning.registry import LearningKind, PredictContext, register
from tomobench.methods.learning.subtomograms import (
    box_targets,
    centre_markers,
    excluded_channels,
    focal_loss,
)
from tomobench.progress import Progress
from tomobench.seeding import rng

logger = logging.getLogger(__name__)

TRAINING_DEFAULTS = {
    "widths": [16, 32, 64],         # channels of the residual blocks (each halves the size)
    "dilations": [1, 2, 2],         # dilation of each block's convolutions
    "stem_channels": 8,
    "central_voxels": 2,            # edge of the central neurons taken from every block
    "bottleneck_channels": 8,       # 1x1x1 reduction before the two fully connected layers
    "hidden_units": 64,             # width of the fully connected layers
    "patch_voxels": 32,             # box edge (published 64)
    "batch_size": 16,
    "steps": 600,
    "learning_rate": 1.0e-3,
    "shift_voxels": 6,              # particle-centred boxes shifted by up to this per axis
    "background_fraction": 0.3,
    "positive_radius_voxels": 8.0,  # a particle centre this close to the box centre labels it
    "exclude_classes": ["vesicle"],  # centres that label no box
    "focal_gamma": 2.0,
    "offset_weight": 0.1,           # weight of the smooth-L1 offset term (voxels)
}

INFERENCE_DEFAULTS = {
    "start_spacing_voxels": None,   # one random start per cell of this edge (None: box / 4)
    "trace_steps": 3,               # re-centrings per trace
    "converged_voxels": 2.0,        # a trace ends near a centre if its offset is below this
    "cluster_voxels": 6.0,          # mean-shift bandwidth joining near-centre predictions
    "min_votes": 2,                 # traces a detection needs
    "min_probability": 0.5,         # mean class probability a detection needs
    "batch_size": 256,              # boxes per forward pass
}

#: Post-processing tried on the validation tomograms (traced with the default trace keys):
#: votes, probability and clustering bandwidth of a detection.
TUNING_GRID = {
    "min_votes": [1, 2, 3],
    "min_probability": [0.1, 0.2, 0.3, 0.5, 0.7],
    "cluster_voxels": [2.0, 4.0, 8.0],
}


class ResidualBlock(nn.Module):
    """Two dilated 3×3×3 convolutions with batch norm; stride 2 and a 1×1×1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, out_channels, 3, stride=2, padding=1, bias=False)
        self.norm1 = nn.BatchNorm3d(out_channels)
        self.conv2 = nn.Conv3d(out_channels, out_channels, 3, padding=dilation,
                               dilation=dilation, bias=False)
        self.norm2 = nn.BatchNorm3d(out_channels)
        self.shortcut = nn.Sequential(nn.Conv3d(in_channels, out_channels, 1, stride=2,
                                                bias=False), nn.BatchNorm3d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(y)) + self.shortcut(x))


class BottleneckedPooling(nn.Module):
    """Central ``c``³ neurons → 1×1×1 conv to ``b`` channels → flatten → FC → FC."""

    def __init__(self, channels: int, central: int, bottleneck: int, hidden: int):
        super().__init__()
        self.central = central
        self.reduce = nn.Conv3d(channels, bottleneck, 1)
        self.fully_connected = nn.Sequential(
            nn.Linear(bottleneck * central ** 3, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = [(s - self.central) // 2 for s in x.shape[2:]]
        centre = x[:, :, start[0]:start[0] + self.central, start[1]:start[1] + self.central,
                   start[2]:start[2] + self.central]
        return self.fully_connected(F.relu(self.reduce(centre)).flatten(start_dim=1))


class CFNNetwork(nn.Module):
    """``(N, 1, B, B, B)`` boxes → ``{"class": (N, C), "offset": (N, 3)}`` (offset in voxels)."""

    def __init__(self, n_classes: int, params: dict):
        super().__init__()
        widths, dilations = list(params["widths"]), list(params["dilations"])
        if len(widths) != len(dilations):
            raise InputError("cfn: training.widths and training.dilations differ in length")
        stem = int(params["stem_channels"])
        central, hidden = int(params["central_voxels"]), int(params["hidden_units"])
        self.stem = nn.Sequential(nn.Conv3d(1, stem, 3, padding=1, bias=False),
                                  nn.BatchNorm3d(stem), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList()
        self.pools = nn.ModuleList()
        previous = stem
        for width, dilation in zip(widths, dilations, strict=True):
            self.blocks.append(ResidualBlock(previous, width, int(dilation)))
            self.pools.append(BottleneckedPooling(width, central,
                                                  int(params["bottleneck_channels"]), hidden))
            previous = width
        self.classify = nn.Linear(hidden * len(widths), n_classes)
        self.locate = nn.Linear(hidden * len(widths), 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(x)
        features = []
        for block, pool in zip(self.blocks, self.pools, strict=True):
            x = block(x)
            features.append(pool(x))
        joined = torch.cat(features, dim=1)
        return {"class": self.classify(joined), "offset": self.locate(joined)}


def _box(params: dict) -> int:
    shape = patch_shape_of(params["patch_voxels"])
    if len(set(shape)) != 1:
        raise InputError(f"training.patch_voxels: the box must be a cube, got {list(shape)}")
    return shape[0]


def _alignment(params: dict) -> int:
    return 2 ** len(params["widths"])


def _build(params: dict, n_classes: int) -> CFNNetwork:
    if _box(params) // _alignment(params) < int(params["central_voxels"]):
        raise InputError(f"cfn: training.central_voxels {params['central_voxels']} exceeds "
                         f"the last block's size {_box(params) // _alignment(params)}")
    return CFNNetwork(n_classes, params)


def _targets(tomogram: TomogramData, table: ClassTable, params: dict) -> dict[str, np.ndarray]:
    return {"centres": centre_markers(tomogram, table, params)}


def _loss(outputs, batch, params, class_weights=None):
    labels, offsets, positive = box_targets(batch["centres"],
                                            float(params["positive_radius_voxels"]))
    focal = focal_loss(outputs["class"], labels, float(params["focal_gamma"]), class_weights)
    if positive.any():
        offset = F.smooth_l1_loss(outputs["offset"].float()[positive], offsets[positive])
    else:
        offset = outputs["offset"].sum() * 0.0
    total = focal + float(params["offset_weight"]) * offset
    return total, {"focal": float(focal.detach()), "offset": float(offset.detach())}


def _starts(shape: tuple[int, ...], spacing: int, generator: np.random.Generator) -> np.ndarray:
    """One uniformly random point per cell of a ``spacing`` grid over ``shape``: ``(n, 3)``."""
    corners = np.stack(np.meshgrid(*(np.arange(0, s, spacing) for s in shape), indexing="ij"),
                       axis=-1).reshape(-1, 3)
    extent = np.minimum(spacing, np.array(shape) - corners)
    return corners + np.floor(generator.random(corners.shape) * extent).astype(np.int64)


def start_spacing(params: dict, box: int) -> int:
    """``start_spacing_voxels``, or a quarter of the box edge when it is None: the tuning on
    the validation tomograms traces with the inference defaults, so the default follows the
    box (published 64 -> 16, the 16^3 CPU box at 2 nm -> 4)."""
    spacing = params["start_spacing_voxels"]
    return max(1, box // 4) if spacing is None else int(spacing)


def _classify_boxes(network: CFNNetwork, padded: np.ndarray, corners: np.ndarray, box: int,
                    batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities ``(n, C)`` and offsets ``(n, 3)`` of boxes at ``corners``."""
    probabilities, offsets = [], []
    progress = Progress("CFN: batch of boxes", -(-len(corners) // batch_size), logger)
    for first in range(0, len(corners), batch_size):
        chunk = corners[first:first + batch_size]
        boxes = np.stack([padded[z:z + box, y:y + box, x:x + box] for z, y, x in chunk])
        with torch.inference_mode():
            out = network(torch.from_numpy(boxes[:, None]).to(device).contiguous(
                memory_format=torch.channels_last_3d))
        probabilities.append(torch.softmax(out["class"].float(), dim=1).cpu().numpy())
        offsets.append(out["offset"].float().cpu().numpy())
        progress.step()
    return np.concatenate(probabilities), np.concatenate(offsets)


def trace_centres(network: CFNNetwork, volume: np.ndarray, box: int, params: dict,
                  generator: np.random.Generator, device: torch.device | str = "cpu"
                  ) -> dict[str, np.ndarray]:
    """Centre tracing with random restarts over a normalised ``(z, y, x)`` volume.

    Returns per trace: ``trace_position`` ``(n, 3)`` the predicted centre (voxels),
    ``trace_offset`` ``(n,)`` the last box's distance to it and ``trace_probabilities``
    ``(n, C)`` the last box's class probabilities.
    """
    shape = np.array(volume.shape)
    before = (box - 1) // 2
    padded = np.pad(volume, [(before, box - 1 - before)] * 3, mode="reflect")
    centre = (box - 1) / 2  # box centre relative to its corner
    position = _starts(volume.shape, start_spacing(params, box), generator)
    active = np.ones(len(position), dtype=bool)
    probabilities = np.zeros((len(position), 0), np.float32)
    predicted = position.astype(np.float64)
    distance = np.zeros(len(position))
    for _ in range(max(1, int(params["trace_steps"]))):
        index = np.flatnonzero(active)
        if len(index) == 0:
            break
        # The box whose centre is nearest the current position (padded coordinates).
        corner = np.clip(np.rint(position[index] - centre + before).astype(np.int64), 0,
                         np.array(padded.shape) - box)
        probs, offsets = _classify_boxes(network, padded, corner, box,
                                         int(params["batch_size"]), torch.device(device))
        if probabilities.shape[1] == 0:
            probabilities = np.zeros((len(position), probs.shape[1]), np.float32)
        probabilities[index] = probs
        box_centre = corner - before + centre
        predicted[index] = np.clip(box_centre + offsets, 0, shape - 1)
        distance[index] = np.linalg.norm(predicted[index] - box_centre, axis=1)
        particle = probs.argmax(axis=1) > 0
        moving = particle & (distance[index] >= float(params["converged_voxels"]))
        active[index] = moving
        position[index[moving]] = np.rint(predicted[index[moving]]).astype(np.int64)
    return {"trace_position": predicted, "trace_offset": distance,
            "trace_probabilities": probabilities}


def _predict(network: CFNNetwork, volume: np.ndarray, params: dict,
             context: PredictContext) -> dict[str, np.ndarray]:
    generator = rng(context.seed, "learning", "cfn", "trace")
    return trace_centres(network, volume, _box(context.training), params, generator,
                         context.device)


def _postprocess(maps, table: ClassTable, stats: dict, params: dict) -> pd.DataFrame:
    """Cluster the near-centre structure predictions into consensus detections."""
    excluded = {0} | excluded_channels(table, list(params["exclude_classes"]),
                                       "inference.exclude_classes")
    probabilities = maps["trace_probabilities"]
    labels = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, np.int64)
    near = (~np.isin(labels, sorted(excluded))) & (
        maps["trace_offset"] < float(params["converged_voxels"]))
    points, labels = maps["trace_position"][near], labels[near]
    probabilities = probabilities[near]
    rows = []
    if len(points):
        _, members = mean_shift(points, float(params["cluster_voxels"]))
        for cluster in np.unique(members[members >= 0]):
            inside = members == cluster
            votes = probabilities[inside].sum(axis=0)
            votes[sorted(excluded)] = -1.0  # structures only
            channel = int(votes.argmax())
            score = float(votes[channel] / inside.sum())
            if inside.sum() < int(params["min_votes"]) or score < float(params["min_probability"]):
                continue
            z, y, x = points[inside].mean(axis=0)
            rows.append((table.class_ids[channel], z, y, x, int(inside.sum()), score))
    frame = pd.DataFrame(rows, columns=COMPONENT_COLUMNS)
    return frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


CFN = register(LearningKind(
    name="cfn",
    build_network=_build,
    alignment=_alignment,
    make_targets=_targets,
    loss=_loss,
    heads={},
    postprocess=_postprocess,
    training_defaults=TRAINING_DEFAULTS,
    inference_defaults=INFERENCE_DEFAULTS,
    tuning_grid=TUNING_GRID,
    predict=_predict,
))
