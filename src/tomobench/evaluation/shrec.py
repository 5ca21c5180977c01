"""The SHREC 2021 evaluation: what the organisers' ``misc/eval.py`` computes, without its crashes.

Algorithm (``published`` mode, identical numbers to the original script):

1. Ground truth: line k (1-based) of ``particle_locations.txt`` is occupancy id k of
   ``occupancy_mask.mrc``. The mask is grey-dilated with the 3-D 6-connected cross (skimage's
   default footprint, border mode ``reflect``): every hit region grows by one voxel, the larger
   id wins where two touch.
2. Each submission line, in file order: the class is upper-cased unless it is exactly
   ``fiducial``; coordinates are rounded half to even and clipped to ``[0, shape − 1]`` per
   axis (the original: 511); a clipped line counts as out of bounds (RO) and is still scored.
3. The line hits the particle whose dilated id is at its voxel (0 = background).
4. ``4V94`` and ``vesicle`` particles are removed with their hits: those hits are neither TP nor
   FP but stay in RR (quirk Q4).
5. RR = lines; TP/FN/MH = scored particles hit ≥1 / 0 / >1 times; FP = lines in background;
   AD = mean distance of the *first* hit of each found particle; recall = TP / N with
   N = lines − 4V94 lines (vesicles still counted, quirk Q3); precision = TP / RR; F1 = harmonic
   mean; miss rate = 1 − recall.
6. Confusion matrix: one pair per scored particle, actual class × class of its first hit
   (``background`` when missed or when that label is ``4V94``).

Crashes of the original that are handled here instead: an unknown label on a first hit
(``KeyError``; counted as background with a warning), a submission that misses nothing or a class
absent from both vectors (pycm's "Mapping class names error"; scored normally with a warning),
an empty submission or no hit at all (``ZeroDivisionError``; precision/recall/F1 = 0, AD = NaN).

``corrected`` mode fixes the two counting quirks: N excludes vesicles (Q3), and lines that hit an
excluded particle (4V94, vesicle) are "don't care": dropped from RR (Q4, reported as
``ignored``). Class labels are then matched case-insensitively (so ``vesicle``/``Fiducial``
resolve). Everything else is identical.

Ground truth in the 180-voxel slab variant of the release is padded lazily to the cube: the
slab's z offset is given or found by matching particle centres against the mask (see
:func:`load_ground_truth`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench.classes import CLASS_ID, SHREC_CLASS_NAMES
from tomobench.errors import InputError
from tomobench.evaluation.bootstrap import Units, bootstrap_intervals
from tomobench.evaluation.confusion import confusion_counts, one_vs_rest_statistics
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations, read_picks
from tomobench.seeding import rng

MODES = ("published", "corrected")
#: Classes removed from scoring (the script's ``--skip_4v94`` / ``--skip_vesicles``, always on).
EXCLUDED_CLASSES = ("4V94", "vesicle")
#: Class names of the scoring label map (index = class id), background included.
SCORED_LABEL_IDS = {n: i for n, i in CLASS_ID.items() if n not in EXCLUDED_CLASSES}
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


# --------------------------------------------------------------------------- ground truth


def _normalise_truth_names(names: list[str], path: Path) -> tuple[str, ...]:
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


def _find_slab_offset(occupancy: np.ndarray, centres_zyx: np.ndarray, depth: int) -> int:
    """z offset of a slab mask in a volume of ``depth`` that best matches the particle centres
    (ties: the offset closest to the centred one)."""
    candidates = range(0, depth - occupancy.shape[0] + 1)
    centred = (depth - occupancy.shape[0]) // 2
    scores = [(_centre_agreement(occupancy, centres_zyx, o), -abs(o - centred), o)
              for o in candidates]
    best_score, _, best_offset = max(scores)
    if best_score == 0:
        raise InputError(
            "cannot place the occupancy slab in the volume: no particle centre matches its "
            "mask id at any z offset (give the slab offset explicitly)"
        )
    return best_offset


def load_ground_truth(
    locations_path: str | os.PathLike,
    occupancy_path: str | os.PathLike,
    *,
    slab_offset: int | str | None = "auto",
    volume_shape: tuple[int, int, int] | None = None,
    voxel_size_nm: float | None = None,
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
    """
    locations_path, occupancy_path = Path(locations_path), Path(occupancy_path)
    frame = read_particle_locations(locations_path)
    names = _normalise_truth_names(list(frame["class_name"]), locations_path)
    occupancy, header_voxel_nm = read_mrc(occupancy_path)
    if occupancy.ndim != 3:
        raise InputError(f"{occupancy_path}: occupancy mask must be 3-D, got {occupancy.shape}")
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
    )


