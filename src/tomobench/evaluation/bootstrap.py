"""Bootstrap confidence intervals of the SHREC metrics.

One test tomogram holds a few hundred particles, so its F1 scores are noisy. The intervals
resample the *units* of a scored submission with replacement:

- every ground-truth particle together with the picks that hit it (its hit count, the class
  of its first hit, whether it counts in the recall denominator N and how many of its hits
  count in RR — see :class:`Units`);
- every false-positive pick line (a pick on background).

Both kinds are drawn from one pool, so the numbers of particles and of false positives vary
between resamples as they would between tomograms of the same particle and false-positive
density. Each resample gives RR, N, TP and the first-hit confusion counts, and from them
recall, precision, localisation F1, per-class F1 (one-vs-rest, as Table 4), the size-group
means (Table 6), the mean over Table 4's classes and the Spearman correlation of the
proteins' F1 with molecular weight. The interval is the percentile interval (default 2.5 % and
97.5 %) over the resamples where the metric is defined. With all weights equal to one the same
formulas give exactly the point estimates of :func:`tomobench.evaluation.shrec.score_picks`
(tested).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from tomobench.classes import SHREC_CLASS_NAMES, SIZE_GROUPS, SIZE_ORDER, TABLE1, TABLE4_CLASSES

#: Localisation metrics that get an interval.
LOCALIZATION_METRICS = ("recall", "precision", "F1")
#: Summary "groups" beside the size groups: the mean F1 over Table 4's classes, and the
#: Spearman correlation of the proteins' F1 with their molecular weight.
ALL_CLASSES = "all"
WEIGHT_CORRELATION = "spearman_weight"


@dataclass(frozen=True, eq=False)
class Units:
    """The resampling units of one or more scored submissions.

    Arrays are ``(n_particles,)``, one entry per ground-truth particle (excluded classes
    included):

    - ``class_id``: SHREC class id of the particle;
    - ``predicted_class_id``: class of its first hit (0 when missed, excluded or not a class);
    - ``hits``: pick lines that hit it;
    - ``counted_in_n``: 1 when it counts in the recall denominator N;
    - ``hits_in_rr``: its hits that count in RR;
    - ``scored``: 1 when it is scored (TP/FN and the confusion matrix).

    ``false_positive_lines`` is the number of picks on background (each counts 1 in RR);
    ``class_names`` names the class ids (the SHREC table unless the truth has its own).
    """

    class_id: np.ndarray
    predicted_class_id: np.ndarray
    hits: np.ndarray
    counted_in_n: np.ndarray
    hits_in_rr: np.ndarray
    scored: np.ndarray
    false_positive_lines: int
    class_names: tuple[str, ...] = SHREC_CLASS_NAMES

    ARRAYS = ("class_id", "predicted_class_id", "hits", "counted_in_n", "hits_in_rr", "scored")

    def to_json(self) -> dict:
        return {**{name: getattr(self, name).tolist() for name in self.ARRAYS},
                "false_positive_lines": int(self.false_positive_lines),
                "class_names": list(self.class_names)}

    @classmethod
    def from_json(cls, payload: dict) -> Units:
        arrays = {name: np.asarray(payload[name], dtype=np.int64) for name in cls.ARRAYS}
        names = tuple(payload.get("class_names") or SHREC_CLASS_NAMES)
        return cls(**arrays, false_positive_lines=int(payload["false_positive_lines"]),
                   class_names=names)

    @classmethod
    def concatenate(cls, parts: Sequence[Units]) -> Units:
        """The units of several tomograms as one pool (their counts add up); all must share
        one class table."""
        tables = {p.class_names for p in parts}
        if len(tables) > 1:
            raise ValueError("cannot pool evaluations with different class tables")
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]).astype(np.int64)
                  for name in cls.ARRAYS}
        return cls(**arrays, false_positive_lines=sum(p.false_positive_lines for p in parts),
                   class_names=parts[0].class_names if parts else SHREC_CLASS_NAMES)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def metrics_from_weights(units: Units, particle_weights: np.ndarray,
                         false_positive_weight: np.ndarray, classes: Sequence[str]) -> dict:
    """Metrics for every row of weights.

    Parameters
    ----------
    particle_weights : ``(resamples, n_particles)`` how often each particle was drawn.
    false_positive_weight : ``(resamples,)`` false-positive lines drawn.
    classes : class names whose one-vs-rest F1 is computed.

    Returns
    -------
    dict of ``(resamples,)`` float arrays: ``recall``, ``precision``, ``F1``, ``class:<name>``,
    ``group:<name>`` (NaN where undefined).
    """
    scored = units.scored.astype(bool)
    actual, predicted = units.class_id, units.predicted_class_id
    # every count is a weighted sum over particles: one (n_particles, k) matrix, one product
    columns = [scored & (units.hits > 0), units.counted_in_n, units.hits_in_rr]
    for name in classes:
        c = units.class_names.index(name)
        columns += [scored & (actual == c) & (predicted == c),
                    scored & (actual == c) & (predicted != c),
                    scored & (actual != c) & (predicted == c)]
    counts = np.asarray(particle_weights, dtype=np.float64) @ np.stack(columns, axis=1).astype(
        np.float64)
    tp, n = counts[:, 0], counts[:, 1]
    rr = counts[:, 2] + false_positive_weight
    recall = _ratio(tp, n)
    precision = np.where(rr > 0, _ratio(tp, rr), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where((recall > 0) & (precision > 0),
                      2 * recall * precision / (recall + precision), 0.0)
    out = {"recall": recall, "precision": precision, "F1": np.where(np.isnan(recall), np.nan, f1)}
    for index, name in enumerate(classes):
        tp_c, fn_c, fp_c = counts[:, 3 + 3 * index:6 + 3 * index].T
        out[f"class:{name}"] = _ratio(2 * tp_c, 2 * tp_c + fp_c + fn_c)
    for group, members in {**SIZE_GROUPS, ALL_CLASSES: TABLE4_CLASSES}.items():
        present = [out[f"class:{m}"] for m in members if m in classes]
        if present:
            stacked = np.stack(present)
            defined = np.isfinite(stacked).sum(axis=0)
            total = np.nansum(stacked, axis=0)
            out[f"group:{group}"] = np.where(defined > 0, total / np.maximum(defined, 1), np.nan)
    proteins = [m for m in SIZE_ORDER if m in classes]
    if len(proteins) >= 3:
        out[f"group:{WEIGHT_CORRELATION}"] = spearman_with_weight(
            np.stack([out[f"class:{m}"] for m in proteins], axis=1), proteins)
    return out


def spearman_with_weight(class_f1: np.ndarray, proteins: Sequence[str]) -> np.ndarray:
    """Spearman rank correlation between per-class F1 and molecular weight (the paper's Table 1),
    row by row.

    Parameters
    ----------
    class_f1 : ``(rows, len(proteins))`` F1 values; ties get their average rank.

    Returns
    -------
    ``(rows,)``; NaN where a row has a NaN or all its F1 values are equal.
    """
    weights = np.array([TABLE1[name].molecular_weight_kda for name in proteins], dtype=float)
    f1 = np.atleast_2d(np.asarray(class_f1, dtype=np.float64))
    ranks = rankdata(f1, axis=1)
    weight_ranks = rankdata(weights)
    centred = ranks - ranks.mean(axis=1, keepdims=True)
    weight_centred = weight_ranks - weight_ranks.mean()
    norm = np.sqrt((centred ** 2).sum(axis=1) * (weight_centred ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (centred @ weight_centred) / norm
    return np.where(np.isnan(f1).any(axis=1) | (norm == 0), np.nan, rho)


def scored_classes(units: Units) -> list[str]:
    """Class names that appear as actual or first-hit class of a scored particle."""
    scored = units.scored.astype(bool)
    ids = set(units.class_id[scored].tolist()) | set(units.predicted_class_id[scored].tolist())
    return [units.class_names[i] for i in sorted(ids - {0})]


def resample_weights(n_units: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(resamples, n_units)`` counts of each unit in resamples of size ``n_units``."""
    if n_units == 0:
        return np.zeros((resamples, 0), dtype=np.int64)
    draws = rng.integers(0, n_units, size=(resamples, n_units))
    offsets = (np.arange(resamples, dtype=np.int64) * n_units)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=resamples * n_units)
    return counts.reshape(resamples, n_units)


