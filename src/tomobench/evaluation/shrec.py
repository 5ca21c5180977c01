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
4. ``4V94`` and ``vesicle`` particles (``classes.EXCLUDED_CLASSES``) are removed with their
   hits: those hits are neither TP nor FP but stay in RR (quirk Q4).
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

The ground truth is read by :mod:`tomobench.evaluation.truth`, the outputs are written by
:mod:`tomobench.evaluation.report`.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from tomobench.classes import CLASS_ID, EXCLUDED_CLASSES, SHREC_CLASS_NAMES
from tomobench.errors import InputError
from tomobench.evaluation.bootstrap import Units, bootstrap_intervals
from tomobench.evaluation.confusion import confusion_counts, one_vs_rest_statistics
from tomobench.evaluation.truth import GroundTruth
from tomobench.particles import read_picks
from tomobench.seeding import rng

MODES = ("published", "corrected")
#: The mode of the workflow (schema ``evaluation.mode``), the CLI and these functions.
DEFAULT_MODE = "corrected"
#: Class names of the scoring label map (index = class id), background included.
SCORED_LABEL_IDS = {n: i for n, i in CLASS_ID.items() if n not in EXCLUDED_CLASSES}

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


def score_picks(truth: GroundTruth, picks: pd.DataFrame, *, mode: str = DEFAULT_MODE) -> dict:
    """Score a submission against a ground truth, as the SHREC 2021 script.

    Parameters
    ----------
    truth : GroundTruth
        From :func:`load_ground_truth`.
    picks : DataFrame
        Columns ``class_name, x, y, z`` (voxels, evaluation frame), in submission order.
    mode : {"published", "corrected"}
        See the module docstring; default :data:`DEFAULT_MODE` (``corrected``).

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
    absent = [n for i, n in enumerate(table)
              if n and n not in EXCLUDED_CLASSES and i not in present]  # "": an unused id
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
    mode: str = DEFAULT_MODE,
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
    mode: str = DEFAULT_MODE,
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
