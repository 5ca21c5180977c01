"""From score maps to particle lists: the TM and TM-F extractions of the SHREC 2021 paper (§3.7).

TM: per class, the top-N peaks of the score map (greedy, exclusion radius), then a score
threshold: by default the paper's — a Gaussian fitted to the *particle* population of the
candidates' score histogram (the upper component of a two-Gaussian maximum-likelihood fit), cut
at ``μ - 2σ`` of that population; optionally pytom-match-pick's false-alarm threshold or a fixed
one. Classes (and the LoG fiducials) are merged; picks of different classes on the same voxel
(or closer than ``merge_distance_voxels``) keep only the best *normalised* score
``(s - μ_search)/σ_search``. The evaluation labels a particle by the *first* pick in file order
that hits it, so the order of the merged list decides TM's classification: ``class_weight``
writes the per-class lists one after the other (fiducials, then heaviest class first: the order
in which §3.7 reports them), ``score`` sorts all picks by normalised score, which turns the merge
into an arg-max classifier the paper's TM did not have.

TM-F (§3.7: "candidates of each class were additionally filtered to exclude those that would
potentially be overlapped with already selected particles. To test for overlap, we calculate the
distance between the centre of an existing particle to the centre of the candidate and calculate
whether the distance is smaller than the sum of their radii. The candidates for round and
symmetrical particles were filtered before asymmetrical and elongated particles"): the same
candidates, then, class by class in ``tomobench.classes.TM_F_ORDER`` (fiducials before all;
the order §3.7's per-class counts imply: 5MRC, 3H84, 4CR2, 3CF3, 1BXN, then the rest), each
class by decreasing score, a candidate is dropped when its centre is closer to an accepted
particle (of any class, its own included) than the sum of the two radii.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import erfcinv

from tomobench.classes import SHREC_CLASS_NAMES, TABLE1, TM_F_ORDER
from tomobench.errors import InputError
from tomobench.methods.peaks import (
    greedy_deduplicate,
    greedy_peaks,
    non_overlapping,
    subvoxel_offsets,
)

THRESHOLD_MODES = ("gaussian_fit", "false_alarm", "fixed", "none")
CANDIDATE_COLUMNS = ["class_name", "x", "y", "z", "score", "zscore", "angle_index", "radius_voxels"]


@dataclass
class ClassSearch:
    """The merged search result of one class, as read back from ``match_templates`` outputs.

    Attributes
    ----------
    class_name : SHREC class name.
    scores, angles : ``(z, y, x)`` maps at the search voxel size.
    score_mean, score_std : statistics of all scores of the search.
    search_space : voxels × rotations (the number of independent trials for the FAR threshold).
    factor : tomogram voxels per search voxel.
    particle_radius_nm, mask_radius_nm : from the template.
    search_voxel_nm : search voxel size.
    """

    class_name: str
    scores: np.ndarray
    angles: np.ndarray
    score_mean: float
    score_std: float
    search_space: int
    factor: int
    particle_radius_nm: float
    mask_radius_nm: float
    search_voxel_nm: float


def fit_particle_population(scores: np.ndarray, n_sigma: float = 2.0, iterations: int = 500
                            ) -> dict:
    """Two-Gaussian maximum-likelihood (EM) fit of candidate scores; the upper component is the
    particle population and the threshold is its ``μ - n_sigma σ``.

    The EM starts from a deterministic split (lowest 75 % / highest 25 %), so the result is
    reproducible. Returns a dict with ``threshold``, ``mean``, ``std``, ``weight`` of the particle
    population and ``background_mean``, ``background_std``.
    """
    values = np.sort(np.asarray(scores, dtype=np.float64))
    if len(values) < 4:
        return {"threshold": float(values.min()) if len(values) else math.inf,
                "mean": math.nan, "std": math.nan, "weight": math.nan,
                "background_mean": math.nan, "background_std": math.nan, "iterations": 0}
    split = int(0.75 * len(values))
    means = np.array([values[:split].mean(), values[split:].mean()])
    floor = 1e-6 * max(values[-1] - values[0], 1e-12)
    stds = np.maximum([values[:split].std(), values[split:].std()], floor)
    weights = np.array([0.75, 0.25])
    iteration = 0
    for iteration in range(1, iterations + 1):  # noqa: B007 - reported after the loop
        log_density = (-0.5 * ((values[:, None] - means) / stds) ** 2 - np.log(stds)
                       + np.log(weights))
        log_density -= log_density.max(axis=1, keepdims=True)
        responsibility = np.exp(log_density)
        responsibility /= responsibility.sum(axis=1, keepdims=True)
        mass = responsibility.sum(axis=0) + 1e-12
        new_means = (responsibility * values[:, None]).sum(axis=0) / mass
        new_stds = np.sqrt((responsibility * (values[:, None] - new_means) ** 2).sum(axis=0) / mass)
        new_stds = np.maximum(new_stds, floor)
        weights = mass / mass.sum()
        converged = (np.allclose(new_means, means, atol=1e-9)
                     and np.allclose(new_stds, stds, atol=1e-9))
        means, stds = new_means, new_stds
        if converged:
            break
    upper = int(np.argmax(means))
    lower = 1 - upper
    return {
        "threshold": float(means[upper] - n_sigma * stds[upper]),
        "mean": float(means[upper]),
        "std": float(stds[upper]),
        "weight": float(weights[upper]),
        "background_mean": float(means[lower]),
        "background_std": float(stds[lower]),
        "iterations": iteration,
    }


def false_alarm_threshold(score_mean: float, score_std: float, search_space: int,
                          false_alarms: float = 1.0) -> float:
    """Score above which ``false_alarms`` false positives are expected in ``search_space``
    Gaussian trials: ``μ + σ √2 erfcinv(2 n_FP / N)`` (pytom-match-pick's default cut-off)."""
    if search_space <= 0 or false_alarms <= 0:
        raise InputError("false_alarms and the search space must be positive")
    fraction = min(2.0 * false_alarms / search_space, 1.0)
    return float(score_mean + score_std * math.sqrt(2.0) * erfcinv(fraction))


def class_candidates(search: ClassSearch, *, top_n: int, exclusion_radius_fraction: float = 1.0,
                     threshold: str = "gaussian_fit", n_sigma: float = 2.0,
                     false_alarms: float = 1.0, fixed_threshold: float | None = None,
                     border_voxels: int = 0) -> tuple[pd.DataFrame, dict]:
    """Top-N peaks of one class's score map, thresholded; positions in tomogram voxels.

    Parameters
    ----------
    top_n : number of peaks extracted before thresholding (1000 in the paper).
    exclusion_radius_fraction : peak exclusion radius as a fraction of the particle radius.
    threshold : one of ``THRESHOLD_MODES``.
    border_voxels : search voxels next to the faces that are ignored.

    Returns
    -------
    DataFrame with ``CANDIDATE_COLUMNS`` (``x, y, z`` float tomogram voxels) sorted by score,
    and a dict describing the threshold.
    """
    if threshold not in THRESHOLD_MODES:
        raise InputError(
            f"methods.<TM>.threshold must be one of {THRESHOLD_MODES}, got {threshold!r}")
    radius_search = search.particle_radius_nm / search.search_voxel_nm
    exclusion = max(1.0, exclusion_radius_fraction * radius_search)
    coords, values = greedy_peaks(search.scores, exclusion, max_peaks=top_n, border=border_voxels)
    info: dict = {"mode": threshold, "candidates": int(len(values)),
                  "exclusion_radius_search_voxels": float(exclusion)}
    if threshold == "gaussian_fit":
        info.update(fit_particle_population(values, n_sigma=n_sigma))
    elif threshold == "false_alarm":
        info["threshold"] = false_alarm_threshold(search.score_mean, search.score_std,
                                                  search.search_space, false_alarms)
    elif threshold == "fixed":
        if fixed_threshold is None:
            raise InputError("methods.<TM>.fixed_threshold is required when threshold is 'fixed'")
        info["threshold"] = float(fixed_threshold)
    else:
        info["threshold"] = -math.inf
    keep = values >= info["threshold"]
    coords, values = coords[keep], values[keep]
    info["accepted"] = int(keep.sum())
    refined = coords + subvoxel_offsets(search.scores, coords)
    positions = refined * search.factor  # search voxel j samples tomogram voxel j * factor
    std = search.score_std if search.score_std > 0 else 1.0
    frame = pd.DataFrame({
        "class_name": search.class_name,
        "x": positions[:, 2], "y": positions[:, 1], "z": positions[:, 0],
        "score": values.astype(np.float64),
        "zscore": (values - search.score_mean) / std,
        "angle_index": search.angles[tuple(coords.T)] if len(coords) else np.empty(0, int),
        "radius_voxels": search.particle_radius_nm / search.search_voxel_nm * search.factor,
    }, columns=CANDIDATE_COLUMNS)
    return frame, info


def _as_picks(frame: pd.DataFrame) -> pd.DataFrame:
    """Submission columns ``class_name, x, y, z, score`` with score = normalised score."""
    picks = frame[["class_name", "x", "y", "z"]].assign(score=frame["zscore"].to_numpy())
    return picks.reset_index(drop=True)


def _positions(frame: pd.DataFrame) -> np.ndarray:
    return frame[["z", "y", "x"]].to_numpy(dtype=np.float64)


#: File orders of the TM picks (see the module docstring).
TM_PICK_ORDERS = ("class_weight", "score")


def merge_tm(candidates: list[pd.DataFrame], merge_distance_voxels: float = 0.0,
             pick_order: str = "class_weight") -> pd.DataFrame:
    """TM: all classes' candidates in one list; of picks closer than ``merge_distance_voxels``
    (inclusive; 0 = the same rounded voxel) only the best normalised score survives.

    Returns picks with columns ``class_name, x, y, z, score`` (score = normalised score), in
    ``pick_order``: ``class_weight`` = fiducials, then classes by decreasing molecular weight,
    each by decreasing score; ``score`` = all by decreasing score.
    """
    if pick_order not in TM_PICK_ORDERS:
        raise InputError(f"TM pick_order must be one of {TM_PICK_ORDERS}, got {pick_order!r}")
    frame = pd.concat([c for c in candidates if len(c)], ignore_index=True) if any(
        len(c) for c in candidates) else pd.DataFrame(columns=CANDIDATE_COLUMNS)
    if frame.empty:
        return pd.DataFrame(columns=["class_name", "x", "y", "z", "score"])
    positions = _positions(frame)
    if merge_distance_voxels <= 0:
        positions = np.round(positions)
    kept = greedy_deduplicate(positions, frame["zscore"].to_numpy(),
                              max(merge_distance_voxels, 0.0))
    picks = frame.iloc[kept]
    if pick_order == "class_weight":
        weight_rank = picks["class_name"].map(_heaviest_first_rank)
        picks = picks.iloc[np.argsort(weight_rank.to_numpy(), kind="stable")]
    return _as_picks(picks)


def _heaviest_first_rank(name: str) -> float:
    """Sort key: fiducials first, then proteins by decreasing molecular weight, others last."""
    if name == "fiducial":
        return -math.inf
    record = TABLE1.get(name)
    if record is None or record.molecular_weight_kda is None:
        return math.inf
    return -record.molecular_weight_kda


def class_rank(class_order: list[str] | tuple[str, ...] | None):
    """Sort key of class names for TM-F: ``fiducial`` first, then ``class_order`` (default
    ``tomobench.classes.TM_F_ORDER``: the paper's order, round and symmetrical complexes first),
    then the rest (by name).

    Raises ``InputError`` for a name that is no SHREC class or is given twice.
    """
    order = list(TM_F_ORDER if class_order is None else class_order)
    unknown = sorted(set(order) - set(SHREC_CLASS_NAMES))
    if unknown or len(set(order)) != len(order):
        raise InputError(f"methods.<TM-F>.class_order: unknown or repeated classes "
                         f"{unknown or sorted({n for n in order if order.count(n) > 1})}; "
                         f"known: {', '.join(SHREC_CLASS_NAMES)}")

    def rank(name: str) -> tuple[int, int, str]:
        if name == "fiducial":
            return (0, 0, name)
        if name in order:
            return (1, order.index(name), name)
        return (2, 0, name)

    return rank


def filter_tm_f(candidates: list[pd.DataFrame], class_order=None,
                radius_scale: float = 1.0) -> pd.DataFrame:
    """TM-F: candidates class by class (``class_rank``), each class by decreasing score; a
    candidate is dropped when ``distance < radius_scale (r_i + r_j)`` to any accepted particle
    (``radius_voxels`` of both; 1.0 = the paper's sum of radii).

    Returns picks ``class_name, x, y, z, score`` (score = normalised score) in acceptance order.
    """
    frames = [c for c in candidates if len(c)]
    if not frames:
        return pd.DataFrame(columns=["class_name", "x", "y", "z", "score"])
    frame = pd.concat(frames, ignore_index=True)
    rank = class_rank(class_order)
    keys = frame["class_name"].map(rank)
    frame = frame.assign(_rank=keys.map(lambda k: (k[0], k[1])).map(lambda k: k[0] * 1000 + k[1]),
                         _name=frame["class_name"])
    frame = frame.sort_values(["_rank", "_name", "zscore"], ascending=[True, True, False],
                              kind="mergesort").reset_index(drop=True)
    keep = non_overlapping(_positions(frame), radius_scale * frame["radius_voxels"].to_numpy())
    picks = frame[keep]
    return _as_picks(picks)
