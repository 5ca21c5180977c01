"""U-CLSTM (SHREC 2021 §3.3): U-Net with a residual encoder, an ASPP bridge and a ConvLSTM decoder
regressing per-class distance-transform heatmaps.

Network: a 3D encoder of ``len(widths)`` levels ("three main layers", each published with 20
residual blocks, here ``residual_blocks``) with 2×2×2 max-pooling between levels; an atrous
spatial pyramid pooling bridge (parallel 3×3×3 convolutions with dilations ``aspp_rates``, a
1×1×1 convolution and the global average, concatenated and fused); a decoder whose every level
(transposed-convolution upsampling, concatenation of the encoder skip) runs a bidirectional
convolutional LSTM over the volume's z slices (2-D 3×3 gates over y-x, one sequence step per
slice, forward and backward halves concatenated). Head: a 1×1×1 convolution to one heatmap per
particle class (the table's classes except background).

Targets: for each particle, the Euclidean distance transform inside its occupancy region divided
by its maximum (1 at the particle's innermost voxels, falling to 0 at its border), in the
channel of its class. Loss: mean squared error (as published; with ``class_weight_power`` > 0
the errors on each class's particle voxels are weighted by that class's weight). Sampling:
class-balanced patches, classes drawn with probability ∝ (median particle volume) ^
``-sampling_size_power`` (the paper's weighted sampling favouring small particles).

Picking (``class_assignment``): ``per_class`` (published): each channel thresholded at
``threshold``, 26-connected components of at least ``min_size_voxels`` voxels, centre of mass
weighted by the heatmap; a detection within the class radius of a larger detection of another
class is dropped. ``argmax``: components of the largest heat over the channels, each labelled
with the channel of the largest summed heat inside it (a CPU recipe: the briefly trained
network's heat of the rarer classes often stays below any threshold that the common classes
need, although it is still the largest channel on their particles).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from tomobench.classes import CLASS_ID
from tomobench.methods.learning.data import ClassTable, TomogramData
from tomobench.methods.learning.deepfinder import FALLBACK_RADIUS_VOXELS, excluded_ids
from tomobench.methods.learning.networks import _check_widths, _norm
from tomobench.methods.learning.postprocess import (
    COMPONENT_COLUMNS,
    _structure,
    merge_across_classes,
)
from tomobench.methods.learning.registry import LearningKind, register
from tomobench.methods.learning.urfinder import ResidualBlock

TRAINING_DEFAULTS = {
    "widths": [8, 16, 32],        # channels of the encoder's main layers (published: 3 layers)
    "residual_blocks": 1,         # residual blocks per encoder layer (published 20)
    "aspp_rates": [1, 2, 4],      # dilations of the bridge's atrous convolutions
    "norm": "batch",
    "patch_voxels": 40,           # published 96
    "steps": 800,
    "learning_rate": 1.0e-3,
    "lr_schedule": "cosine",
    "sampling_size_power": 0.5,   # class drawn ∝ median volume^-power (0 = uniform)
}

INFERENCE_DEFAULTS = {
    "threshold": 0.4,             # heatmap level of the connected components
    "min_size_voxels": 5,         # smaller components (spurious detections) are removed
    "connectivity": 26,
    "merge_classes": True,        # one detection per particle across the class channels
    "class_assignment": "per_class",  # per_class (published) | argmax (see the module doc)
}

CLASS_ASSIGNMENTS = ("per_class", "argmax")

#: Post-processing tried on the validation tomograms (tune_postprocessing).
TUNING_GRID = {
    "threshold": [0.2, 0.3, 0.4, 0.5, 0.6],
    "min_size_voxels": [1, 5, 20],
    "class_assignment": list(CLASS_ASSIGNMENTS),
}


class ConvLSTMCell2d(nn.Module):
    """Convolutional LSTM cell (Shi et al. 2015) on one slice ``(batch, C, 1, y, x)``.

    The 3×3 gate convolution is a 1×3×3 ``Conv3d`` so that every weight is 5-D (the networks
    run in the channels-last 3-D memory format).
    """

    def __init__(self, in_channels: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv3d(in_channels + hidden, 4 * hidden, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = torch.chunk(self.gates(torch.cat([x, h], dim=1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class SliceConvLSTM(nn.Module):
    """Bidirectional ConvLSTM over the z slices of ``(batch, C, z, y, x)``.

    Output ``(batch, hidden, z, y, x)``: the forward and backward passes (``hidden // 2``
    channels each) concatenated, followed by normalisation.
    """

    def __init__(self, in_channels: int, hidden: int, norm: str = "batch"):
        super().__init__()
        if hidden % 2:
            raise ValueError(f"ConvLSTM width must be even, got {hidden}")
        self.forward_cell = ConvLSTMCell2d(in_channels, hidden // 2)
        self.backward_cell = ConvLSTMCell2d(in_channels, hidden // 2)
        self.norm = _norm(norm, hidden)

    @staticmethod
    def _run(cell: ConvLSTMCell2d, slices: list[torch.Tensor]) -> list[torch.Tensor]:
        batch, _, _, height, width = slices[0].shape
        h = slices[0].new_zeros(batch, cell.hidden, 1, height, width)
        state = (h, h)
        outputs = []
        for item in slices:
            state = cell(item, state)
            outputs.append(state[0])
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slices = list(x.split(1, dim=2))
        forward = self._run(self.forward_cell, slices)
        backward = self._run(self.backward_cell, slices[::-1])[::-1]
        out = torch.cat([torch.cat(forward, dim=2), torch.cat(backward, dim=2)], dim=1)
        return self.norm(out)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (Chen et al. 2017) in 3D."""

    def __init__(self, channels: int, rates: list[int], norm: str = "batch"):
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv3d(channels, channels, 1), nn.ReLU(inplace=True))]
            + [nn.Sequential(nn.Conv3d(channels, channels, 3, padding=int(r), dilation=int(r)),
                             nn.ReLU(inplace=True)) for r in rates])
        self.pooled = nn.Conv3d(channels, channels, 1)
        self.project = nn.Sequential(
            nn.Conv3d(channels * (len(rates) + 2), channels, 1), nn.ReLU(inplace=True),
            _norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [branch(x) for branch in self.branches]
        pooled = torch.relu(self.pooled(x.mean(dim=(2, 3, 4), keepdim=True)))
        parts.append(pooled.expand_as(x))
        return self.project(torch.cat(parts, dim=1))


class UCLSTMNetwork(nn.Module):
    """Residual encoder → ASPP → ConvLSTM decoder → ``heatmap`` ``(batch, n_maps, z, y, x)``."""

    def __init__(self, n_maps: int, widths: list[int], residual_blocks: int,
                 aspp_rates: list[int], norm: str = "batch"):
        super().__init__()
        widths = _check_widths(widths)
        self.stems = nn.ModuleList()
        self.encoder = nn.ModuleList()
        previous = 1
        for width in widths:
            self.stems.append(nn.Sequential(nn.Conv3d(previous, width, 3, padding=1),
                                            _norm(norm, width), nn.ReLU(inplace=True)))
            self.encoder.append(nn.Sequential(*(ResidualBlock(width, norm)
                                                for _ in range(residual_blocks))))
            previous = width
        self.bridge = ASPP(widths[-1], list(aspp_rates), norm)
        self.ups = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in range(len(widths) - 2, -1, -1):
            self.ups.append(nn.ConvTranspose3d(widths[level + 1], widths[level], 2, stride=2))
            self.decoder.append(SliceConvLSTM(2 * widths[level], widths[level], norm))
        self.head = nn.Conv3d(widths[0], n_maps, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        skips = []
        for level, (stem, blocks) in enumerate(zip(self.stems, self.encoder, strict=True)):
            x = blocks(stem(F.max_pool3d(x, 2) if level else x))
            skips.append(x)
        x = self.bridge(x)
        for index, (up, block) in enumerate(zip(self.ups, self.decoder, strict=True)):
            x = block(torch.cat([up(x), skips[-2 - index]], dim=1))
        return {"heatmap": self.head(x)}


def _build(params: dict, n_classes: int) -> UCLSTMNetwork:
    return UCLSTMNetwork(n_classes - 1, list(params["widths"]), int(params["residual_blocks"]),
                         list(params["aspp_rates"]), params["norm"])


def _alignment(params: dict) -> int:
    return 2 ** (len(params["widths"]) - 1)


def distance_heatmaps(occupancy: np.ndarray, particle_class_ids: np.ndarray,
                      class_ids: tuple[int, ...]) -> np.ndarray:
    """Per-class normalised distance-transform heatmaps.

    Parameters
    ----------
    occupancy : int ``(z, y, x)`` particle ids (id k + 1 = particle k)
    particle_class_ids : ``(n_particles,)`` SHREC class id of each particle
    class_ids : the table's class ids (background first); channel ``c`` of the result is
        class ``class_ids[c + 1]``

    Returns
    -------
    float32 ``(len(class_ids) - 1, z, y, x)``: in each particle's region, its distance to the
    region's outside divided by the region's maximum distance; 0 elsewhere.
    """
    channel_of = {class_id: index for index, class_id in enumerate(class_ids[1:])}
    heat = np.zeros((len(class_ids) - 1, *occupancy.shape), dtype=np.float32)
    for index, box in enumerate(ndimage.find_objects(occupancy)):
        if box is None or int(particle_class_ids[index]) not in channel_of:
            continue
        padded = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in box)
        inside = occupancy[padded] == index + 1
        distance = ndimage.distance_transform_edt(inside)
        channel = heat[channel_of[int(particle_class_ids[index])]][padded]
        channel[inside] = (distance[inside] / distance.max()).astype(np.float32)
    return heat


def _targets(tomogram: TomogramData, table: ClassTable, params: dict) -> dict[str, np.ndarray]:
    ids = tomogram.particles.class_name.map(CLASS_ID).to_numpy()
    return {"heatmap": distance_heatmaps(tomogram.occupancy, ids, table.class_ids)}


def heatmap_mse(prediction: torch.Tensor, target: torch.Tensor,
                class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over ``(batch, C, z, y, x)``; with ``class_weights`` (``(C + 1,)``,
    background first) the errors where channel ``c``'s target is positive are weighted by
    ``class_weights[c + 1]`` (weighted mean). (Weighting every channel's error at a particle
    voxel by the particle's class instead left the CPU-sized network at the weighted mean
    heat: it learned nothing in 1500 steps.)"""
    error = (prediction.float() - target) ** 2
    if class_weights is None:
        return error.mean()
    weight = torch.where(target > 0, class_weights[1:].view(1, -1, 1, 1, 1),
                         torch.ones_like(target))
    return (weight * error).sum() / weight.sum()


def _loss(outputs, batch, params, class_weights=None):
    mse = heatmap_mse(outputs["heatmap"], batch["heatmap"], class_weights)
    return mse, {"mse": float(mse.detach())}


def _postprocess(maps, table: ClassTable, stats: dict, params: dict) -> pd.DataFrame:
    """Detections ``COMPONENT_COLUMNS`` (binned voxels) from ``maps["heatmap"]``, shape
    ``(classes without background, z, y, x)``, best score first."""
    assignment = params["class_assignment"]
    if assignment not in CLASS_ASSIGNMENTS:
        raise ValueError(f"inference.class_assignment must be one of {CLASS_ASSIGNMENTS}, "
                         f"got {assignment!r}")
    if assignment == "argmax":
        frame = _argmax_components(maps["heatmap"], table, params)
    else:
        frame = _per_class_components(maps["heatmap"], table, stats, params)
    frame = frame.sort_values("score", ascending=False, kind="stable")
    return frame[COMPONENT_COLUMNS].reset_index(drop=True)


def _per_class_components(heatmaps: np.ndarray, table: ClassTable, stats: dict, params: dict
                          ) -> pd.DataFrame:
    excluded = excluded_ids(params["exclude_classes"])
    structure = _structure(int(params["connectivity"]))
    threshold = float(params["threshold"])
    rows = []
    for channel, class_id in enumerate(table.class_ids[1:]):
        if class_id in excluded:
            continue
        heat = heatmaps[channel]
        components, count = ndimage.label(heat >= threshold, structure=structure)
        if count == 0:
            continue
        index = np.arange(1, count + 1)
        sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
        centres = ndimage.center_of_mass(heat, components, index)
        peaks = ndimage.maximum(heat, components, index)
        radius = stats.get(table.names[channel + 1], {}).get("radius_voxels",
                                                            FALLBACK_RADIUS_VOXELS)
        for size, centre, peak in zip(sizes, centres, peaks, strict=True):
            if size >= int(params["min_size_voxels"]):
                rows.append((class_id, *centre, size, float(peak), radius))
    frame = pd.DataFrame(rows, columns=[*COMPONENT_COLUMNS, "bandwidth"])
    if params["merge_classes"] and len(frame):
        frame = merge_across_classes(frame)
    return frame


def _argmax_components(heatmaps: np.ndarray, table: ClassTable, params: dict) -> pd.DataFrame:
    """Components of ``max over channels >= threshold``; class = channel of the largest summed
    heat in the component (components of an excluded class, e.g. vesicles, are dropped)."""
    heat = heatmaps.max(axis=0)
    components, count = ndimage.label(heat >= float(params["threshold"]),
                                      structure=_structure(int(params["connectivity"])))
    if count == 0:
        return pd.DataFrame(columns=COMPONENT_COLUMNS)
    index = np.arange(1, count + 1)
    sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
    sums = np.stack([ndimage.sum(channel, components, index) for channel in heatmaps])
    class_ids = np.asarray(table.class_ids[1:])[np.argmax(sums, axis=0)]
    centres = np.asarray(ndimage.center_of_mass(heat, components, index)).reshape(-1, 3)
    peaks = ndimage.maximum(heat, components, index)
    frame = pd.DataFrame({"class_id": class_ids, "z": centres[:, 0], "y": centres[:, 1],
                          "x": centres[:, 2], "size": sizes, "score": np.asarray(peaks, float)})
    keep = (sizes >= int(params["min_size_voxels"])) & ~np.isin(
        class_ids, list(excluded_ids(params["exclude_classes"])))
    return frame[keep]


U_CLSTM = register(LearningKind(
    name="u_clstm",
    build_network=_build,
    alignment=_alignment,
    make_targets=_targets,
    loss=_loss,
    heads={"heatmap": ("identity", "none")},
    postprocess=_postprocess,
    training_defaults=TRAINING_DEFAULTS,
    inference_defaults=INFERENCE_DEFAULTS,
    tuning_grid=TUNING_GRID,
))
