"""The CZII cryo-ET object-identification metric (Kaggle 2024/25), beside the SHREC numbers.

Per class, a candidate matches a ground-truth centre of the same class within
``radius_fraction × particle radius`` (KD-tree ball query, distance ≤ threshold):

- TP = number of distinct ground-truth particles matched by ≥ 1 candidate,
- FP = candidates − TP (duplicates are false positives), FN = ground truth − TP,
- precision = TP/(TP+FP), recall = TP/(TP+FN) (0 when the denominator is 0),
- F-beta = (1+β²)·P·R / (β²·P + R) (0 when P + R = 0), β = 4 weighs recall heavily.

Class labels match case-insensitively; candidates coordinates are used as given (no rounding,
no clipping). 4V94 and vesicles are not scored (as in SHREC). We report the micro F-beta (counts
summed over classes) and the macro F-beta (mean over classes with ground truth). The CZII
challenge weighted its six classes (apo-ferritin 1, beta-amylase 0, beta-galactosidase 2,
ribosome 1, thyroglobulin 2, virus-like-particle 1): with per-class ``weights`` (a copick
project's, ``tomobench.project_classes``) the block adds the challenge's score,
``fbeta_weighted = Σ_c w_c F_c / Σ_c w_c`` over the weighted classes (a class with no ground
truth and no candidate has F = 0 there, as in the challenge); SHREC has no weights.

Particle radii (:data:`PARTICLE_RADIUS_NM`): the radius of the sphere with the particle volume
of the SHREC 2021 paper's Table 1 (density threshold 0.5), ``r = (3V / 4π)^(1/3)``
(``tomobench.classes.SPHERE_RADIUS_NM``). This is the "physical" radius the CZII metric expects
(its apo-ferritin radius, 6 nm, is the molecule's outer radius); the paper's "effective radius"
``3V/A`` is a shape factor, smaller than the particle for elongated complexes. Gold fiducials:
half the mean bead diameter of the run (default 3.5 nm, the middle of
``potential.gold_diameter_nm`` = [4, 10] nm).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from tomobench.classes import EXCLUDED_CLASSES, SPHERE_RADIUS_NM

DEFAULT_FIDUCIAL_RADIUS_NM = 3.5

#: Particle radius (nm) per scored class, see the module docstring.
PARTICLE_RADIUS_NM = {**SPHERE_RADIUS_NM, "fiducial": DEFAULT_FIDUCIAL_RADIUS_NM}


def match_counts(
    reference_zyx: np.ndarray, candidate_zyx: np.ndarray, threshold_voxels: float
) -> tuple[int, int, int]:
    """TP, FP, FN of one class: distinct references within ``threshold_voxels`` of a candidate.

    Parameters
    ----------
    reference_zyx, candidate_zyx : ndarray
        ``(n, 3)`` and ``(m, 3)`` coordinates in voxels (any consistent axis order).
    threshold_voxels : float
        Match distance (inclusive).
    """
    n_ref, n_cand = len(reference_zyx), len(candidate_zyx)
    if n_ref == 0:
        return 0, n_cand, 0
    if n_cand == 0:
        return 0, 0, n_ref
    matches = cKDTree(candidate_zyx).query_ball_tree(cKDTree(reference_zyx), r=threshold_voxels)
    tp = len({ref for group in matches for ref in group})
    return tp, n_cand - tp, n_ref - tp


def fbeta_from_counts(tp: int, fp: int, fn: int, beta: float) -> dict:
    """Precision, recall and F-beta from counts (0 where a denominator is 0)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    fbeta = (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0
    return {"TP": tp, "FP": fp, "FN": fn, "precision": precision, "recall": recall,
            "fbeta": fbeta}


def czii_from_counts(counts: dict[str, dict], beta: float, radius_fraction: float,
                     radii_nm: dict[str, float] | None = None,
                     weights: dict[str, float] | None = None) -> dict:
    """Assemble the CZII block from per-class ``{TP, FP, FN, support}`` counts (also used to sum
    several tomograms); with ``weights`` also ``fbeta_weighted`` and ``weights``."""
    per_class = {}
    for name, c in counts.items():
        per_class[name] = {**fbeta_from_counts(c["TP"], c["FP"], c["FN"], beta),
                           "support": c["TP"] + c["FN"]}
        if radii_nm and name in radii_nm:
            per_class[name]["radius_nm"] = radii_nm[name]
    totals = [sum(s[k] for s in per_class.values()) for k in ("TP", "FP", "FN")]
    macro = [s["fbeta"] for s in per_class.values() if s["support"] > 0]
    block = {
        "beta": beta,
        "radius_fraction": radius_fraction,
        "per_class": per_class,
        "fbeta_micro": fbeta_from_counts(*totals, beta)["fbeta"],
        "fbeta_macro": float(np.mean(macro)) if macro else math.nan,
    }
    if weights:
        block["weights"] = dict(weights)
        block["fbeta_weighted"] = weighted_fbeta(per_class, weights)
    return block


def weighted_fbeta(per_class: dict[str, dict], weights: dict[str, float]) -> float:
    """The challenge's score ``Σ w_c F_c / Σ w_c`` (a class absent from ``per_class``: F = 0;
    NaN when every weight is 0)."""
    total = sum(weights.values())
    if total <= 0:
        return math.nan
    return sum(w * per_class.get(name, {}).get("fbeta", 0.0) for name, w in weights.items()
               ) / total


def czii_score(
    truth,
    picks: pd.DataFrame,
    *,
    radius_fraction: float = 0.5,
    beta: float = 4.0,
    fiducial_radius_nm: float | None = None,
    radii_nm: dict[str, float] | None = None,
) -> dict:
    """CZII metric of a submission.

    Parameters
    ----------
    truth : tomobench.evaluation.truth.GroundTruth
        Class names, centres ``(n, 3)`` ``(z, y, x)`` and voxel size.
    picks : DataFrame
        Columns ``class_name, x, y, z`` in voxels.
    radius_fraction, beta : float
        Match radius as a fraction of the particle radius; F-beta's beta.
    fiducial_radius_nm : float, optional
        Overrides the default fiducial radius.
    radii_nm : dict, optional
        Overrides particle radii (nm) per class.

    Returns
    -------
    dict
        ``{beta, radius_fraction, per_class: {name: {TP, FP, FN, precision, recall, fbeta,
        support, radius_nm}}, fbeta_micro, fbeta_macro}``, and ``weights``, ``fbeta_weighted``
        when ``truth.czii_weights`` is set.
    """
    radii = dict(PARTICLE_RADIUS_NM if truth.radii_nm is None else truth.radii_nm)
    if fiducial_radius_nm is not None:
        radii["fiducial"] = float(fiducial_radius_nm)
    radii.update(radii_nm or {})
    classes = [n for n in truth.class_table
               if n and n != "background" and n not in EXCLUDED_CLASSES]
    truth_names = np.array(truth.class_names, dtype=object)
    upper = {name.upper(): name for name in classes}
    pick_names = np.array([upper.get(str(n).upper(), "") for n in picks["class_name"]],
                          dtype=object)
    pick_zyx = picks[["z", "y", "x"]].to_numpy(dtype=np.float64).reshape(-1, 3)
    present = [n for n in classes if np.any(truth_names == n) or np.any(pick_names == n)]
    counts = {}
    for name in present:
        if name not in radii:
            raise KeyError(f"no CZII particle radius for class {name!r}")
        threshold = radius_fraction * radii[name] / truth.voxel_size_nm
        tp, fp, fn = match_counts(truth.centres_zyx[truth_names == name],
                                  pick_zyx[pick_names == name], threshold)
        counts[name] = {"TP": tp, "FP": fp, "FN": fn}
    return czii_from_counts(counts, beta, radius_fraction, radii, truth.czii_weights)
