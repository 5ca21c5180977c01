"""Multi-Cascade DS Net (SHREC 2021 §3.4): joint denoising and segmentation U-Net.

Network: one 3D U-Net encoder (published depth 5, 16-256 filters, batch normalisation) and two
decoders: the denoising pathway (encoder skips) regresses the grand model (RMSE loss); the
segmentation pathway receives skips from the encoder *and* the denoising decoder and predicts
the class mask (Tversky loss, alpha 0.7, beta 0.3). The summed loss is minimised with Adam
(lr 1e-3) under cosine annealing. Picking: 26-connected components of the non-background,
non-excluded voxels, components under 5 voxels removed, majority label per component, centre
of mass as position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tomobench.methods.learning.data import ClassTable, TomogramData
from tomobench.methods.learning.deepfinder import excluded_ids, label_volume
from tomobench.methods.learning.losses import cross_entropy_loss, rmse_loss, tversky_loss
from tomobench.methods.learning.networks import DenoiseSegmentUNet
from tomobench.methods.learning.postprocess import connected_components
from tomobench.methods.learning.registry import LearningKind, register

TRAINING_DEFAULTS = {
    "widths": [8, 16, 32, 64],    # channels per level (published 16, 32, 64, 128, 256)
    "convs": 2,
    "bottleneck_convs": 2,
    "norm": "batch",
    "patch_voxels": 32,
    "steps": 800,
    "learning_rate": 1.0e-3,
    "lr_schedule": "cosine",
    "tversky_alpha": 0.7,
    "tversky_beta": 0.3,
    "denoise_weight": 1.0,        # weight of the RMSE term in the summed loss
    "cross_entropy_weight": 0.0,  # extra (class-weighted) cross-entropy term (0 = as published)
}

INFERENCE_DEFAULTS = {
    "min_size_voxels": 5,         # components smaller than this are removed
    "connectivity": 26,           # 6 | 18 | 26
}


#: Post-processing tried on the validation tomograms after training (tune_postprocessing):
#: the voxels' probability floor and the component-size filter.
TUNING_GRID = {
    "min_probability": [0.0, 0.4, 0.6],
    "min_size_voxels": [2, 5, 12, 25, 50, 100],
}


def _build(params: dict, n_classes: int) -> DenoiseSegmentUNet:
    return DenoiseSegmentUNet(n_classes, list(params["widths"]), convs=int(params["convs"]),
                              bottleneck_convs=int(params["bottleneck_convs"]),
                              norm=params["norm"])


def _alignment(params: dict) -> int:
    return 2 ** (len(params["widths"]) - 1)


def _targets(tomogram: TomogramData, table: ClassTable, params: dict) -> dict[str, np.ndarray]:
    return {"segmentation": table.channel_map(tomogram.class_mask),
            "denoised": tomogram.grandmodel[None]}


def _loss(outputs, batch, params, class_weights=None):
    tversky = tversky_loss(outputs["segmentation"], batch["segmentation"],
                           float(params["tversky_alpha"]), float(params["tversky_beta"]))
    rmse = rmse_loss(outputs["denoised"], batch["denoised"])
    total = tversky + float(params["denoise_weight"]) * rmse
    terms = {"tversky": float(tversky.detach()), "rmse": float(rmse.detach())}
    weight = float(params["cross_entropy_weight"])
    if weight > 0:
        ce = cross_entropy_loss(outputs["segmentation"], batch["segmentation"], class_weights)
        terms["cross_entropy"] = float(ce.detach())
        total = total + weight * ce
    return total, terms


def _postprocess(maps, table: ClassTable, stats: dict, params: dict) -> pd.DataFrame:
    exclude = tuple(sorted(excluded_ids(params["exclude_classes"])))
    labels = label_volume(maps, table, float(params["min_probability"]))
    return connected_components(labels, min_size=int(params["min_size_voxels"]),
                                connectivity=int(params["connectivity"]), exclude=exclude,
                                scores=maps["segmentation_max"])


MC_DS_NET = register(LearningKind(
    name="mc_ds_net",
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
