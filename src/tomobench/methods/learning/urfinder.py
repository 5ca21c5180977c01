"""URFinder (SHREC 2021 §3.1): a 3D UNet3+ segmentation combined with two 3D ResNet detectors.

Networks (one module, three independent parameter sets trained under one summed loss; with
Adam the sum of independent losses is the same as training each network on its own):

* **3D UNet3+** (Huang et al. 2020) with 2 down- and 2 up-samplings: every decoder level fuses
  *all* encoder levels (max-pooled down or upsampled to its scale) and the coarser decoder
  levels ("full-scale skip connections"), each mapped to ``cat_channels`` by a 3×3×3
  convolution. Deep supervision: a 3×3×3 head on the bottleneck and on each decoder level,
  upsampled to full size, each with a binary cross entropy per class channel; the loss is their
  sum. Its sigmoid maps (the full-size head) give the segmentation.
* **3D ResNet protein classifier**: the paper classifies a 32³ box at every 2nd voxel and assigns
  the class to the box centre. A box classifier slid over the volume is a convolutional network
  applied densely, so it is implemented fully convolutionally: a stride-2 stem (the scan
  stride 2), ``resnet_blocks`` residual blocks (receptive field ``3 + 8 * blocks`` voxels, 35
  for 4 blocks ≈ the 32³ box), a 1×1×1 class head, upsampled back to full size. Trained with
  (class-weighted) cross entropy on the class of the voxel at each box centre.
* **3D ResNet gold-fiducial detector**: the same with ``fiducial_blocks`` blocks and one output
  (BCE, positive weight = the fiducial class weight).

Picking (paper): components of the UNet3+ labels (at least ``min_size_voxels``, published 64)
and of the ResNet labels (at least ``classifier_min_size_voxels``, published 64); components of
the fiducial map (probability ≥ ``fiducial_threshold``) of at least
``fiducial_min_size_voxels`` (27) and at most ``fiducial_max_extent_voxels`` (40) along every
axis. Overlapping or touching detections of the sources are merged (26-connected components of
their union; the label is the majority label, the UNet3+ label winning where both cover a voxel)
and the component centres are the positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from tomobench.classes import CLASS_ID
from tomobench.methods.learning.data import ClassTable, TomogramData
from tomobench.methods.learning.deepfinder import excluded_ids, label_volume
from tomobench.methods.learning.losses import cross_entropy_loss
from tomobench.methods.learning.networks import ConvBlock, _check_widths, _norm
from tomobench.methods.learning.postprocess import component_filter, connected_components
from tomobench.methods.learning.registry import LearningKind, register

TRAINING_DEFAULTS = {
    "widths": [8, 16, 32],        # UNet3+ encoder channels per level (published 64, 128, 256)
    "cat_channels": 4,            # channels of every full-scale skip (published 64)
    "norm": "batch",              # UNet3+ and ResNets use batch normalisation
    "resnet_width": 8,            # ResNet channels (published ResNet-20: 16, 32, 64)
    "resnet_blocks": 4,           # residual blocks of the protein classifier (published 9)
    "fiducial_blocks": 2,         # residual blocks of the fiducial detector
    "patch_voxels": 40,
    "steps": 800,
    "learning_rate": 1.0e-3,      # published 1e-4 (UNet3+) and 2e-3 (ResNets)
    "lr_schedule": "cosine",      # published: cosine decay to 1e-5
    "min_learning_rate": 1.0e-5,
    "deep_supervision": True,     # BCE on every decoder output (False: the full-size one only)
    "classifier_weight": 1.0,     # weight of the ResNet classifier's cross entropy in the sum
    "fiducial_weight": 1.0,       # weight of the fiducial detector's BCE in the sum
    "fiducial_positive_weight": 10.0,  # BCE weight of bead voxels (rare) against the others
}

INFERENCE_DEFAULTS = {
    "min_size_voxels": 64,              # UNet3+ components smaller than this are removed
    "use_classifier": True,             # combine the ResNet classifier's detections
    "classifier_min_size_voxels": 64,   # ResNet components smaller than this are removed
    "fiducial_threshold": 0.5,          # fiducial detector probability
    "fiducial_min_size_voxels": 27,
    "fiducial_max_extent_voxels": 40,   # larger bounding boxes (any axis) are not beads
    "connectivity": 26,
}

#: Post-processing tried on the validation tomograms (tune_postprocessing): the probability
#: floor and the two component-size filters (the published 64 voxels are at 1 nm voxels).
TUNING_GRID = {
    "min_probability": [0.0, 0.5],
    "min_size_voxels": [8, 24, 64],
    "classifier_min_size_voxels": [8, 24, 64],
    "use_classifier": [True, False],
}


class ResidualBlock(nn.Module):
    """Basic 3D residual block: ``x + norm(conv(relu(norm(conv(x)))))``, then ReLU."""

    def __init__(self, channels: int, norm: str = "batch", dilation: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False),
            _norm(norm, channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False),
            _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class DenseResNet(nn.Module):
    """A box-centre ResNet classifier applied at every voxel (fully convolutional).

    Stride-2 stem, ``blocks`` residual blocks at half resolution, 1×1×1 head, nearest
    upsampling ×2: output ``(batch, outputs, z, y, x)`` for an input with even sizes.
    """

    def __init__(self, outputs: int, width: int, blocks: int, norm: str = "batch"):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(1, width, 3, stride=2, padding=1, bias=False),
                                  _norm(norm, width), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*(ResidualBlock(width, norm) for _ in range(blocks)))
        self.head = nn.Conv3d(width, outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.head(self.blocks(self.stem(x))), scale_factor=2,
                             mode="nearest")


class UNet3Plus(nn.Module):
    """3D UNet3+ with ``len(widths) - 1`` poolings, full-scale skips and deep supervision.

    Returns the logits of the full-size head and, in training mode with ``deep_supervision``,
    those of the coarser decoder levels and the bottleneck upsampled to full size
    (``deep_1``, ``deep_2``, ...).
    """

    def __init__(self, n_classes: int, widths: list[int], cat_channels: int, norm: str,
                 deep_supervision: bool = True):
        super().__init__()
        widths = _check_widths(widths)
        self.levels = len(widths)
        self.deep_supervision = deep_supervision
        self.encoder = nn.ModuleList(ConvBlock(1 if i == 0 else widths[i - 1], w, 2, norm)
                                     for i, w in enumerate(widths))
        fused = cat_channels * self.levels
        # skips[d][s]: maps source s (encoder level s for s <= d, else decoder level s, the
        # bottleneck being the deepest "decoder" level) to decoder level d.
        self.skips = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for level in range(self.levels - 1):
            sources = []
            for source in range(self.levels):
                channels = widths[source] if source <= level or source == self.levels - 1 \
                    else fused
                sources.append(ConvBlock(channels, cat_channels, 1, norm))
            self.skips.append(nn.ModuleList(sources))
            self.fuse.append(ConvBlock(fused, fused, 1, norm))
        self.heads = nn.ModuleList(
            nn.Conv3d(fused if level < self.levels - 1 else widths[-1], n_classes, 3, padding=1)
            for level in range(self.levels))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        encoded = []
        for level, block in enumerate(self.encoder):
            x = block(F.max_pool3d(x, 2) if level else x)
            encoded.append(x)
        decoded = {self.levels - 1: encoded[-1]}
        for level in range(self.levels - 2, -1, -1):
            size = encoded[level].shape[2:]
            parts = []
            for source, skip in enumerate(self.skips[level]):
                feature = encoded[source] if source <= level else decoded[source]
                if source < level:
                    feature = F.max_pool3d(feature, 2 ** (level - source))
                elif source > level:
                    feature = F.interpolate(feature, size=size, mode="trilinear",
                                            align_corners=False)
                parts.append(skip(feature))
            decoded[level] = self.fuse[level](torch.cat(parts, dim=1))
        full = encoded[0].shape[2:]
        outputs = {"segmentation": self.heads[0](decoded[0])}
        if self.training and self.deep_supervision:
            for level in range(1, self.levels):
                outputs[f"deep_{level}"] = F.interpolate(
                    self.heads[level](decoded[level]), size=full, mode="trilinear",
                    align_corners=False)
        return outputs


class URFinderNetwork(nn.Module):
    """UNet3+ (``segmentation`` and ``deep_*`` logits), dense ResNet classifier
    (``classification``) and dense ResNet fiducial detector (``fiducial``, one logit)."""

    def __init__(self, n_classes: int, params: dict):
        super().__init__()
        norm = params["norm"]
        self.unet = UNet3Plus(n_classes, list(params["widths"]), int(params["cat_channels"]),
                              norm, bool(params["deep_supervision"]))
        self.classifier = DenseResNet(n_classes, int(params["resnet_width"]),
                                      int(params["resnet_blocks"]), norm)
        self.fiducial = DenseResNet(1, int(params["resnet_width"]),
                                    int(params["fiducial_blocks"]), norm)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {**self.unet(x), "classification": self.classifier(x),
                "fiducial": self.fiducial(x)}


def _build(params: dict, n_classes: int) -> URFinderNetwork:
    return URFinderNetwork(n_classes, params)


def _alignment(params: dict) -> int:
    return 2 ** (len(params["widths"]) - 1)


def _targets(tomogram: TomogramData, table: ClassTable, params: dict) -> dict[str, np.ndarray]:
    fiducial = (tomogram.class_mask == CLASS_ID["fiducial"]).astype(np.float32)[None]
    return {"segmentation": table.channel_map(tomogram.class_mask), "fiducial": fiducial}


def multilabel_bce(logits: torch.Tensor, target: torch.Tensor,
                   class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross entropy of every class channel against the one-hot ``target``.

    ``logits`` ``(batch, C, z, y, x)``, ``target`` ``(batch, z, y, x)`` channel indices; the
    positive term of channel ``c`` is weighted by ``class_weights[c]``; mean over elements.
    """
    one_hot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(torch.float32)
    pos_weight = None if class_weights is None else class_weights.view(1, -1, 1, 1, 1)
    return F.binary_cross_entropy_with_logits(logits.float(), one_hot, pos_weight=pos_weight)


