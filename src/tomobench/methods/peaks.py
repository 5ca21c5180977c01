"""Peak extraction shared by the pickers: local maxima, greedy spherical suppression, sub-voxel
refinement, and distance-based de-duplication of particle lists.

Volumes are ``(z, y, x)``; peak coordinates are returned as ``(n, 3)`` arrays in the same order.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


def ball_offsets(radius: float) -> np.ndarray:
    """Integer offsets ``(m, 3)`` of the voxels within ``radius`` of the origin (inclusive)."""
    r = int(np.floor(radius))
    grid = np.indices((2 * r + 1,) * 3).reshape(3, -1).T - r
    return grid[(grid**2).sum(axis=1) <= radius**2 + 1e-9]


def local_maxima(volume: np.ndarray, threshold: float | None = None, border: int = 0,
                 mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Voxels not smaller than any of their 26 neighbours, sorted by decreasing value.

    Parameters
    ----------
    volume : ``(z, y, x)`` score map (NaN treated as -inf).
    threshold : keep only maxima ``>= threshold``.
    border : ignore maxima closer than ``border`` voxels to a face of the volume.
    mask : optional boolean ``(z, y, x)``; maxima outside it are ignored.

    Returns
    -------
    coords : int ``(n, 3)``; values : ``(n,)``. Ties are ordered by flat index (deterministic).
    """
    volume = np.nan_to_num(np.asarray(volume, dtype=np.float32), nan=-np.inf)
    neighbourhood_max = ndimage.maximum_filter(volume, size=3, mode="nearest")
    is_max = (volume >= neighbourhood_max) & np.isfinite(volume)
    if threshold is not None:
        is_max &= volume >= threshold
    if border > 0:
        interior = np.zeros_like(is_max)
        interior[tuple(slice(border, n - border) for n in volume.shape)] = True
        is_max &= interior
    if mask is not None:
        is_max &= mask.astype(bool)
    flat = np.flatnonzero(is_max)
    values = volume.ravel()[flat]
    order = np.lexsort((flat, -values))
    flat, values = flat[order], values[order]
    return np.column_stack(np.unravel_index(flat, volume.shape)), values


def greedy_peaks(volume: np.ndarray, exclusion_radius: float, max_peaks: int | None = None,
                 threshold: float | None = None, border: int = 0,
                 mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Greedy peak picking: take the best remaining local maximum, suppress a ball around it.

    Equivalent to iterated argmax with spherical zeroing (pytom-match-pick), restricted to local
    maxima. Returned peaks are at least ``exclusion_radius`` apart (strictly more than it).

    Returns
    -------
    coords : int ``(k, 3)`` ``(z, y, x)``; values : ``(k,)``, decreasing.
    """
    coords, values = local_maxima(volume, threshold=threshold, border=border, mask=mask)
    if max_peaks is not None and max_peaks <= 0:
        return coords[:0], values[:0]
    shape = np.array(volume.shape)
    suppressed = np.zeros(volume.shape, dtype=bool)
    offsets = ball_offsets(exclusion_radius)
    keep = []
    for k, point in enumerate(coords):
        if suppressed[tuple(point)]:
            continue
        keep.append(k)
        if max_peaks is not None and len(keep) >= max_peaks:
            break
        ball = point + offsets
        inside = np.all((ball >= 0) & (ball < shape), axis=1)
        ball = ball[inside]
        suppressed[ball[:, 0], ball[:, 1], ball[:, 2]] = True
    keep = np.asarray(keep, dtype=int)
    return coords[keep], values[keep]


def subvoxel_offsets(volume: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Sub-voxel peak offsets from a parabola through each peak and its two axis neighbours.

    Returns float ``(n, 3)`` offsets in ``[-0.5, 0.5]`` (zero on faces and flat neighbourhoods).
    """
    coords = np.asarray(coords, dtype=int).reshape(-1, 3)
    offsets = np.zeros(coords.shape, dtype=np.float64)
    for axis in range(3):
        step = np.zeros(3, dtype=int)
        step[axis] = 1
        lower, upper = coords - step, coords + step
        valid = (lower[:, axis] >= 0) & (upper[:, axis] < volume.shape[axis])
        if not valid.any():
            continue
        c = volume[tuple(coords[valid].T)].astype(np.float64)
        lo = volume[tuple(lower[valid].T)].astype(np.float64)
        hi = volume[tuple(upper[valid].T)].astype(np.float64)
        curvature = lo - 2.0 * c + hi
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.where(curvature < 0, 0.5 * (lo - hi) / curvature, 0.0)
        offsets[valid, axis] = np.clip(np.nan_to_num(delta), -0.5, 0.5)
    return offsets


def greedy_deduplicate(positions: np.ndarray, scores: np.ndarray, radius: float) -> np.ndarray:
    """Indices of positions kept when, in decreasing score order, any position within
    ``radius`` (inclusive) of an already kept one is dropped. Ties keep the earlier index.

    Parameters
    ----------
    positions : ``(n, 3)`` float; scores : ``(n,)``.

    Returns
    -------
    int array of kept indices, in decreasing score order.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.arange(len(scores)), -scores))
    if len(order) == 0:
        return order
    tree = cKDTree(positions)
    dropped = np.zeros(len(scores), dtype=bool)
    kept = []
    for index in order:
        if dropped[index]:
            continue
        kept.append(index)
        dropped[tree.query_ball_point(positions[index], radius)] = True
    return np.asarray(kept, dtype=int)


def non_overlapping(positions: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Greedy overlap filter in the given order: a position is kept when its distance to every
    kept one is at least the sum of their radii.

    Parameters
    ----------
    positions : ``(n, 3)``; radii : ``(n,)`` in the same units.

    Returns
    -------
    boolean ``(n,)`` keep flags.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    radii = np.asarray(radii, dtype=np.float64)
    keep = np.zeros(len(positions), dtype=bool)
    kept_positions = np.empty((0, 3))
    kept_radii = np.empty(0)
    max_radius = radii.max() if len(radii) else 0.0
    tree = None
    pending_positions: list[np.ndarray] = []
    pending_radii: list[float] = []
    for index, (point, radius) in enumerate(zip(positions, radii, strict=True)):
        if len(pending_positions) >= 256:
            kept_positions = np.vstack([kept_positions, pending_positions])
            kept_radii = np.concatenate([kept_radii, pending_radii])
            pending_positions, pending_radii = [], []
            tree = cKDTree(kept_positions)
        overlap = False
        if tree is not None:
            near = tree.query_ball_point(point, radius + max_radius)
            if near:
                distance = np.linalg.norm(kept_positions[near] - point, axis=1)
                overlap = bool(np.any(distance < radius + kept_radii[near]))
        if not overlap and pending_positions:
            distance = np.linalg.norm(np.asarray(pending_positions) - point, axis=1)
            overlap = bool(np.any(distance < radius + np.asarray(pending_radii)))
        if not overlap:
            keep[index] = True
            pending_positions.append(point)
            pending_radii.append(float(radius))
    return keep