def bootstrap_intervals(units: Units, resamples: int, rng: np.random.Generator,
                        confidence: float = 0.95) -> dict:
    """Percentile bootstrap intervals of the localisation, per-class and size-group metrics.

    Returns
    -------
    dict
        ``{"resamples", "confidence", "localization": {metric: [lo, hi]},
        "per_class_f1": {class: [lo, hi]}, "size_group_f1": {group: [lo, hi]}}``; an interval
        is ``[NaN, NaN]`` when the metric is undefined in every resample, and every interval
        is empty (``{}``) when ``resamples`` is 0.
    """
    resamples = int(resamples)
    result = {"resamples": resamples, "confidence": float(confidence), "localization": {},
              "per_class_f1": {}, "size_group_f1": {}}
    if resamples <= 0:
        return result
    n_particles = len(units.class_id)
    weights = resample_weights(n_particles + int(units.false_positive_lines), resamples, rng)
    classes = scored_classes(units)
    values = metrics_from_weights(units, weights[:, :n_particles],
                                  weights[:, n_particles:].sum(axis=1), classes)
    tail = 100 * (1 - confidence) / 2
    keys = [metric for metric in LOCALIZATION_METRICS]
    keys += [f"class:{name}" for name in classes]
    keys += [f"group:{group}" for group in (*SIZE_GROUPS, ALL_CLASSES, WEIGHT_CORRELATION)
             if f"group:{group}" in values]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: undefined everywhere
        bounds = np.nanpercentile(np.stack([values[k] for k in keys]), [tail, 100 - tail], axis=1)
    for key, low, high in zip(keys, bounds[0], bounds[1], strict=True):
        interval = [float(low), float(high)]
        if key.startswith("class:"):
            result["per_class_f1"][key[6:]] = interval
        elif key.startswith("group:"):
            result["size_group_f1"][key[6:]] = interval
        else:
            result["localization"][key] = interval
    return result


def point_estimates(units: Units) -> dict:
    """The metrics of the full (not resampled) units: ``metrics_from_weights`` with unit weights,
    as plain floats."""
    classes = scored_classes(units)
    values = metrics_from_weights(units, np.ones((1, len(units.class_id))),
                                  np.array([units.false_positive_lines]), classes)
    return {key: float(value[0]) for key, value in values.items()}
