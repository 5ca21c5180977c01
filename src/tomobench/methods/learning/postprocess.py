"""From network output maps to particle positions: the shared post-processing library.

* ``connected_components``: 26-connected components of a label map, size filter, majority
  label, centre of mass (MC DS Net; URFinder/U-CLSTM style).
* ``mean_shift`` / ``mean_shift_clusters``: flat-kernel mean-shift clustering of labelled
  voxels with a per-class bandwidth and per-class size filter (DeepFinder).
* ``component_filter``: the voxels of the components within size bounds (URFinder).
* ``maxpool_nms``: local maxima of a score map above a threshold (heatmap pickers).

Volumes are ``(z, y, x)``; positions are returned as DataFrames with ``z, y, x`` in voxels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from tomobench.classes import SHREC_CLASS_NAMES

COMPONENT_COLUMNS = ["class_id", "z", "y", "x", "size", "score"]


def _structure(connectivity: int) -> np.ndarray:
    ranks = {6: 1, 18: 2, 26: 3}
    if connectivity not in ranks:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity}")
    return ndimage.generate_binary_structure(3, ranks[connectivity])


def connected_components(labels: np.ndarray, min_size: int = 1, connectivity: int = 26,
                         exclude: tuple[int, ...] = (0,), scores: np.ndarray | None = None
                         ) -> pd.DataFrame:
    """Components of the voxels whose label is not in ``exclude``, whatever their label.

    Each component gets its most frequent label (ties: the smaller id), its centre of mass
    (unweighted) and its size; components smaller than ``min_size`` voxels are dropped.

    Parameters
    ----------
    labels : int array ``(z, y, x)`` (e.g. SHREC class ids)
    scores : optional float array ``(z, y, x)``; ``score`` = its mean over the component,
        else the size.

    Returns
    -------
    DataFrame with ``COMPONENT_COLUMNS`` sorted by decreasing score.
    """
    labels = np.asarray(labels)
    foreground = ~np.isin(labels, exclude)
    components, count = ndimage.label(foreground, structure=_structure(connectivity))
    if count == 0:
        return pd.DataFrame(columns=COMPONENT_COLUMNS)
    flat = components.ravel()
    keep = flat > 0
    ids = flat[keep]
    sizes = np.bincount(ids, minlength=count + 1).astype(np.float64)
    label_values = labels.ravel()[keep].astype(np.int64)
    n_labels = int(label_values.max()) + 1
    votes = np.bincount(ids * n_labels + label_values, minlength=(count + 1) * n_labels)
    majority = votes.reshape(count + 1, n_labels).argmax(axis=1)
    coordinates = np.unravel_index(np.flatnonzero(keep), labels.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = [np.bincount(ids, weights=c, minlength=count + 1) / sizes for c in coordinates]
        if scores is not None:
            score = np.bincount(ids, weights=np.asarray(scores).ravel()[keep],
                                minlength=count + 1) / sizes
        else:
            score = sizes
    frame = pd.DataFrame({"class_id": majority, "z": centres[0], "y": centres[1],
                          "x": centres[2], "size": sizes, "score": score}).iloc[1:]
    frame = frame[frame["size"] >= min_size]
    return frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def component_filter(mask: np.ndarray, min_size: int = 1, max_extent: int | None = None,
                     connectivity: int = 26) -> np.ndarray:
    """The voxels of ``mask`` in components of at least ``min_size`` voxels and (when
    ``max_extent`` is given) a bounding box of at most ``max_extent`` voxels along every axis.

    Parameters
    ----------
    mask : bool ``(z, y, x)``

    Returns
    -------
    bool ``(z, y, x)``
    """
    components, count = ndimage.label(mask, structure=_structure(connectivity))
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    keep = np.bincount(components.ravel(), minlength=count + 1) >= min_size
    if max_extent is not None:
        for index, box in enumerate(ndimage.find_objects(components), start=1):
            if box is not None and max(s.stop - s.start for s in box) > max_extent:
                keep[index] = False
    keep[0] = False
    return keep[components]


def mean_shift(points: np.ndarray, bandwidth: float, max_iterations: int = 50,
               min_bin_frequency: int = 1, cell_fraction: float = 0.25
               ) -> tuple[np.ndarray, np.ndarray]:
    """Flat-kernel mean-shift clustering with bin seeding.

    Seeds are the centres of a grid of cell ``bandwidth`` holding at least
    ``min_bin_frequency`` points; each seed moves to the mean of the points within
    ``bandwidth`` until it moves less than ``1e-3 * bandwidth``. Converged modes closer than
    ``bandwidth`` to a mode with more support are merged, and each point joins its nearest
    mode. For speed the means are taken over the points pooled in cells of
    ``cell_fraction * bandwidth`` (each cell = its centroid weighted by its count; exact for
    cells of one voxel), which moves modes by a small fraction of the bandwidth at most.

    Parameters
    ----------
    points : ``(N, 3)`` float coordinates

    Returns
    -------
    modes : ``(M, 3)``; labels : ``(N,)`` int index into ``modes``
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    cell = max(1.0, cell_fraction * bandwidth)
    _, owner, weights = np.unique(np.floor(points / cell), axis=0, return_inverse=True,
                                  return_counts=True)
    owner = owner.ravel()
    pooled = np.stack([np.bincount(owner, weights=points[:, a]) for a in range(3)], axis=1)
    pooled /= weights[:, None]
    tree = cKDTree(pooled)
    bins, counts = np.unique(np.round(points / bandwidth), axis=0, return_counts=True)
    seeds = bins[counts >= min_bin_frequency] * bandwidth
    if len(seeds) == 0:
        seeds = points.copy()
    seeds, support = _shift_seeds(tree, pooled, weights, seeds, bandwidth, max_iterations)
    # A flat kernel has stationary saddles midway between touching particles: nudge every
    # mode off-centre (deterministically) and shift again; true modes come back, saddles fall.
    nudge = np.array([0.6, 0.48, 0.36]) * bandwidth * 0.25
    signs = np.where(np.arange(len(seeds)) % 2 == 0, 1.0, -1.0)[:, None]
    seeds, support = _shift_seeds(tree, pooled, weights, seeds + signs * nudge, bandwidth,
                                  max_iterations)
    order = np.argsort(-support, kind="stable")
    order = order[support[order] > 0]
    kept: list[int] = []
    for index in order:
        if not kept or np.min(np.linalg.norm(seeds[kept] - seeds[index], axis=1)) >= bandwidth:
            kept.append(int(index))
    if not kept:
        return np.zeros((0, 3)), np.full(len(points), -1, dtype=np.int64)
    modes = seeds[kept]
    _, labels = cKDTree(modes).query(points)
    return modes, labels.astype(np.int64)


