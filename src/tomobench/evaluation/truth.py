"""SHREC 2021 ground truth in the evaluation frame (particle list + occupancy mask).

Line k (1-based) of ``particle_locations.txt`` is occupancy id k of ``occupancy_mask.mrc``. A pick
hits the particle whose id is at its voxel after the organisers' grey dilation of the mask with the
3-D 6-connected cross (skimage's default footprint, border mode ``reflect``): every hit region
grows by one voxel, the larger id wins where two touch (:func:`dilated_occupancy_ids` reads the 7
voxels per pick instead of dilating the volume).

Ground truth in the 180-voxel slab variant of the release is padded lazily to the cube: the
slab's z offset is given or found by matching particle centres against the mask (see
:func:`load_ground_truth`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tomobench.classes import CLASS_ID, SHREC_CLASS_NAMES
from tomobench.errors import InputError
from tomobench.io import GROUND_TRUTH_FILES, model_files
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations

#: Ground-truth spellings of other releases/simulator versions mapped to the SHREC names.
GROUND_TRUTH_ALIASES = {"4V94_fixed": "4V94", "vesicles": "vesicle", "fiducials": "fiducial"}

# The 3-D 6-connected cross (centre first): skimage.morphology.dilation's default footprint.
_CROSS_OFFSETS_ZYX = np.array(
    [[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
    dtype=np.int64,
)


@dataclass(frozen=True)
class GroundTruth:
    """A SHREC ground truth in the evaluation frame (the reconstruction's voxel grid).

    Attributes
    ----------
    class_names : tuple of str
        Class of particle k+1 (line k+1 of ``particle_locations.txt``).
    centres_zyx : ndarray
        ``(n, 3)`` int64 particle centres ``(z, y, x)`` in the evaluation frame.
    occupancy : ndarray
        ``(nz, ny, nx)`` undilated occupancy ids as stored (a z slab of the evaluation volume
        when ``z_offset`` > 0 or ``nz`` < ``volume_shape[0]``).
    z_offset : int
        Evaluation z of the mask's first section.
    volume_shape : tuple of int
        ``(z, y, x)`` shape of the evaluation volume (clipping bounds of the picks).
    voxel_size_nm : float
        Voxel size (for the CZII radii).
    class_table : tuple of str
        Class name of each class id (index 0 = background): the SHREC table, or a copick
        project's pickable objects.
    radii_nm : dict, optional
        CZII particle radius per class (default: ``czii.PARTICLE_RADIUS_NM``).
    czii_weights : dict, optional
        CZII weight per class (the challenge's weighted F-beta; None: no weighted score).
    """

    class_names: tuple[str, ...]
    centres_zyx: np.ndarray
    occupancy: np.ndarray
    z_offset: int
    volume_shape: tuple[int, int, int]
    voxel_size_nm: float
    locations_path: str = ""
    occupancy_path: str = ""
    class_table: tuple[str, ...] = SHREC_CLASS_NAMES
    radii_nm: dict | None = None
    czii_weights: dict | None = None

    def ids_at(self, points_zyx: np.ndarray) -> np.ndarray:
        """Dilated occupancy id at integer voxels ``(n, 3)`` inside the volume (see
        :func:`dilated_occupancy_ids`)."""
        return dilated_occupancy_ids(
            self.occupancy, points_zyx, z_offset=self.z_offset, volume_shape=self.volume_shape
        )


def dilated_occupancy_ids(
    occupancy: np.ndarray,
    points_zyx: np.ndarray,
    *,
    z_offset: int = 0,
    volume_shape: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Value of the cross-dilated occupancy mask at given voxels, without dilating the volume.

    Equals ``skimage.morphology.dilation(padded)[z, y, x]`` (6-connected cross, ``reflect``
    border, so neighbours outside the volume are ignored), where ``padded`` is ``occupancy``
    placed at ``z_offset`` in a zero volume of ``volume_shape``. Only 7 voxels per point are
    read, so a 512³ mask costs nothing beyond reading it.

    Parameters
    ----------
    occupancy : ndarray
        ``(nz, ny, nx)`` particle ids (integer or float storage; floats are rounded).
    points_zyx : ndarray
        ``(n, 3)`` integer voxel coordinates inside ``volume_shape``.
    z_offset : int
        z of ``occupancy[0]`` in the volume.
    volume_shape : tuple of int, optional
        ``(z, y, x)`` volume shape; default ``occupancy.shape`` shifted by ``z_offset``.

    Returns
    -------
    ndarray
        ``(n,)`` int64 ids (0 = background).
    """
    points = np.asarray(points_zyx, dtype=np.int64).reshape(-1, 3)
    nz = occupancy.shape[0]
    shape = np.asarray(volume_shape or (nz + z_offset, *occupancy.shape[1:]), dtype=np.int64)
    best = np.zeros(len(points), dtype=np.int64)
    for offset in _CROSS_OFFSETS_ZYX:
        neighbour = points + offset
        inside = np.all((neighbour >= 0) & (neighbour < shape), axis=1)
        slab_z = neighbour[:, 0] - z_offset
        inside &= (slab_z >= 0) & (slab_z < nz)
        values = occupancy[slab_z[inside], neighbour[inside, 1], neighbour[inside, 2]]
        if values.dtype.kind == "f":
            values = np.rint(values)
        best[inside] = np.maximum(best[inside], values.astype(np.int64))
    return best


def dilate_occupancy(occupancy: np.ndarray) -> np.ndarray:
    """Whole-volume grey dilation with the 6-connected cross (the organisers' step; reference
    implementation for tests and benchmarks, :func:`dilated_occupancy_ids` is the fast path)."""
    from scipy import ndimage

    footprint = ndimage.generate_binary_structure(3, 1)
    return ndimage.grey_dilation(occupancy, footprint=footprint, mode="reflect")


def _normalise_truth_names(names: list[str], path: Path,
                           class_table: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if class_table is not None:  # a copick project's own classes: names as they are
        known = [n for n in class_table[1:] if n]
        for k, name in enumerate(names, start=1):
            if name not in known:
                raise InputError(f"{path}: particle {k} has class {name!r}, not a class of the "
                                 f"run ({', '.join(known)})")
        return tuple(names)
    normalised = []
    for k, name in enumerate(names, start=1):
        name = GROUND_TRUTH_ALIASES.get(name, name)
        if name not in CLASS_ID or name == "background":
            raise InputError(
                f"{path}: particle {k} has class {name!r}, not a SHREC class "
                f"({', '.join(SHREC_CLASS_NAMES[1:])})"
            )
        normalised.append(name)
    return tuple(normalised)


def _centre_agreement(occupancy: np.ndarray, centres_zyx: np.ndarray, z_shift: int) -> int:
    """Number of particles k whose centre (z − z_shift, y, x) lies in the mask with value k."""
    z = centres_zyx[:, 0] - z_shift
    y, x = centres_zyx[:, 1], centres_zyx[:, 2]
    inside = (z >= 0) & (z < occupancy.shape[0]) & (y >= 0) & (y < occupancy.shape[1])
    inside &= (x >= 0) & (x < occupancy.shape[2])
    ids = np.arange(1, len(centres_zyx) + 1)[inside]
    values = occupancy[z[inside], y[inside], x[inside]]
    if values.dtype.kind == "f":
        values = np.rint(values)
    return int(np.count_nonzero(values.astype(np.int64) == ids))


def _centroid_offset(occupancy: np.ndarray, centres_zyx: np.ndarray) -> float | None:
    """Median over particles of (centre z − z centroid of its id in the slab): the offset at
    which the particles' regions sit centred on their listed centres (None: no id present)."""
    from scipy import ndimage

    ids = np.arange(1, len(centres_zyx) + 1)
    labels = np.rint(occupancy).astype(np.int64) if occupancy.dtype.kind == "f" else occupancy
    present = ids[np.isin(ids, np.unique(labels))]
    if present.size == 0:
        return None
    centroids = ndimage.center_of_mass(np.ones(labels.shape, np.float32), labels, present)
    z_bar = np.array([c[0] for c in centroids])
    return float(np.median(centres_zyx[present - 1, 0] - z_bar))


def _find_slab_offset(occupancy: np.ndarray, centres_zyx: np.ndarray, depth: int) -> int:
    """z offset of a slab mask in a volume of ``depth`` that best matches the particle centres.

    A centre lies in its own region over a range of shifts, so the count of centres on their own
    id has a plateau: the offset is where the regions' centroids put the centres (the median
    over particles) when at least 90 % as many centres agree there as at the best offset, else
    the best offset (ties: closest to that estimate, then to the centred slab)."""
    candidates = range(0, depth - occupancy.shape[0] + 1)
    centred = (depth - occupancy.shape[0]) // 2
    scores = {o: _centre_agreement(occupancy, centres_zyx, o) for o in candidates}
    best_score = max(scores.values())
    if best_score == 0:
        raise InputError(
            "cannot place the occupancy slab in the volume: no particle centre matches its "
            "mask id at any z offset (give the slab offset explicitly)"
        )
    target = _centroid_offset(occupancy, centres_zyx)
    target = centred if target is None else target
    estimate = int(round(target))
    if scores.get(estimate, 0) >= 0.9 * best_score:
        return estimate
    best = [o for o, score in scores.items() if score == best_score]
    return min(best, key=lambda o: (abs(o - target), abs(o - centred), o))


def _check_occupancy_ids(occupancy: np.ndarray, path: Path) -> None:
    """``InputError`` naming the first voxel ``(z, y, x)`` of ``occupancy`` that is not a
    particle id (an integer >= 0; a float mask must hold integral values, no NaN)."""
    if occupancy.dtype.kind == "f":
        bad = ~np.isfinite(occupancy)
        what = "a non-finite value"
        if not bad.any():
            bad = occupancy != np.rint(occupancy)
            what = "a non-integer value"
        if bad.any():
            voxel = tuple(int(v) for v in np.unravel_index(np.argmax(bad), occupancy.shape))
            raise InputError(f"{path}: occupancy mask holds {what} ({occupancy[voxel]}) at voxel "
                             f"(z, y, x) = {voxel}; expected integer particle ids (0 = background)")
    elif occupancy.dtype.kind not in "iub":
        raise InputError(f"{path}: occupancy mask of {occupancy.dtype} values; expected integer "
                         "particle ids")
    if occupancy.size and occupancy.min() < 0:
        voxel = tuple(int(v) for v in np.unravel_index(np.argmin(occupancy), occupancy.shape))
        raise InputError(f"{path}: occupancy mask holds a negative id ({occupancy[voxel]}) at "
                         f"voxel (z, y, x) = {voxel}; expected particle ids >= 0")


def load_ground_truth(
    locations_path: str | os.PathLike,
    occupancy_path: str | os.PathLike,
    *,
    slab_offset: int | str | None = "auto",
    volume_shape: tuple[int, int, int] | None = None,
    voxel_size_nm: float | None = None,
    class_table: tuple[str, ...] | None = None,
) -> GroundTruth:
    """Read ``particle_locations.txt`` + ``occupancy_mask.mrc`` into the evaluation frame.

    Both releases of SHREC 2021 work: the 512³ cube (used as is) and the 180×512×512 slab,
    which is placed at its z offset in a cube (lazily, nothing is copied). Our own simulated
    data (mask and particle list in the reconstruction frame) is used as is.

    Parameters
    ----------
    locations_path, occupancy_path : path
        The two ground-truth files.
    slab_offset : "auto", int or None
        ``None``: never pad. ``"auto"``: pad only when particle z lies beyond the mask's depth,
        at the z offset that makes most particle centres fall on their own id. An int: pad at
        that offset; particle z is shifted by it too when the particle list is in the slab frame
        (detected by the same centre test).
    volume_shape : (z, y, x), optional
        Evaluation volume (clipping bounds). Default: the mask's shape, or when padding a cube
        whose depth equals the mask's x size (the SHREC convention).
    voxel_size_nm : float, optional
        Overrides the mask header (a header of 0 is read as 1 nm, SHREC's voxel size).
    class_table : tuple of str, optional
        Class name of each class id for a copick project's own classes
        (:func:`tomobench.project_classes.class_table`); default the SHREC table.
    """
    locations_path, occupancy_path = Path(locations_path), Path(occupancy_path)
    frame = read_particle_locations(locations_path)
    names = _normalise_truth_names(list(frame["class_name"]), locations_path, class_table)
    occupancy, header_voxel_nm = read_mrc(occupancy_path)
    if occupancy.ndim != 3:
        raise InputError(f"{occupancy_path}: occupancy mask must be 3-D, got {occupancy.shape}")
    _check_occupancy_ids(occupancy, occupancy_path)
    highest_id = int(np.rint(occupancy.max())) if occupancy.size else 0
    if highest_id > len(names):
        raise InputError(
            f"{locations_path}: {len(names)} particles, but {occupancy_path} has occupancy id "
            f"{highest_id} (line k of the list is id k): a truncated list or another mask?"
        )
    centres = frame[["z", "y", "x"]].to_numpy(dtype=np.int64).reshape(-1, 3)
    nz, ny, nx = occupancy.shape
    z_offset = 0
    pad = False
    if isinstance(slab_offset, str) and slab_offset != "auto":
        raise InputError(f"slab offset must be 'auto', an integer or None, got {slab_offset!r}")
    depth = volume_shape[0] if volume_shape else nx
    if slab_offset == "auto":
        pad = len(centres) > 0 and int(centres[:, 0].max()) >= nz and depth > nz
        if pad:
            z_offset = _find_slab_offset(occupancy, centres, depth)
    elif slab_offset is not None:
        z_offset, pad = int(slab_offset), True
        if z_offset < 0:
            raise InputError(f"slab offset must be >= 0, got {z_offset}")
        in_slab_frame = _centre_agreement(occupancy, centres, 0)
        in_volume_frame = _centre_agreement(occupancy, centres, z_offset)
        if in_slab_frame > in_volume_frame:
            centres = centres + np.array([z_offset, 0, 0])
    shape = tuple(volume_shape) if volume_shape else ((depth if pad else nz), ny, nx)
    if shape[1:] != (ny, nx) or z_offset + nz > shape[0]:
        raise InputError(
            f"{occupancy_path}: mask {occupancy.shape} at z offset {z_offset} does not fit the "
            f"evaluation volume {shape}"
        )
    if voxel_size_nm is None:
        voxel_size_nm = header_voxel_nm if header_voxel_nm > 0 else 1.0
    return GroundTruth(
        class_names=names,
        centres_zyx=centres,
        occupancy=occupancy,
        z_offset=z_offset,
        volume_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        voxel_size_nm=float(voxel_size_nm),
        locations_path=str(locations_path),
        occupancy_path=str(occupancy_path),
        class_table=tuple(class_table) if class_table is not None else SHREC_CLASS_NAMES,
    )


def load_ground_truth_folder(folder: str | os.PathLike, **options) -> GroundTruth:
    """:func:`load_ground_truth` on the ground-truth files of a tomogram folder
    (``particle_locations.txt``, ``occupancy_mask.mrc``: ``tomobench.io.GROUND_TRUTH_FILES``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: ground-truth folder not found")
    return load_ground_truth(*model_files(folder, GROUND_TRUTH_FILES).values(), **options)
