"""Reference-free Difference-of-Gaussians picker (aitom-style DoG, multi-scale).

A Gaussian scale space ``G_k = G(σ_k) * V`` with ``σ_{k+1} = κ σ_k`` spans the particle radii;
each level ``D_k = (G_{k+1} - G_k) / (κ - 1)`` approximates the scale-normalised Laplacian
``σ² ∇² G`` at ``σ ≈ σ_k √κ`` and peaks at the centre of a dark blob of radius ``√3 σ``.
Each level is scored as a robust z-score (its median and 1.4826 × MAD: the noise differs
between scales); candidates are local maxima of the best z over levels that reach
``threshold_sigma``, at least ``min_distance_fraction`` × the smallest class radius apart.

Classification by size. A candidate's *scale profile* is its z at every level; its features
are the interpolated log scale of the best z and the log of that z. In a noisy, CTF-filtered
tomogram the σ²-normalised response itself is dominated by noise at the smallest scale (the
picker labelled nearly every particle 1S3X when it chose the scale by that response), so the
scale is taken from the noise-normalised profile. How that scale relates to a class depends
on the particle's shape, the CTF and the noise, so by default (``calibration: training``) the
map is learned from the training tomograms: a Gaussian per class over the two features at the
ground-truth particles (:class:`ScaleClassifier`), a candidate taking the most likely class.
The gold fiducials' z (tens of σ) makes them a class of their own. ``calibration: radii``
uses the geometric rule instead (the class whose radius is nearest ``√3 σ`` in log ratio).

Class radii (the scale range, the pick distance and the ``radii`` rule) default to
``tomobench.classes.SPHERE_RADIUS_NM``: the radius of the sphere with the volume of the paper's
Table 1 (``(3V / 4π)^(1/3)``, volume of the density thresholded at 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from tomobench.classes import SPHERE_RADIUS_NM
from tomobench.errors import InputError
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import GroundTruth
from tomobench.methods.kinds import ENTRY_KEYS
from tomobench.methods.peaks import (
    ball_offsets,
    greedy_peaks,
    non_overlapping,
    subvoxel_offsets,
)

#: Parameters of a ``dog`` method entry and their defaults.
DOG_DEFAULTS = {
    "radii_nm": None,
    "sigma_ratio": 1.25,
    "threshold_sigma": 8.0,
    "contrast": "dark",
    "min_distance_fraction": 1.0,
    "max_picks": None,
    "border_voxels": 2,
    "calibration": "training",
}
CALIBRATIONS = ("training", "radii")
#: Voxels around a training particle's listed centre searched for its DoG peak.
CALIBRATION_SEARCH_RADIUS_VOXELS = 2.0


def dog_options(params: dict) -> dict:
    """The parameters of a ``dog`` method entry over the defaults (unknown keys:
    ``InputError``; the :data:`~tomobench.methods.kinds.ENTRY_KEYS` are not options)."""
    given = {k: v for k, v in params.items() if k not in ENTRY_KEYS}
    unknown = sorted(set(given) - set(DOG_DEFAULTS))
    if unknown:
        raise InputError(f"methods.<DoG>: unknown keys {unknown}; known: {sorted(DOG_DEFAULTS)}")
    options = {**DOG_DEFAULTS, **given}
    if options["calibration"] not in CALIBRATIONS:
        raise InputError(f"methods.<DoG>.calibration: must be one of {CALIBRATIONS}, got "
                         f"{options['calibration']!r}")
    return options


def pick(tomogram: np.ndarray, voxel_size_nm: float, classes: list[str], params: dict,
         classifier: ScaleClassifier | None = None) -> pd.DataFrame:
    """``dog_pick`` with the parameters of a ``dog`` method entry; ``classifier`` (from
    :func:`calibrate`) is required with ``calibration: training``, and a null
    ``threshold_sigma`` takes its tuned threshold."""
    options = dog_options(params)
    if options["calibration"] == "training" and classifier is None:
        raise InputError("methods.<DoG>.calibration is 'training' but no scale calibration "
                         "was given")
    if options["threshold_sigma"] is None:
        if classifier is None or classifier.threshold_sigma is None:
            raise InputError("methods.<DoG>.threshold_sigma is null (tuned on the training "
                             "tomograms) but the calibration holds no tuned threshold")
        options["threshold_sigma"] = classifier.threshold_sigma
    options.pop("calibration")
    return dog_pick(tomogram, voxel_size_nm, classes, classifier=classifier, **options)


def class_radii_nm(classes: list[str], radii_nm: dict[str, float] | None = None
                   ) -> dict[str, float]:
    """Radius (nm) of each class: ``radii_nm`` entries override ``SPHERE_RADIUS_NM``."""
    table = {**SPHERE_RADIUS_NM, **(radii_nm or {})}
    missing = [c for c in classes if c not in table]
    if missing:
        raise InputError(f"methods.<DoG>.radii_nm: no radius for classes {missing}")
    return {c: float(table[c]) for c in classes}


def _robust_location_scale(volume: np.ndarray) -> tuple[float, float]:
    """Median and 1.4826 × MAD of a volume, from every 2nd voxel along each axis."""
    sample = volume[::2, ::2, ::2]
    median = float(np.median(sample))
    mad = float(np.median(np.abs(sample - median)))
    return median, (1.4826 * mad if mad > 0 else float(sample.std()) or 1.0)


def scale_sigmas(radii_nm: np.ndarray, voxel_size_nm: float, ratio: float) -> np.ndarray:
    """Increasing ``σ_k`` (voxels) whose levels span blobs of the given radii."""
    sigma_low = radii_nm.min() / math.sqrt(3.0) / voxel_size_nm / math.sqrt(ratio)
    sigma_high = radii_nm.max() / math.sqrt(3.0) / voxel_size_nm / math.sqrt(ratio)
    octaves = math.log(sigma_high / sigma_low) / math.log(ratio)
    levels = max(1, int(math.ceil(octaves - 1e-9)) + 1)
    return sigma_low * ratio ** np.arange(levels)


def _level_zscores(tomogram: np.ndarray, sigmas_voxels: np.ndarray, ratio: float,
                   contrast: str):
    """Yield the robust z-score map of every level ``D_k`` (float32 ``(z, y, x)``), in order."""
    if contrast not in ("dark", "bright"):
        raise InputError(f"methods.<DoG>.contrast must be 'dark' or 'bright', got {contrast!r}")
    volume = np.asarray(tomogram, dtype=np.float32)
    sign = 1.0 if contrast == "dark" else -1.0
    previous = ndimage.gaussian_filter(volume, float(sigmas_voxels[0]), mode="reflect")
    for k, sigma in enumerate(sigmas_voxels):
        wider = ndimage.gaussian_filter(volume, float(sigma) * ratio, mode="reflect")
        level = (wider - previous) * np.float32(sign / (ratio - 1.0))
        median, scale = _robust_location_scale(level)
        yield (level - median) / np.float32(scale)
        if k + 1 < len(sigmas_voxels) and abs(sigmas_voxels[k + 1] - sigma * ratio) < 1e-6:
            previous = wider
        elif k + 1 < len(sigmas_voxels):
            previous = ndimage.gaussian_filter(volume, float(sigmas_voxels[k + 1]), mode="reflect")


def dog_scale_space(tomogram: np.ndarray, sigmas_voxels: np.ndarray, ratio: float,
                    contrast: str = "dark") -> tuple[np.ndarray, np.ndarray]:
    """Detection map (best z over levels) and the level of that best z, per voxel.

    Parameters
    ----------
    tomogram : ``(z, y, x)``.
    sigmas_voxels : increasing ``σ_k`` (the last level uses ``σ_{K-1}`` and ``κ σ_{K-1}``).

    Returns
    -------
    zscore : float32 ``(z, y, x)``; scale_index : int8 ``(z, y, x)``.
    """
    best_z = np.full(np.shape(tomogram), -np.inf, dtype=np.float32)
    best_index = np.zeros(np.shape(tomogram), dtype=np.int8)
    for k, level_z in enumerate(_level_zscores(tomogram, sigmas_voxels, ratio, contrast)):
        better = level_z > best_z
        best_index[better] = k
        best_z[better] = level_z[better]
    return best_z, best_index


def scale_profiles(tomogram: np.ndarray, sigmas_voxels: np.ndarray, ratio: float,
                   contrast: str, points_zyx: np.ndarray) -> np.ndarray:
    """The z of every level at integer voxels ``points_zyx`` ``(n, 3)``: ``(n, levels)``."""
    index = tuple(np.asarray(points_zyx, dtype=np.intp).reshape(-1, 3).T)
    return np.stack([level_z[index] for level_z in
                     _level_zscores(tomogram, sigmas_voxels, ratio, contrast)], axis=1)


def scale_features(profiles: np.ndarray, sigmas_voxels: np.ndarray, ratio: float) -> np.ndarray:
    """``(n, 2)`` features of scale profiles ``(n, levels)``: the log effective σ of the best
    level, refined by a parabola through it and its neighbours in log σ, and log(best z)."""
    profiles = np.asarray(profiles, dtype=np.float64)
    log_sigma = np.log(np.asarray(sigmas_voxels, dtype=np.float64) * math.sqrt(ratio))
    best = np.argmax(profiles, axis=1)
    rows = np.arange(len(profiles))
    offset = np.zeros(len(profiles))
    inner = (best > 0) & (best < profiles.shape[1] - 1)
    left, centre, right = (profiles[rows[inner], best[inner] + d] for d in (-1, 0, 1))
    curvature = left - 2 * centre + right
    with np.errstate(invalid="ignore", divide="ignore"):
        offset[inner] = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
    step = math.log(ratio)
    peak = profiles[rows, best]
    return np.stack([log_sigma[best] + np.clip(offset, -0.5, 0.5) * step,
                     np.log(np.maximum(peak, 1e-3))], axis=1)


@dataclass
class ScaleClassifier:
    """A Gaussian per class over DoG scale features (:func:`scale_features`).

    ``classes`` names, ``means`` ``(C, 2)``, ``covariances`` ``(C, 2, 2)``; a candidate takes
    the class of highest likelihood (uniform prior: SHREC draws the classes uniformly).
    ``sigmas_voxels`` and ``ratio`` fix the scale space the features come from.
    """

    classes: list[str]
    means: np.ndarray
    covariances: np.ndarray
    sigmas_voxels: np.ndarray
    ratio: float
    counts: list[int]
    #: robust z-score chosen on the calibration tomograms (None: not tuned)
    threshold_sigma: float | None = None
    #: ``[[threshold, localisation F1], ...]`` of that choice
    threshold_scores: list = field(default_factory=list)

    #: Added to every covariance's diagonal (log units²): one class's spread never collapses.
    REGULARISATION = 1e-3

    @classmethod
    def fit(cls, features: np.ndarray, labels: list[str], sigmas_voxels: np.ndarray,
            ratio: float) -> ScaleClassifier:
        """Per-class mean and covariance; classes with fewer than three examples use the
        pooled covariance of all."""
        features = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels)
        names = sorted(set(labels.tolist()))
        if not names:
            raise InputError("DoG calibration: no training particle was found by the scale space")
        pooled = np.cov(features.T) if len(features) > 2 else np.eye(2) * 0.1
        means, covariances, counts = [], [], []
        for name in names:
            members = features[labels == name]
            means.append(members.mean(axis=0))
            cov = np.cov(members.T) if len(members) >= 3 else pooled
            covariances.append(np.asarray(cov) + cls.REGULARISATION * np.eye(2))
            counts.append(int(len(members)))
        return cls(names, np.array(means), np.array(covariances),
                   np.asarray(sigmas_voxels, dtype=np.float64), float(ratio), counts)

    def log_likelihoods(self, features: np.ndarray) -> np.ndarray:
        """``(n, C)`` Gaussian log densities."""
        features = np.asarray(features, dtype=np.float64).reshape(-1, 2)
        out = np.empty((len(features), len(self.classes)))
        for c, (mean, cov) in enumerate(zip(self.means, self.covariances, strict=True)):
            diff = features - mean
            solved = np.linalg.solve(cov, diff.T).T
            out[:, c] = -0.5 * (np.sum(diff * solved, axis=1) + np.log(np.linalg.det(cov)))
        return out

    def predict(self, features: np.ndarray) -> list[str]:
        return [self.classes[i] for i in np.argmax(self.log_likelihoods(features), axis=1)]

    def to_json(self) -> dict:
        return {"classes": self.classes, "means": self.means.tolist(),
                "covariances": self.covariances.tolist(),
                "sigmas_voxels": self.sigmas_voxels.tolist(), "ratio": self.ratio,
                "counts": self.counts, "threshold_sigma": self.threshold_sigma,
                "threshold_scores": self.threshold_scores}

    @classmethod
    def from_json(cls, payload: dict) -> ScaleClassifier:
        return cls(list(payload["classes"]), np.asarray(payload["means"], dtype=np.float64),
                   np.asarray(payload["covariances"], dtype=np.float64),
                   np.asarray(payload["sigmas_voxels"], dtype=np.float64),
                   float(payload["ratio"]), list(payload["counts"]),
                   payload.get("threshold_sigma"), list(payload.get("threshold_scores", [])))


def calibrate(tomograms: list[tuple[np.ndarray, pd.DataFrame]], voxel_size_nm: float,
              classes: list[str], params: dict,
              occupancies: list[np.ndarray] | None = None) -> ScaleClassifier:
    """Learn the scale → class map (and, with ``threshold_sigma: null``, the detection
    threshold) from annotated tomograms.

    ``tomograms`` are ``(volume (z, y, x), particle_locations frame)`` pairs; particles of
    ``classes`` and fiducials are used (vesicles and other classes are not). Each particle
    contributes the features of its strongest voxel within
    ``CALIBRATION_SEARCH_RADIUS_VOXELS`` of its listed centre. The threshold is the value of
    ``THRESHOLD_GRID`` with the best SHREC localisation F1 (``corrected`` mode, counts summed
    over the tomograms; ``occupancies`` are their occupancy masks): a candidate above a
    threshold is kept exactly when it is kept at a lower one (greedy suppression in order of
    decreasing z), so the tomograms are picked once, at the lowest threshold.
    """
    options = dog_options(params)
    radii = class_radii_nm(classes, options["radii_nm"])
    ratio = float(options["sigma_ratio"])
    sigmas = scale_sigmas(np.array(list(radii.values())), voxel_size_nm, ratio)
    offsets = ball_offsets(CALIBRATION_SEARCH_RADIUS_VOXELS)
    features, labels = [], []
    for volume, locations in tomograms:
        used = locations[locations["class_name"].isin([*classes, "fiducial"])]
        if used.empty:
            continue
        centres = used[["z", "y", "x"]].to_numpy(dtype=np.int64)
        points = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
        points = np.clip(points, 0, np.array(volume.shape) - 1)
        profiles = scale_profiles(volume, sigmas, ratio, options["contrast"], points)
        profiles = profiles.reshape(len(centres), len(offsets), -1)
        strongest = np.argmax(profiles.max(axis=2), axis=1)
        chosen = profiles[np.arange(len(centres)), strongest]
        features.append(scale_features(chosen, sigmas, ratio))
        labels += used["class_name"].tolist()
    if not features:
        raise InputError("DoG calibration: the training tomograms hold no particle of "
                         f"{classes}")
    classifier = ScaleClassifier.fit(np.concatenate(features), labels, sigmas, ratio)
    if options["threshold_sigma"] is None:
        if occupancies is None or len(occupancies) != len(tomograms):
            raise InputError("DoG calibration: tuning threshold_sigma needs the occupancy "
                             "mask of every calibration tomogram")
        classifier.threshold_scores = _threshold_scores(
            tomograms, occupancies, voxel_size_nm, classes, options, classifier)
        best = max(classifier.threshold_scores, key=lambda pair: (pair[1], pair[0]))
        classifier.threshold_sigma = float(best[0])
    return classifier


#: Robust z-scores tried by the calibration when ``threshold_sigma`` is null.
THRESHOLD_GRID = (3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0)


def _threshold_scores(tomograms, occupancies, voxel_size_nm, classes, options, classifier):
    """``[[threshold, localisation F1], ...]`` over ``THRESHOLD_GRID`` on annotated tomograms."""
    counts = np.zeros((len(THRESHOLD_GRID), 3))  # TP, FP, FN per threshold
    for (volume, locations), occupancy in zip(tomograms, occupancies, strict=True):
        truth = GroundTruth(tuple(locations["class_name"]),
                            locations[["z", "y", "x"]].to_numpy(dtype=np.int64),
                            occupancy, 0, tuple(volume.shape), voxel_size_nm)
        picking = {k: v for k, v in options.items() if k != "calibration"}
        picks = dog_pick(volume, voxel_size_nm, classes, classifier=classifier,
                         **{**picking, "threshold_sigma": THRESHOLD_GRID[0]})
        for k, threshold in enumerate(THRESHOLD_GRID):
            loc = score_picks(truth, picks[picks["score"] >= threshold],
                              mode="corrected")["localization"]
            counts[k] += (loc["TP"], loc["FP"], loc["FN"])
    f1 = 2 * counts[:, 0] / np.maximum(2 * counts[:, 0] + counts[:, 1] + counts[:, 2], 1)
    return [[float(t), float(v)] for t, v in zip(THRESHOLD_GRID, f1, strict=True)]


def dog_pick(tomogram: np.ndarray, voxel_size_nm: float, classes: list[str], *,
             radii_nm: dict[str, float] | None = None, sigma_ratio: float = 1.25,
             threshold_sigma: float = 8.0, contrast: str = "dark",
             min_distance_fraction: float = 1.0, max_picks: int | None = None,
             border_voxels: int = 2, classifier: ScaleClassifier | None = None
             ) -> pd.DataFrame:
    """Pick and classify blobs in ``tomogram`` ``(z, y, x)``.

    With a ``classifier`` (from :func:`calibrate` with the same radii and ratio) candidates take
    its most likely class, else the class whose radius is nearest ``√3 σ`` of their best level.

    Returns
    -------
    DataFrame ``class_name, x, y, z, score`` (float voxels; score = best robust z over scales),
    sorted by decreasing score.
    """
    if not classes:
        raise InputError("DoG picker: no classes to assign (structures.classes is empty)")
    if not sigma_ratio > 1:
        raise InputError(f"methods.<DoG>.sigma_ratio must be > 1, got {sigma_ratio}")
    radii = class_radii_nm(classes, radii_nm)
    radius_values = np.array(list(radii.values()))
    sigmas = scale_sigmas(radius_values, voxel_size_nm, sigma_ratio)
    if classifier is not None and not (
            len(classifier.sigmas_voxels) == len(sigmas)
            and np.allclose(classifier.sigmas_voxels, sigmas)
            and classifier.ratio == sigma_ratio):
        raise InputError("DoG scale calibration was made with another scale space (classes, "
                         "radii_nm or sigma_ratio changed): recalibrate")
    zscore, scale_index = dog_scale_space(tomogram, sigmas, sigma_ratio, contrast)
    min_distance = max(1.0, min_distance_fraction * radius_values.min() / voxel_size_nm)
    coords, values = greedy_peaks(zscore, min_distance, max_peaks=max_picks,
                                  threshold=threshold_sigma, border=border_voxels)
    if classifier is not None:
        features = scale_features(
            scale_profiles(tomogram, sigmas, sigma_ratio, contrast, coords), sigmas, sigma_ratio)
        names = classifier.predict(features) if len(coords) else []
    else:
        effective_sigma = sigmas[scale_index[tuple(coords.T)]] * math.sqrt(sigma_ratio)
        blob_radius_nm = math.sqrt(3.0) * effective_sigma * voxel_size_nm
        nearest = np.argmin(np.abs(np.log(blob_radius_nm[:, None] / radius_values[None, :])),
                            axis=1)
        names = [list(radii)[i] for i in nearest]
    # A blob's own size sets its exclusion zone: weaker picks within half the class radius of
    # a stronger one are parts of the same (larger) particle.
    own_radius_nm = np.array([radii.get(n, radius_values.min()) for n in names])
    keep = non_overlapping(coords, 0.5 * own_radius_nm / voxel_size_nm)
    coords, values = coords[keep], values[keep]
    names = [n for n, k in zip(names, keep, strict=True) if k]
    refined = coords + subvoxel_offsets(zscore, coords)
    return pd.DataFrame({
        "class_name": names,
        "x": refined[:, 2], "y": refined[:, 1], "z": refined[:, 0],
        "score": values.astype(np.float64),
    }, columns=["class_name", "x", "y", "z", "score"])