def _shift_seeds(tree: cKDTree, points: np.ndarray, weights: np.ndarray, seeds: np.ndarray,
                 bandwidth: float, max_iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Move each seed to the weighted mean of the points within ``bandwidth`` until converged.

    Returns the seeds and their support (summed weight within ``bandwidth``).
    """
    seeds = seeds.copy()
    support = np.zeros(len(seeds), dtype=np.int64)
    active = np.arange(len(seeds))
    for _ in range(max_iterations):
        if len(active) == 0:
            break
        neighbours = tree.query_ball_point(seeds[active], bandwidth)
        still = []
        for seed_index, members in zip(active, neighbours, strict=True):
            if not members:
                support[seed_index] = 0
                continue
            member_weights = weights[members]
            support[seed_index] = member_weights.sum()
            new = member_weights @ points[members] / support[seed_index]
            if np.linalg.norm(new - seeds[seed_index]) >= 1e-3 * bandwidth:
                still.append(seed_index)
            seeds[seed_index] = new
        active = np.array(still, dtype=np.int64)
    return seeds, support


def mean_shift_clusters(labels: np.ndarray, bandwidths: dict[int, float],
                        min_sizes: dict[int, float], scores: np.ndarray | None = None,
                        merge: bool = True) -> pd.DataFrame:
    """Cluster the voxels of each class separately with that class's bandwidth.

    A cluster's position is the centroid of its voxels, its score the mean of ``scores``
    (or its size). Clusters smaller than ``min_sizes[class]`` voxels are dropped. With
    ``merge``, a cluster whose centre lies within the bandwidth of a larger cluster of another
    class is dropped too (one pick per particle when its voxels got mixed labels).

    Parameters
    ----------
    labels : int ``(z, y, x)`` class ids; only ids in ``bandwidths`` are clustered.

    Returns
    -------
    DataFrame with ``COMPONENT_COLUMNS`` sorted by decreasing score.
    """
    rows = []
    for class_id, bandwidth in sorted(bandwidths.items()):
        coordinates = np.argwhere(labels == class_id)
        if len(coordinates) == 0:
            continue
        _, members = mean_shift(coordinates, bandwidth)
        sizes = np.bincount(members)
        centres = np.stack([np.bincount(members, weights=coordinates[:, a]) for a in range(3)],
                           axis=1) / np.maximum(sizes, 1)[:, None]
        if scores is not None:
            values = scores[tuple(coordinates.T)]
            score = np.bincount(members, weights=values) / np.maximum(sizes, 1)
        else:
            score = sizes.astype(np.float64)
        for index in np.flatnonzero(sizes >= max(1.0, min_sizes.get(class_id, 1.0))):
            rows.append((class_id, *centres[index], sizes[index], score[index], bandwidth))
    frame = pd.DataFrame(rows, columns=[*COMPONENT_COLUMNS, "bandwidth"])
    if merge and len(frame):
        frame = merge_across_classes(frame)
    frame = frame.sort_values("score", ascending=False, kind="stable")
    return frame[COMPONENT_COLUMNS].reset_index(drop=True)


def merge_across_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop each detection whose centre lies within the ``bandwidth`` (voxels) of a larger
    detection (``size``) of another class; ties go to the smaller class id."""
    frame = frame.sort_values(["size", "class_id"], ascending=[False, True], kind="stable")
    positions = frame[["z", "y", "x"]].to_numpy()
    radii = frame["bandwidth"].to_numpy()
    kept: list[int] = []
    for index in range(len(frame)):
        if kept:
            distances = np.linalg.norm(positions[kept] - positions[index], axis=1)
            if np.any(distances < radii[kept]):
                continue
        kept.append(index)
    return frame.iloc[kept]


def maxpool_nms(score: np.ndarray, radius_voxels: float, threshold: float,
                max_picks: int | None = None) -> pd.DataFrame:
    """Local maxima of ``score`` over a ``(2r+1)^3`` neighbourhood that reach ``threshold``.

    Plateaus yield one peak (their centre voxel nearest to the plateau centroid).

    Parameters
    ----------
    score : float ``(z, y, x)``

    Returns
    -------
    DataFrame ``z, y, x, score`` sorted by decreasing score (at most ``max_picks`` rows).
    """
    score = np.asarray(score, dtype=np.float32)
    size = 2 * int(np.ceil(radius_voxels)) + 1
    local_max = ndimage.maximum_filter(score, size=size, mode="nearest")
    peaks = (score == local_max) & (score >= threshold)
    groups, count = ndimage.label(peaks, structure=_structure(26))
    if count == 0:
        return pd.DataFrame(columns=["z", "y", "x", "score"])
    centroids = np.array(ndimage.center_of_mass(peaks, groups, np.arange(1, count + 1)))
    coordinates = np.argwhere(peaks)
    owners = groups[peaks]
    distances = np.sum((coordinates - centroids[owners - 1]) ** 2, axis=1)
    order = np.lexsort((distances, owners))
    first = order[np.r_[True, owners[order][1:] != owners[order][:-1]]]
    chosen = coordinates[first]
    frame = pd.DataFrame({"z": chosen[:, 0], "y": chosen[:, 1], "x": chosen[:, 2],
                          "score": score[tuple(chosen.T)].astype(np.float64)})
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return frame.head(max_picks) if max_picks else frame


def to_picks(frame: pd.DataFrame) -> pd.DataFrame:
    """Component/cluster table → picks (``class_name, x, y, z, score``) for ``write_picks``."""
    names = [SHREC_CLASS_NAMES[int(c)] for c in frame["class_id"]]
    return pd.DataFrame({"class_name": names, "x": frame["x"].astype(float),
                         "y": frame["y"].astype(float), "z": frame["z"].astype(float),
                         "score": frame["score"].astype(float)})