def load_ground_truth_folder(folder: str | os.PathLike, **options) -> GroundTruth:
    """:func:`load_ground_truth` on ``folder/particle_locations.txt`` and
    ``folder/occupancy_mask.mrc``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: ground-truth folder not found")
    return load_ground_truth(
        folder / "particle_locations.txt", folder / "occupancy_mask.mrc", **options
    )


# --------------------------------------------------------------------------- scoring


def _label_ids(labels: pd.Series, mode: str,
               class_table: tuple[str, ...] = SHREC_CLASS_NAMES) -> tuple[np.ndarray, list[str]]:
    """Class id of each submission label as the scorer sees it (−1 = not in the class table)."""
    if mode == "published":
        seen = [name if name == "fiducial" else name.upper() for name in labels]
        lookup = {name: i for i, name in enumerate(class_table)}
        if class_table != SHREC_CLASS_NAMES:  # the organisers' upper-casing needs SHREC names
            lookup.update({name.upper(): i for i, name in enumerate(class_table)})
    else:
        seen = [name.upper() for name in labels]
        lookup = {name.upper(): i for i, name in enumerate(class_table)}
    ids = np.array([lookup.get(name, -1) for name in seen], dtype=np.int64)
    return ids, seen


def _harmonic_mean(recall: float, precision: float) -> float:
    if recall > 0 and precision > 0:
        return 1 / ((1 / recall + 1 / precision) / 2)
    return 0.0


def score_picks(truth: GroundTruth, picks: pd.DataFrame, *, mode: str = "published") -> dict:
    """Score a submission against a ground truth, as the SHREC 2021 script.

    Parameters
    ----------
    truth : GroundTruth
        From :func:`load_ground_truth`.
    picks : DataFrame
        Columns ``class_name, x, y, z`` (voxels, evaluation frame), in submission order.
    mode : {"published", "corrected"}
        See the module docstring.

    Returns
    -------
    dict
        ``{"mode", "localization": {RR, N, TP, FP, FN, MH, RO, AD, recall, precision,
        miss_rate, F1, ignored, hits_on_excluded}, "classification": {labels, matrix,
        per_class, accuracy, f1_macro}, "units": {...}, "warnings": [...]}``; ``units`` are
        the per-particle resampling units of the bootstrap
        (:class:`tomobench.evaluation.bootstrap.Units`).
    """
    if mode not in MODES:
        raise InputError(f"evaluation mode must be one of {', '.join(MODES)}, got {mode!r}")
    clipped, out_of_bounds, hit = _locate(truth, picks)
    excluded = np.isin(np.array(truth.class_names, dtype=object), EXCLUDED_CLASSES)
    on_excluded = (hit > 0) & excluded[np.maximum(hit, 1) - 1]
    on_scored = (hit > 0) & ~on_excluded
    # First hit (file order) of every found particle: it alone sets AD and the class.
    scored_rows = np.flatnonzero(on_scored)
    found_ids, first = np.unique(hit[scored_rows], return_index=True)
    first_rows = scored_rows[first]
    distances = np.linalg.norm(clipped[first_rows] - truth.centres_zyx[found_ids - 1], axis=1)

    hits_per_particle = np.bincount(hit[on_scored], minlength=len(excluded) + 1)[1:][~excluded]
    ignored = int(np.count_nonzero(on_excluded)) if mode == "corrected" else 0
    n_truth = len(excluded) - truth.class_names.count("4V94")  # vesicles stay in (Q3)
    localization = _localization_numbers(
        rr=len(picks) - ignored,
        n_truth=int(np.count_nonzero(~excluded)) if mode == "corrected" else n_truth,
        hits_per_particle=hits_per_particle,
        fp=int(np.count_nonzero(hit == 0)),
        distances=distances,
    )
    localization.update({
        "RO": int(np.count_nonzero(out_of_bounds)),
        "lines": len(picks),
        "ignored": ignored,
        "hits_on_excluded": int(np.count_nonzero(on_excluded)),
    })

    table = truth.class_table
    label_ids, seen_labels = _label_ids(picks["class_name"], mode, table)
    first_label = label_ids[first_rows]
    unknown = sorted({seen_labels[r] for r, lid in zip(first_rows, first_label, strict=True)
                      if lid < 0})
    excluded_ids = [i for i, name in enumerate(table) if name in EXCLUDED_CLASSES]
    predicted = np.zeros(len(excluded), dtype=np.int64)
    predicted[found_ids - 1] = np.where(np.isin(first_label, excluded_ids), 0,
                                        np.maximum(first_label, 0))
    ids = {name: i for i, name in enumerate(table)}
    actual = np.array([ids[name] for name in truth.class_names], dtype=np.int64)
    classification, warnings = _classification(actual[~excluded], predicted[~excluded], table)
    hits_all = np.bincount(hit[hit > 0], minlength=len(excluded) + 1)[1:]
    if mode == "published":  # Q3: vesicles in N, 4V94 not; Q4: hits on excluded stay in RR
        counted_in_n = np.array([name != "4V94" for name in truth.class_names], dtype=bool)
        hits_in_rr = hits_all
    else:
        counted_in_n, hits_in_rr = ~excluded, np.where(excluded, 0, hits_all)
    units = Units(class_id=actual, predicted_class_id=predicted, hits=hits_all,
                  counted_in_n=counted_in_n.astype(np.int64), hits_in_rr=hits_in_rr,
                  scored=(~excluded).astype(np.int64),
                  false_positive_lines=int(np.count_nonzero(hit == 0)),
                  class_names=tuple(table))
    if unknown:
        warnings.insert(0, (
            f"first hits labelled {', '.join(map(repr, unknown))} (not in the class table) were "
            "counted as background; the organisers' script stops with KeyError here"
        ))
    return {"mode": mode, "localization": localization, "classification": classification,
            "units": units.to_json(), "warnings": warnings}


def _locate(truth: GroundTruth, picks: pd.DataFrame):
    """Rounded (half to even), clipped ``(n, 3)`` zyx voxels of the picks, their out-of-bounds
    flags and the dilated occupancy id each lands on."""
    shape = np.asarray(truth.volume_shape, dtype=np.int64)
    xyz = picks[["x", "y", "z"]].to_numpy(dtype=np.float64).reshape(-1, 3)
    rounded_zyx = np.rint(xyz[:, ::-1])  # ties to even, as Python round()
    # clip before the integer cast: a coordinate beyond int64 (1e19) must land on the face
    clipped_zyx = np.clip(rounded_zyx, 0, shape - 1)
    out_of_bounds = np.any(clipped_zyx != rounded_zyx, axis=1)
    clipped = clipped_zyx.astype(np.int64)
    return clipped, out_of_bounds, truth.ids_at(clipped)


def _localization_numbers(*, rr: int, n_truth: int, hits_per_particle: np.ndarray, fp: int,
                          distances: np.ndarray) -> dict:
    """RR, N, TP, FP, FN, MH, AD, recall, precision, miss rate and F1 (no crash on zeros:
    precision 0 without picks, recall NaN without particles, AD NaN without hits)."""
    tp = int(np.count_nonzero(hits_per_particle >= 1))
    recall = tp / n_truth if n_truth else math.nan
    precision = tp / rr if rr else 0.0
    return {
        "RR": int(rr),
        "N": int(n_truth),
        "TP": tp,
        "FP": fp,
        "FN": int(np.count_nonzero(hits_per_particle == 0)),
        "MH": int(np.count_nonzero(hits_per_particle > 1)),
        "AD": float(np.mean(distances)) if len(distances) else math.nan,
        "recall": recall,
        "precision": precision,
        "miss_rate": 1 - recall,
        "F1": _harmonic_mean(recall, precision) if not math.isnan(recall) else math.nan,
    }


def _classification(actual: np.ndarray, predicted: np.ndarray,
                    table: tuple[str, ...] = SHREC_CLASS_NAMES) -> tuple[dict, list[str]]:
    present = set(actual.tolist()) | set(predicted.tolist()) | {0}
    labels = sorted(present)
    names = [table[i] for i in labels]
    matrix = confusion_counts(actual, predicted, labels)
    per_class = one_vs_rest_statistics(matrix, names)
    scored_f1 = [s["F1"] for n, s in per_class.items() if n != "background"]
    scored_f1 = [v for v in scored_f1 if not math.isnan(v)]
    total = int(matrix.sum())
    classification = {
        "labels": names,
        "matrix": matrix.tolist(),
        "per_class": per_class,
        "accuracy": float(np.trace(matrix) / total) if total else math.nan,
        "f1_macro": float(np.mean(scored_f1)) if scored_f1 else math.nan,
    }
    absent = [n for i, n in enumerate(table) if n not in EXCLUDED_CLASSES and i not in present]
    warnings = []
    if absent:
        warnings.append(
            f"classes absent from truth and first hits: {', '.join(absent)}; the organisers' "
            "script (pycm >= 3) stops with 'Mapping class names error' here"
        )
    return classification, warnings


def evaluate_submission(
    truth: GroundTruth,
    picks_path: str | os.PathLike,
    *,
    mode: str = "published",
    czii_radius_fraction: float = 0.5,
    czii_beta: float = 4.0,
    fiducial_radius_nm: float | None = None,
    bootstrap_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """Read a submission file and score it: SHREC (:func:`score_picks`) and CZII metrics.

    Returns the :func:`score_picks` dict plus ``truth``, ``picks`` (provenance), ``czii`` and
    ``confidence_intervals`` (95 % bootstrap intervals from ``bootstrap_resamples`` resamples
    drawn with ``rng(seed, "bootstrap")``; see :mod:`tomobench.evaluation.bootstrap`) blocks;
    JSON-ready after :func:`json_ready`.
    """
    picks = read_picks(picks_path, score_column=False)  # columns after z are ignored
    return evaluate_picks(truth, picks, source=str(picks_path), mode=mode,
                          czii_radius_fraction=czii_radius_fraction, czii_beta=czii_beta,
                          fiducial_radius_nm=fiducial_radius_nm,
                          bootstrap_resamples=bootstrap_resamples, seed=seed)


def evaluate_picks(
    truth: GroundTruth,
    picks: pd.DataFrame,
    *,
    source: str,
    mode: str = "published",
    czii_radius_fraction: float = 0.5,
    czii_beta: float = 4.0,
    fiducial_radius_nm: float | None = None,
    bootstrap_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """:func:`evaluate_submission` of picks already read (``source`` names them)."""
    from tomobench.evaluation.czii import czii_score

    result = score_picks(truth, picks, mode=mode)
    result["czii"] = czii_score(
        truth,
        picks,
        radius_fraction=czii_radius_fraction,
        beta=czii_beta,
        fiducial_radius_nm=fiducial_radius_nm,
    )
    counts = pd.Series(truth.class_names).value_counts()
    result["truth"] = {
        "particle_locations": truth.locations_path,
        "occupancy_mask": truth.occupancy_path,
        "volume_shape_zyx": list(truth.volume_shape),
        "slab_z_offset": truth.z_offset,
        "voxel_size_nm": truth.voxel_size_nm,
        "particles": len(truth.class_names),
        "excluded": {c: int(counts.get(c, 0)) for c in EXCLUDED_CLASSES},
    }
    result["picks"] = {"path": source, "lines": len(picks)}
    result["confidence_intervals"] = bootstrap_intervals(
        Units.from_json(result["units"]), bootstrap_resamples, rng(seed, "bootstrap"))
    return result


def json_ready(value):
    """Replace NaN/inf floats by None (strict JSON) in nested dicts/lists."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_text_report(path: str | os.PathLike, result: dict, *, title: str = "") -> None:
    """Write :func:`format_report` to ``path`` atomically."""
    from tomobench.atomic import write_text_atomic

    write_text_atomic(Path(path), format_report(result, title=title))


