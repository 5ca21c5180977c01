"""Gold fiducials: lumpy, near-spherical beads with gold's potential and absorption.

Gold's mean inner potential comes from its fcc lattice (4 atoms per (0.4078 nm)³ cell) and the
Peng 1996 factors: 4 K Σa(Au) / a³ ≈ 29.8 V; inside the bead the solvent (4.5301 V) is
replaced, so the real part is 29.8 − 4.53 V and the imaginary part
V_abs(gold) − V_abs(ice). Shape: an ellipsoid with diameter ~ U(``diameter_range_nm``) and the
two other axes scaled by U(0.9, 1.1), randomly rotated; its surface radius is modulated by a
smooth random field (relative amplitude ≈ 5 %, correlation ≈ ¼ of the radius) for lumpiness.
Voxel values are the inside fraction over ``oversampling``³ sub-samples.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from tomobench import seeding
from tomobench.errors import InputError
from tomobench.structures.absorption import absorption_potential_v
from tomobench.structures.potential import ICE_POTENTIAL_V, cube_size_voxels
from tomobench.structures.scattering_factors import atom_potential_integral_v_nm3

GOLD_LATTICE_NM = 0.4078
LUMP_AMPLITUDE = 0.05


def gold_inner_potential_v() -> float:
    """Mean potential of bulk gold (V) from the fcc lattice and Peng 1996 factors."""
    return 4.0 * atom_potential_integral_v_nm3("Au") / GOLD_LATTICE_NM**3


def check_gold_diameters(diameter_range_nm) -> tuple[float, float]:
    """``(min, max)`` bead diameter (nm); ``InputError`` naming the config key unless
    0 < min <= max."""
    low, high = float(diameter_range_nm[0]), float(diameter_range_nm[1])
    if not 0 < low <= high:
        raise InputError(f"potential.gold_diameter_nm: need 0 < min <= max, got {low}, {high}")
    return low, high


def gold_potential(
    seed: int,
    index: int,
    voxel_size_nm: float,
    diameter_range_nm: tuple[float, float],
    *,
    voltage_kv: float = 300.0,
    oversampling: int = 2,
    margin_nm: float = 1.0,
    absorption: bool = True,
) -> tuple[np.ndarray, dict]:
    """Complex potential (V) of gold bead ``index`` of the library, seeded by ``(seed, index)``.

    Returns ``(potential (n, n, n) complex64, info)``; the bead centre is voxel n//2.
    """
    low, high = check_gold_diameters(diameter_range_nm)
    rng = seeding.rng(seed, "gold", index)
    diameter = rng.uniform(low, high)
    axes = diameter / 2.0 * np.array([1.0, *rng.uniform(0.9, 1.1, size=2)])
    rotation = Rotation.random(random_state=rng)
    s = int(oversampling)
    n = cube_size_voxels(axes.max() * (1 + 4 * LUMP_AMPLITUDE), voxel_size_nm, margin_nm)
    n_fine = n * s
    fine_voxel = voxel_size_nm / s
    axis = ((np.arange(n_fine) - (s - 1) / 2.0) / s - n // 2) * voxel_size_nm
    zz, yy, xx = np.meshgrid(axis, axis, axis, indexing="ij")
    body = rotation.inv().apply(np.stack([zz, yy, xx], -1).reshape(-1, 3))
    radius = np.sqrt(((body / axes) ** 2).sum(-1)).reshape((n_fine,) * 3)
    noise = rng.standard_normal((n_fine,) * 3)
    lumps = ndimage.gaussian_filter(noise, sigma=max(axes.min() / 4.0 / fine_voxel, 1.0))
    lumps *= LUMP_AMPLITUDE / max(float(lumps.std()), 1e-12)
    inside = (radius <= 1.0 + lumps).astype(np.float64)
    fraction = inside.reshape(n, s, n, s, n, s).mean(axis=(1, 3, 5))
    potential = np.zeros((n,) * 3, dtype=np.complex64)
    potential.real = fraction * (gold_inner_potential_v() - ICE_POTENTIAL_V)
    if absorption:
        contrast = absorption_potential_v("gold", voltage_kv) - absorption_potential_v(
            "ice", voltage_kv
        )
        potential.imag = fraction * contrast
    info = {
        "diameter_nm": float(diameter),
        "semi_axes_nm": axes.tolist(),
        "volume_nm3": float(fraction.sum()) * voxel_size_nm**3,
        "gold_inner_potential_v": gold_inner_potential_v(),
        "shape": [n, n, n],
    }
    if not math.isfinite(info["volume_nm3"]) or info["volume_nm3"] <= 0:
        raise InputError("potential.gold_diameter_nm: bead has no volume at this voxel size")
    return potential, info