def _loss(outputs, batch, params, class_weights=None):
    target = batch["segmentation"]
    heads = ["segmentation", *sorted(k for k in outputs if k.startswith("deep_"))]
    terms = {head: multilabel_bce(outputs[head], target, class_weights) for head in heads}
    terms["classifier"] = float(params["classifier_weight"]) * cross_entropy_loss(
        outputs["classification"], target, class_weights)
    positive = torch.tensor(float(params["fiducial_positive_weight"]),
                            device=target.device).reshape(1, 1, 1, 1)
    terms["fiducial"] = float(params["fiducial_weight"]) * F.binary_cross_entropy_with_logits(
        outputs["fiducial"].float(), batch["fiducial"], pos_weight=positive)
    total = sum(terms.values())
    return total, {name: float(value.detach()) for name, value in terms.items()}


def _postprocess(maps, table: ClassTable, stats: dict, params: dict) -> pd.DataFrame:
    excluded = tuple(sorted(excluded_ids(params["exclude_classes"])))
    connectivity = int(params["connectivity"])
    minimum = float(params["min_probability"])
    segmentation = label_volume(maps, table, minimum)
    unet = component_filter(~np.isin(segmentation, excluded), int(params["min_size_voxels"]),
                            connectivity=connectivity)
    combined = np.zeros(segmentation.shape, dtype=np.uint8)
    scores = maps["segmentation_max"].copy()
    if params["use_classifier"]:
        classified = label_volume({"segmentation_label": maps["classification_label"],
                                   "segmentation_max": maps["classification_max"]},
                                  table, minimum)
        resnet = component_filter(~np.isin(classified, excluded),
                                  int(params["classifier_min_size_voxels"]),
                                  connectivity=connectivity)
        combined[resnet] = classified[resnet]
        scores = np.where(unet, scores, maps["classification_max"])
    combined[unet] = segmentation[unet]
    fiducial_probability = maps["fiducial"][0]
    if CLASS_ID["fiducial"] not in excluded:
        beads = component_filter(fiducial_probability >= float(params["fiducial_threshold"]),
                                 int(params["fiducial_min_size_voxels"]),
                                 max_extent=int(params["fiducial_max_extent_voxels"]),
                                 connectivity=connectivity)
        combined[beads] = CLASS_ID["fiducial"]
        scores = np.where(beads, fiducial_probability, scores)
    return connected_components(combined, min_size=1, connectivity=connectivity,
                                exclude=excluded, scores=scores)


URFINDER = register(LearningKind(
    name="urfinder",
    build_network=_build,
    alignment=_alignment,
    make_targets=_targets,
    loss=_loss,
    heads={"segmentation": ("sigmoid", "argmax"), "classification": ("softmax", "argmax"),
           "fiducial": ("sigmoid", "none")},
    postprocess=_postprocess,
    training_defaults=TRAINING_DEFAULTS,
    inference_defaults=INFERENCE_DEFAULTS,
    tuning_grid=TUNING_GRID,
))
