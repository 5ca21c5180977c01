"""Rotations: Euler-angle convention, SO(3) sampling and cubic B-spline volume rotation.

Convention (used in ``particle_locations.txt``): angles ``(a1, a2, a3)`` in degrees are
*extrinsic* ZXZ: rotate the particle about the fixed z axis by a1, then about the fixed x axis
by a2, then about z by a3 (scipy ``Rotation.from_euler("zxz", ...)``); the matrix acts on
``(x, y, z)`` column vectors, R = Rz(a3) Rx(a2) Rz(a1). A rotated particle's potential is
``q(r) = p(Rᵀ (r − c) + c)`` about its centre voxel ``c = n // 2``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

ORIENTATION_SAMPLINGS = ("uniform", "faithful")


def sample_euler_angles_deg(rng: np.random.Generator, count: int, sampling: str) -> np.ndarray:
    """Draw ``count`` ZXZ Euler triples (degrees), shape ``(count, 3)``.

    ``uniform``: Haar measure on SO(3). ``faithful``: the SHREC'21 draw (survey §4.5):
    a1 = arccos(2u − 1) (a polar-type angle used as the *first z* rotation), a2, a3 ~ U(0, 360),
    so that cos(a2) — the z component of the rotated z axis — is arcsine-distributed instead of
    uniform (≈2× too many particles with their z axis near ±z).
    """
    if sampling == "uniform":
        if count == 0:
            return np.zeros((0, 3))
        return Rotation.random(count, random_state=rng).as_euler("zxz", degrees=True)
    if sampling == "faithful":
        u = rng.random((count, 3))
        return np.stack(
            [np.degrees(np.arccos(2 * u[:, 0] - 1)), 360 * u[:, 1], 360 * u[:, 2]], axis=1
        )
    raise ValueError(
        f"orientation sampling must be one of {ORIENTATION_SAMPLINGS}, got {sampling!r}"
    )


def rotation_matrix_xyz(angles_deg) -> np.ndarray:
    """3×3 matrix acting on ``(x, y, z)`` vectors for ZXZ extrinsic angles (degrees)."""
    return Rotation.from_euler("zxz", np.asarray(angles_deg, dtype=float), degrees=True).as_matrix()


def rotate_volume(volume: np.ndarray, angles_deg, order: int = 3) -> np.ndarray:
    """Rotate a ``(z, y, x)`` volume about its centre voxel ``n // 2`` (per axis).

    Cubic B-spline (``order=3``, pre-filtered) via ``scipy.ndimage.affine_transform``; complex
    volumes are rotated part by part. Outside the input is zero. Returns the same shape/dtype.
    """
    rotation = rotation_matrix_xyz(angles_deg)
    # Output index (z, y, x) -> input index: reverse axes to use the (x, y, z) matrix.
    inverse_zyx = rotation.T[::-1, ::-1]
    centre = np.array([n // 2 for n in volume.shape], dtype=float)
    offset = centre - inverse_zyx @ centre
    if np.iscomplexobj(volume):
        out = np.empty_like(volume)
        out.real = _affine(volume.real, inverse_zyx, offset, order)
        out.imag = _affine(volume.imag, inverse_zyx, offset, order)
        return out
    return _affine(volume, inverse_zyx, offset, order).astype(volume.dtype, copy=False)


def _affine(part: np.ndarray, matrix: np.ndarray, offset: np.ndarray, order: int) -> np.ndarray:
    return ndimage.affine_transform(
        np.ascontiguousarray(part, dtype=np.float32),
        matrix,
        offset=offset,
        order=order,
        mode="grid-constant",
        cval=0.0,
        prefilter=True,
        output=np.float32,
    )
