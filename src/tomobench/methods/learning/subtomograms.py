"""Shared pieces of the subtomogram (box) classifiers YOPO and CFN.

Both train on cubic boxes drawn by the shared ``PatchSampler`` (box = training patch) and learn
the class of the particle nearest to the box centre, CFN also that particle's offset from the
centre. The target of a tomogram is a *centre-marker* volume (channel index at each particle
centre voxel, 0 elsewhere): it is cut and flipped with the input box by the sampler and the
augmentations, so the label and offset derived from it inside the loss stay right for every
flip (an offset volume would not: flips must also change the offsets' signs).

The centre of a box of edge ``B`` is the point ``(B - 1) / 2`` on each axis (symmetric under
flips); a particle within ``positive_radius_voxels`` of it labels the box, otherwise the box is
background.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from tomobench.classes import CLASS_ID
from tomobench.errors import InputError
from tomobench.methods.learning.data import ClassTable, TomogramData, particle_centres


def excluded_channels(table: ClassTable, names: list[str], key: str) -> set[int]:
    """Output channels of the classes ``names``; ``InputError`` naming ``key`` if unknown."""
    unknown = [n for n in names if n not in CLASS_ID]
    if unknown:
        raise InputError(f"{key}: unknown classes {unknown}")
    ids = {CLASS_ID[n] for n in names}
    return {channel for channel, class_id in enumerate(table.class_ids) if class_id in ids}


def centre_markers(tomogram: TomogramData, table: ClassTable, params: dict) -> np.ndarray:
    """uint8 ``(z, y, x)``: the output channel of each particle at its centre voxel, 0 elsewhere.

    Classes in ``params["exclude_classes"]`` (vesicle centres, as YOPO) get no marker: boxes
    around them are background.
    """
    skip = excluded_channels(table, list(params["exclude_classes"]),
                             "training.exclude_classes")
    markers = np.zeros(tomogram.shape, dtype=np.uint8)
    channels = {class_id: channel for channel, class_id in enumerate(table.class_ids)}
    centres = particle_centres(tomogram, table)
    for class_id, z, y, x in centres[["class_id", "z", "y", "x"]].to_numpy(dtype=np.int64):
        if channels[int(class_id)] not in skip:
            markers[z, y, x] = channels[int(class_id)]
    return markers


def box_targets(markers: torch.Tensor, radius_voxels: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels of boxes from their marker patches.

    Parameters
    ----------
    markers : integer ``(batch, B, B, B)`` centre-marker patches
    radius_voxels : a marker farther than this from the box centre does not label the box

    Returns
    -------
    labels : int64 ``(batch,)`` channel of the nearest marker within the radius (0 = none)
    offsets : float32 ``(batch, 3)`` that marker's ``(z, y, x)`` position minus the box centre
    positive : bool ``(batch,)`` whether a marker was within the radius
    """
    size = markers.shape[1:]
    grid = torch.stack(torch.meshgrid(*(torch.arange(s, dtype=torch.float32) for s in size),
                                      indexing="ij"), dim=-1).reshape(-1, 3)
    relative = grid.to(markers.device) - (torch.tensor(size, dtype=torch.float32,
                                                       device=markers.device) - 1) / 2
    distance = relative.norm(dim=1)
    flat = markers.reshape(markers.shape[0], -1).long()
    candidate = torch.where((flat > 0) & (distance <= radius_voxels), distance, torch.inf)
    nearest = candidate.argmin(dim=1)  # first of equals: deterministic
    positive = torch.isfinite(candidate.gather(1, nearest[:, None]))[:, 0]
    labels = torch.where(positive, flat.gather(1, nearest[:, None])[:, 0], 0)
    offsets = torch.where(positive[:, None], relative[nearest], 0.0)
    return labels, offsets, positive


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float,
               class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax focal loss (Lin et al. 2017) ``-w_y (1 - p_y)^gamma log p_y``, batch mean.

    ``logits`` ``(batch, C)``, ``labels`` int64 ``(batch,)``; ``gamma = 0`` is cross entropy.
    """
    log_p = F.log_softmax(logits.float(), dim=1).gather(1, labels[:, None])[:, 0]
    loss = -((1 - log_p.exp()) ** gamma) * log_p
    if class_weights is not None:
        loss = loss * class_weights[labels]
    return loss.mean()


def greedy_min_distance(frame: pd.DataFrame, distance_voxels: float) -> pd.DataFrame:
    """Keep rows (``z, y, x, score, ...``) best score first, dropping any row closer than
    ``distance_voxels`` to a kept one, or as close (YOPO: detections more than 14 apart)."""
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    if len(frame) == 0 or distance_voxels <= 0:
        return frame
    positions = frame[["z", "y", "x"]].to_numpy(dtype=np.float64)
    tree = cKDTree(positions)
    removed = np.zeros(len(frame), dtype=bool)
    kept = []
    for index in range(len(frame)):
        if removed[index]:
            continue
        kept.append(index)
        removed[tree.query_ball_point(positions[index], distance_voxels)] = True
    return frame.iloc[kept].reset_index(drop=True)
