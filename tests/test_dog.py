"""DoG picker: planted blobs found and classified by size."""

from __future__ import annotations

import numpy as np
import pytest

from tomobench.errors import InputError
from tomobench.methods.dog import VOLUME_RADII_NM, class_radii_nm, dog_pick, pick


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
    params = {"threshold_sigma": 5.0, "contrast": "bright"}
    picks = pick(volume, 1.0, ["1S3X", "4CR2"], params)
    assert _match(picks, small + large) == ["1S3X"] * 3 + ["4CR2"] * 2
    assert picks.equals(pick(volume, 1.0, ["1S3X", "4CR2"], params))
    dark = pick(volume, 1.0, ["1S3X", "4CR2"], {"threshold_sigma": 5.0})
    assert all(c is None for c in _match(dark, small + large, tolerance=1.0))


def test_dog_parameters_are_checked():
    volume, _, _ = _scene()
    with pytest.raises(InputError, match="unknown keys"):
        pick(volume, 1.0, ["1S3X"], {"sigma": 2})
    with pytest.raises(InputError, match="radii_nm"):
        class_radii_nm(["4V94"])
    assert class_radii_nm(["4V94"], {"4V94": 9.0}) == {"4V94": 9.0}
    assert set(VOLUME_RADII_NM) == {"1S3X", "3QM1", "3GL1", "3H84", "2CG9", "3D2F", "1U6G",
                                    "3CF3", "1BXN", "1QVR", "4CR2", "5MRC"}
