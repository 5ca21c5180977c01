"""Rotations: SO(3) sampling and cubic B-spline volume rotation.

Angles follow the one convention of :mod:`tomobench.orientation` (the SHREC 2021 one):
``(a1, a2, a3)`` in degrees give R = Rz(a1) Rx(a2) Rz(a3) acting on ``(x, y, z)`` column vectors.
A rotated particle's potential is ``q(r) = p(Rᵀ (r − c) + c)`` about its centre voxel
``c = n // 2``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from tomobench.orientation import euler_deg_from_rotation, rotation_matrix_xyz

__all__ = ["Rotator", "rotate_volume", "rotation_matrix_xyz", "sample_euler_angles_deg"]

ORIENTATION_SAMPLINGS = ("uniform", "faithful")


def sample_euler_angles_deg(rng: np.random.Generator, count: int, sampling: str) -> np.ndarray:
    """Draw ``count`` Euler triples (degrees, :mod:`tomobench.orientation`), shape ``(count, 3)``.

    ``uniform``: Haar measure on SO(3). ``faithful``: the SHREC'21 draw (survey §4.5):
    a1 = arccos(2u − 1) (a polar-type angle used as a *z* rotation), a2, a3 ~ U(0, 360),
    so that cos(a2) — the z component of the rotated z axis — is arcsine-distributed instead of
    uniform (≈2× too many particles with their z axis near ±z).
    """
    if sampling == "uniform":
        if count == 0:
            return np.zeros((0, 3))
        return euler_deg_from_rotation(Rotation.random(count, random_state=rng))
    if sampling == "faithful":
        u = rng.random((count, 3))
        return np.stack(
            [np.degrees(np.arccos(2 * u[:, 0] - 1)), 360 * u[:, 1], 360 * u[:, 2]], axis=1
        )
    raise ValueError(
        f"orientation sampling must be one of {ORIENTATION_SAMPLINGS}, got {sampling!r}"
    )


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


#: Zero padding of the prefiltered coefficients (voxels) and the extra radius beyond the
#: object's support out to which rotated values are evaluated (B-spline overshoot).
_PAD_VOXELS = 4
_SUPPORT_MARGIN_VOXELS = 3


class Rotator:
    """Cubic B-spline rotations of one complex ``(z, y, x)`` potential about voxel ``n // 2``.

    Equivalent to :func:`rotate_volume` but faster for repeated use: the B-spline
    coefficients are computed once, and only output voxels within the support radius of the
    potential (+3 voxels) are interpolated — a rotation about the centre keeps distances, so
    every other output voxel is zero.

    ``support_fraction`` > 0 narrows the interpolated voxels further to those whose source
    lies within 3 voxels of a voxel with ``|V|`` above that fraction of the peak: the Fourier
    ringing of an atomic potential (values < 10⁻³ of the peak) otherwise fills its whole box,
    about 3–5× the molecule's volume for the large complexes. Output voxels left out are 0,
    as are those whose source lies beyond the padded grid.

    An optional boolean ``solid`` mask of the same shape (e.g. the particle's solid envelope)
    is rotated along with the potential by nearest-neighbour lookup at the same coordinates;
    the rotated mask always contains the ball of ``centre_ball_radius`` voxels about the
    centre (added after rotation, so that no voxel of it is lost to rounding).
    """

    def __init__(self, volume: np.ndarray, solid: np.ndarray | None = None,
                 centre_ball_radius: float = 0.0, support_fraction: float = 0.0):
        self.shape = volume.shape
        #: peaks of the unrotated potential (references for occupancy thresholds)
        self.imag_peak = float(volume.imag.max())
        self.real_peak = float(np.abs(volume.real).max())
        self.centre = np.array([n // 2 for n in volume.shape], dtype=float)
        grid = np.indices(volume.shape).reshape(3, -1).T - self.centre
        distance = np.sqrt((grid**2).sum(axis=1))
        magnitude = np.abs(volume)
        support = magnitude > support_fraction * float(magnitude.max())
        if solid is not None:
            if solid.shape != volume.shape:
                raise ValueError(f"solid mask {solid.shape} differs from volume {volume.shape}")
            support |= solid
        occupied = support.ravel()
        # dilated in the padded grid: sources just beyond a face the potential touches take
        # the spline's values there; sources beyond the padded grid (cube corners) read 0,
        # not the mirror image of the coefficients
        self._support = ndimage.binary_dilation(np.pad(support, _PAD_VOXELS),
                                                iterations=_SUPPORT_MARGIN_VOXELS)
        radius = distance[occupied].max() + _SUPPORT_MARGIN_VOXELS if occupied.any() else -1.0
        self._inside = np.nonzero(distance <= radius)[0]
        # (3, points) float32 offsets from the centre, (z, y, x)
        self._offsets = np.ascontiguousarray(grid[self._inside].T, dtype=np.float32)
        padded = np.pad(volume, _PAD_VOXELS)
        self._parts = [
            ndimage.spline_filter(np.ascontiguousarray(part, np.float32), 3, np.float32, "mirror")
            for part in (padded.real, padded.imag)
        ]
        self._solid = None if solid is None else np.pad(solid.astype(bool), _PAD_VOXELS)
        self._centre_ball = distance[self._inside] <= centre_ball_radius

    @property
    def has_solid(self) -> bool:
        return self._solid is not None

    def _source(self, angles_deg) -> np.ndarray:
        """``(3, points)`` input coordinates (padded grid) of the output voxels in support."""
        inverse_zyx = rotation_matrix_xyz(angles_deg).T[::-1, ::-1]
        source = np.empty_like(self._offsets)
        for axis in range(3):
            row = inverse_zyx[axis].astype(np.float32)
            source[axis] = self.centre[axis] + _PAD_VOXELS
            for k in range(3):
                source[axis] += row[k] * self._offsets[k]
        return source

    def _nearest(self, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``mask`` (padded grid) at the nearest voxel of each source point, bool."""
        # clipped onto the zero padding: coordinates beyond the cube fall outside the mask
        index = np.rint(source).astype(np.intp)
        for axis, size in enumerate(mask.shape):
            np.clip(index[axis], 0, size - 1, out=index[axis])
        return mask[index[0], index[1], index[2]]

    def rotate(self, angles_deg) -> np.ndarray:
        """The potential rotated by Euler angles (degrees, tomobench.orientation), complex64
        of the input shape."""
        return self._rotate_potential(self._source(angles_deg))

    def rotate_with_solid(self, angles_deg) -> tuple[np.ndarray, np.ndarray]:
        """The rotated potential and the rotated ``solid`` mask (bool, input shape)."""
        if self._solid is None:
            raise ValueError("this Rotator was built without a solid mask")
        source = self._source(angles_deg)
        mask = np.zeros(int(np.prod(self.shape)), dtype=bool)
        mask[self._inside] = self._nearest(source, self._solid) | self._centre_ball
        return self._rotate_potential(source), mask.reshape(self.shape)

    def _rotate_potential(self, source: np.ndarray) -> np.ndarray:
        out = np.zeros(int(np.prod(self.shape)), dtype=np.complex64)
        keep = np.flatnonzero(self._nearest(source, self._support))
        inside, source = self._inside[keep], source.take(keep, axis=1)
        for part, target in zip(self._parts, (out.real, out.imag), strict=True):
            target[inside] = ndimage.map_coordinates(
                part, source, order=3, prefilter=False, mode="mirror", output=np.float32
            )
        return out.reshape(self.shape)


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
