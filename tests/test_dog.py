"""DoG picker: planted blobs found and classified by size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tomobench.errors import InputError
from tomobench.methods.dog import (
    ScaleClassifier,
    calibrate,
    class_radii_nm,
    dog_pick,
    pick,
)


def _ball(shape, centre, radius, amplitude):
    grid = np.indices(shape, dtype=np.float32)
    distance = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)))
    return amplitude / (1 + np.exp(np.minimum((distance - radius) / 0.5, 50)))


def _scene(contrast=-1.0, noise=0.3, seed=0):
    shape = (40, 80, 80)
    volume = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * noise
    small = [(12, 15, 15), (28, 20, 60), (20, 60, 20)]
    large = [(20, 40, 40), (20, 62, 62)]
    for centre in small:
        volume += _ball(shape, centre, 2.8, contrast)  # 1S3X-sized (2.79 nm at 1 nm voxels)
    for centre in large:
        volume += _ball(shape, centre, 8.6, contrast)  # 4CR2-sized (8.61 nm)
    return volume, small, large


def _match(picks, truth, tolerance=2.0):
    """Class of the pick nearest to each true centre (None if farther than ``tolerance``)."""
    positions = picks[["z", "y", "x"]].to_numpy()
    classes = []
    for centre in truth:
        distance = np.linalg.norm(positions - np.array(centre), axis=1)
        k = int(np.argmin(distance))
        classes.append(picks.class_name.iloc[k] if distance[k] <= tolerance else None)
    return classes


def test_dog_finds_and_sizes_planted_blobs():
    volume, small, large = _scene()
    picks = dog_pick(volume, 1.0, ["1S3X", "4CR2"], threshold_sigma=5.0)
    assert _match(picks, small) == ["1S3X"] * 3
    assert _match(picks, large) == ["4CR2"] * 2
    assert len(picks) == 5  # no noise peak reaches 5 robust sigma
    assert list(picks.columns) == ["class_name", "x", "y", "z", "score"]
    assert picks.score.is_monotonic_decreasing


def test_dog_bright_contrast_and_reproducible():
    volume, small, large = _scene(contrast=1.0, seed=1)
    params = {"threshold_sigma": 5.0, "contrast": "bright", "calibration": "radii"}
    picks = pick(volume, 1.0, ["1S3X", "4CR2"], params)
    assert _match(picks, small + large) == ["1S3X"] * 3 + ["4CR2"] * 2
    assert picks.equals(pick(volume, 1.0, ["1S3X", "4CR2"], params))
    dark = pick(volume, 1.0, ["1S3X", "4CR2"], {"threshold_sigma": 5.0, "calibration": "radii"})
    assert all(c is None for c in _match(dark, small + large, tolerance=1.0))


def test_dog_parameters_are_checked():
    volume, _, _ = _scene()
    with pytest.raises(InputError, match="unknown keys"):
        pick(volume, 1.0, ["1S3X"], {"sigma": 2})
    with pytest.raises(InputError, match="radii_nm"):
        class_radii_nm(["4V94"])
    assert class_radii_nm(["4V94"], {"4V94": 9.0}) == {"4V94": 9.0}
    assert class_radii_nm(["1S3X", "5MRC"]) == pytest.approx({"1S3X": 2.788, "5MRC": 11.50},
                                                             abs=1e-3)


def _tomogram_like(seed: int):
    """Four classes at tomogram-like SNR with the low frequencies removed, as by the CTF."""
    from scipy import ndimage

    shape = (48, 160, 160)
    rng = np.random.default_rng(seed)
    volume = rng.standard_normal(shape).astype(np.float32) * 1.2
    sizes = {"1S3X": 2.79, "2CG9": 4.58, "1BXN": 6.25, "4CR2": 8.61}
    rows = []
    for row, (name, radius) in enumerate(sizes.items()):
        for column in range(4):
            centre = (24 + int(rng.integers(-3, 4)), 20 + 38 * row, 20 + 38 * column)
            volume += _ball(shape, centre, radius, -1.0)
            rows.append((name, centre[2], centre[1], centre[0]))
    volume -= ndimage.gaussian_filter(volume, 12.0)
    return volume, pd.DataFrame(rows, columns=["class_name", "x", "y", "z"]), list(sizes)


def test_calibrated_scale_classes_on_noisy_band_passed_data():
    """The scale of a noisy, band-passed blob is not √3 σ of any fixed rule (the geometric rule
    mislabels most of them); learned from a training volume, it classifies a test volume."""
    train, train_truth, classes = _tomogram_like(3)
    test, test_truth, _ = _tomogram_like(4)
    params = {"threshold_sigma": 4.0}
    classifier = calibrate([(train, train_truth)], 1.0, classes, params)
    assert classifier.classes == sorted(classes) and classifier.counts == [4, 4, 4, 4]
    centres = [tuple(r) for r in test_truth[["z", "y", "x"]].to_numpy()]
    picks = pick(test, 1.0, classes, params, classifier)
    found = _match(picks, centres, tolerance=3.0)
    correct = sum(f == n for f, n in zip(found, test_truth["class_name"], strict=True))
    assert correct >= 12, list(zip(found, test_truth["class_name"], strict=True))
    geometric = pick(test, 1.0, classes, {**params, "calibration": "radii"})
    found = _match(geometric, centres, tolerance=3.0)
    assert sum(f == n for f, n in zip(found, test_truth["class_name"], strict=True)) < correct
    restored = ScaleClassifier.from_json(classifier.to_json())
    assert restored.predict(np.array([[1.0, 2.0]])) == classifier.predict(np.array([[1.0, 2.0]]))
    with pytest.raises(InputError, match="no scale calibration"):
        pick(test, 1.0, classes, params)
    with pytest.raises(InputError, match="another scale space"):
        pick(test, 1.0, classes, {**params, "sigma_ratio": 1.4}, classifier)


def test_threshold_tuned_on_the_calibration_tomograms():
    """threshold_sigma: null picks the grid value with the best localisation F1 on the
    calibration tomograms; a tuned threshold is then used by pick()."""
    from tomobench.methods.dog import THRESHOLD_GRID

    train, truth, classes = _tomogram_like(3)
    occupancy = np.zeros(train.shape, dtype=np.int32)
    for k, row in enumerate(truth.itertuples(), start=1):
        occupancy[row.z - 2:row.z + 3, row.y - 2:row.y + 3, row.x - 2:row.x + 3] = k
    params = {"threshold_sigma": None}
    classifier = calibrate([(train, truth)], 1.0, classes, params, [occupancy])
    thresholds = [t for t, _ in classifier.threshold_scores]
    assert thresholds == list(THRESHOLD_GRID)
    best = max(f1 for _, f1 in classifier.threshold_scores)
    assert dict(classifier.threshold_scores)[classifier.threshold_sigma] == best > 0.8
    test, _, _ = _tomogram_like(4)
    tuned = pick(test, 1.0, classes, params, classifier)
    fixed = pick(test, 1.0, classes, {"threshold_sigma": classifier.threshold_sigma},
                 classifier)
    assert tuned.equals(fixed)
    with pytest.raises(InputError, match="occupancy"):
        calibrate([(train, truth)], 1.0, classes, params)