def format_report(result: dict, *, title: str = "") -> str:
    """Human-readable text report (the original's localisation block, the confusion matrix,
    per-class statistics, the CZII metric and warnings)."""
    loc = result["localization"]
    lines = [f"# SHREC 2021 evaluation ({result['mode']} mode){': ' + title if title else ''}", ""]
    lines += [
        "## Localization",
        f"Submission has {loc['lines']} predicted particles (RR = {loc['RR']})",
        f"Tomogram has {loc['N']} particles",
        f"TP: {loc['TP']} unique particles found",
        f"FP: {loc['FP']} predicted particles are false positive",
        f"FN: {loc['FN']} unique particles not found",
        f"MH: {loc['MH']} particles had more than one prediction",
        f"RO: {loc['RO']} predicted particles were outside of tomo bounds",
        f"AD: average euclidean distance from predicted to true centre: {loc['AD']}",
        f"Recall: {loc['recall']:.5f}",
        f"Precision: {loc['precision']:.5f}",
        f"Miss rate: {loc['miss_rate']:.5f}",
        f"F1 score: {loc['F1']:.5f}",
    ]
    intervals = (result.get("confidence_intervals") or {}).get("localization")
    if intervals:
        ci = result["confidence_intervals"]
        lines.append(f"{100 * ci['confidence']:.0f} % bootstrap intervals ({ci['resamples']} "
                     "resamples): " + ", ".join(
                         f"{metric} [{low:.5f}, {high:.5f}]"
                         for metric, (low, high) in intervals.items()))
    if loc.get("hits_on_excluded"):
        lines.append(f"Predictions on excluded particles (4V94, vesicle): {loc['hits_on_excluded']}"
                     + (" (ignored)" if loc["ignored"] else " (kept in RR)"))
    cls = result["classification"]
    width = max(len(n) for n in cls["labels"]) + 1
    lines += ["", "## Classification (rows actual, columns predicted)",
              " " * width + "".join(f"{n:>{width}}" for n in cls["labels"])]
    for name, row in zip(cls["labels"], cls["matrix"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{width}}" for v in row))
    lines += ["", f"{'class':<{width}} {'TP':>5} {'FP':>5} {'FN':>5} {'precision':>10} "
              f"{'recall':>8} {'F1':>8}"]
    for name, s in cls["per_class"].items():
        lines.append(f"{name:<{width}} {s['TP']:>5} {s['FP']:>5} {s['FN']:>5} "
                     f"{s['precision']:>10.5f} {s['recall']:>8.5f} {s['F1']:>8.5f}")
    lines.append(f"Overall accuracy: {cls['accuracy']:.5f}; mean F1 over classes: "
                 f"{cls['f1_macro']:.5f}")
    czii = result.get("czii")
    if czii:
        lines += ["", f"## CZII metric (match within {czii['radius_fraction']} x radius, "
                  f"beta = {czii['beta']})"]
        for name, s in czii["per_class"].items():
            lines.append(f"{name:<{width}} TP {s['TP']:>5} FP {s['FP']:>5} FN {s['FN']:>5} "
                         f"F-beta {s['fbeta']:.5f}")
        lines.append(f"micro F-beta {czii['fbeta_micro']:.5f}; "
                     f"macro F-beta {czii['fbeta_macro']:.5f}")
    if result.get("warnings"):
        lines += ["", "## Warnings", *[f"- {w}" for w in result["warnings"]]]
    return "\n".join(lines) + "\n"
