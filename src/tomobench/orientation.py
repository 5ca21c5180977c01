"""The one Euler-angle convention of tomobench, and its translations to other programs.

``particle_locations.txt`` gives each particle's orientation as three angles ``(a1, a2, a3)``
in degrees. The particle is the template rotated by

    R = Rz(a1) · Rx(a2) · Rz(a3)

acting on ``(x, y, z)`` column vectors about the template's centre voxel: the rotated potential is
``q(r) = p(Rᵀ (r − c) + c)``, and a feature at offset ``v`` from the template centre appears at
``R v`` from the particle centre. In scipy terms ``R = Rotation.from_euler("ZXZ", (a1, a2, a3))``
(upper case = intrinsic: about z by a1, then about the *new* x by a2, then the new z by a3).

This is what the SHREC 2021 simulator did: it passed the listed triple to
``voltools.transform(..., rotation=(a1, a2, a3), rotation_order="szxz")`` on arrays indexed
``[x, y, z]``; voltools negates the angles, builds the static-axes matrix
``M = Rz(−a3) Rx(−a2) Rz(−a1)`` and uses it as the output→input map of
``scipy.ndimage.affine_transform``, so the object turns by ``M⁻¹ = Rz(a1) Rx(a2) Rz(a3)``.

Other programs' conventions, all derived from :func:`rotation_from_euler_deg` here:

- RELION (``rlnAngleRot/Tilt/Psi``, ZYZ): RELION's matrix ``A(rot, tilt, psi)`` maps reference
  coordinates to particle coordinates, ``A = Rotation.from_euler("ZYZ", (rot, tilt, psi)).inv()``,
  so ``A = R`` gives ``(rot, tilt, psi)`` (:func:`relion_angles_deg`).
- copick points and CryoET Data Portal oriented points: a 3×3 (copick: 4×4 homogeneous)
  matrix "from object space to tomogram space" acting on ``(x, y, z)``: exactly ``R``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

#: scipy sequence of the tomobench/SHREC angles (intrinsic z, x', z'').
EULER_SEQUENCE = "ZXZ"
#: scipy sequence of RELION's angles (rot about z, tilt about y', psi about z''), inverted.
RELION_SEQUENCE = "ZYZ"


def _angles(angles_deg) -> np.ndarray:
    angles = np.asarray(angles_deg, dtype=float)
    if angles.shape[-1:] != (3,):
        raise ValueError(f"Euler angles must have 3 components, got shape {angles.shape}")
    return angles


def rotation_from_euler_deg(angles_deg) -> Rotation:
    """The rotation of ``particle_locations.txt`` angles (degrees), ``(3,)`` or ``(n, 3)``."""
    return Rotation.from_euler(EULER_SEQUENCE, _angles(angles_deg), degrees=True)


def euler_deg_from_rotation(rotation: Rotation) -> np.ndarray:
    """``particle_locations.txt`` angles (degrees) of ``rotation``, shape ``(n, 3)``."""
    return rotation.as_euler(EULER_SEQUENCE, degrees=True).reshape(-1, 3)


def rotation_matrix_xyz(angles_deg) -> np.ndarray:
    """``R`` (3×3, or ``(n, 3, 3)``) acting on ``(x, y, z)`` vectors for the given angles."""
    return rotation_from_euler_deg(angles_deg).as_matrix()


def relion_angles_deg(angles_deg) -> np.ndarray:
    """RELION ``(rlnAngleRot, rlnAngleTilt, rlnAnglePsi)`` in degrees, shape ``(n, 3)``.

    RELION's Euler matrix of the result equals :func:`rotation_matrix_xyz` of the input.
    """
    rotation = rotation_from_euler_deg(angles_deg)
    return rotation.inv().as_euler(RELION_SEQUENCE, degrees=True).reshape(-1, 3)


def rotation_from_relion_deg(relion_deg) -> Rotation:
    """Inverse of :func:`relion_angles_deg`: the particle rotation ``R`` of RELION angles."""
    return Rotation.from_euler(RELION_SEQUENCE, _angles(relion_deg), degrees=True).inv()


def homogeneous_matrices(angles_deg) -> np.ndarray:
    """``(n, 4, 4)`` copick transformations: ``R`` and no shift; NaN angles give the identity."""
    angles = _angles(angles_deg).reshape(-1, 3)
    matrices = np.tile(np.eye(4), (len(angles), 1, 1))
    known = np.all(np.isfinite(angles), axis=1)
    if known.any():
        matrices[known, :3, :3] = rotation_matrix_xyz(angles[known]).reshape(-1, 3, 3)
    return matrices
