"""Geometric augmentations of training patches that respect the missing wedge.

Why these and not others
------------------------
The tilt axis is **y**: each tilt rotates the sample in the z-x plane, so the measured
Fourier region is the set of central planes containing the k_y axis with normals within the
tilt range, and the missing wedge is ``{k : angle between (k_x, k_z) and the k_x axis > tilt
max}``, extended along k_y. That set is invariant under every sign change of k_z, k_y, k_x, i.e.
under the axis flips of the patch and the 180° rotations about z, y or x. It is **not**
invariant under an in-plane (about z) 90° rotation: that swaps k_x and k_y and turns the
wedge into one about the x axis, an artefact the test data never shows. Arbitrary rotations
about y move the wedge too, except by 180°.

Flips about one axis (mirrors) keep the wedge but turn every molecule into its mirror image,
which does not occur in nature and may teach the network to ignore handedness; 180° rotations
are proper rotations. Hence the modes:

``"none"``
    identity only.
``"wedge"`` (default)
    the four proper rotations {identity, 180° about z, about y (DeepFinder's augmentation),
    about x}: keep the wedge and the handedness.
``"wedge_mirror"``
    all eight sign changes of (z, y, x): adds the mirrors (MC DS Net flipped x and y).
``"extended"``
    ``"wedge_mirror"`` plus in-plane 90° rotations (x <-> y swap): breaks the wedge geometry;
    an ablation switch, needs square y-x patches.
"""

from __future__ import annotations

import numpy as np

AUGMENT_MODES = ("none", "wedge", "wedge_mirror", "extended")

# Sign patterns (z, y, x) of the proper 180° rotations: identity, about z, about y, about x.
_PROPER_FLIPS = ((False, False, False), (False, True, True), (True, False, True),
                 (True, True, False))
_ALL_FLIPS = tuple((bool(z), bool(y), bool(x)) for z in (0, 1) for y in (0, 1) for x in (0, 1))


def draw_transform(rng: np.random.Generator, mode: str) -> tuple[tuple[bool, bool, bool], bool]:
    """Draw one transform of ``mode``: ``((flip_z, flip_y, flip_x), swap_yx)``."""
    if mode not in AUGMENT_MODES:
        raise ValueError(f"augment mode must be one of {AUGMENT_MODES}, got {mode!r}")
    if mode == "none":
        return (False, False, False), False
    flips = _PROPER_FLIPS if mode == "wedge" else _ALL_FLIPS
    chosen = flips[int(rng.integers(len(flips)))]
    swap = bool(rng.integers(2)) if mode == "extended" else False
    return chosen, swap


def apply_transform(array: np.ndarray, transform: tuple[tuple[bool, bool, bool], bool]
                    ) -> np.ndarray:
    """Apply a transform to the last three axes ``(z, y, x)`` of ``array`` (returns a copy)."""
    (flip_z, flip_y, flip_x), swap = transform
    axes = [axis for axis, flag in zip((-3, -2, -1), (flip_z, flip_y, flip_x), strict=True)
            if flag]
    out = np.flip(array, axis=axes) if axes else array
    if swap:
        if out.shape[-1] != out.shape[-2]:
            raise ValueError(f"in-plane 90° rotation needs square y-x patches, got {out.shape}")
        # A transpose then an x flip is a 90° rotation about z (a proper rotation).
        out = np.flip(np.swapaxes(out, -1, -2), axis=-1)
    return np.ascontiguousarray(out)


def augment(arrays: list[np.ndarray], rng: np.random.Generator, mode: str) -> list[np.ndarray]:
    """Apply one random transform of ``mode`` identically to every array (input and targets)."""
    transform = draw_transform(rng, mode)
    return [apply_transform(a, transform) for a in arrays]
