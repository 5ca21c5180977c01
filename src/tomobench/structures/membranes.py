"""Vesicles: ellipsoidal lipid bilayers with a head-group / tail potential profile.

The bilayer is built from DPPC (C40H80NO8P; fluid-phase volumes of Nagle & Tristram-Nagle
2000: head group C10H18NO8P 0.319 nm³, two palmitoyl tails C30H62 0.913 nm³). For a bilayer of
thickness t each leaflet is t/2 thick and holds one lipid per area A_L = V_lipid / (t/2); the
tails fill |d| < D_C = (t/2)·V_C/V_L, the head groups the outer D_H = (t/2)·V_H/V_L.
Profile of the potential across the membrane (d = signed distance from the mid-plane):

- tails: a plateau of their mean potential P_C / V_C with erf edges (σ = 0.2 nm);
- head groups: two Gaussian peaks centred at ±(D_C + D_H/2), σ = D_H/2, each integrating
  to P_H / A_L per area (P = K Σ a_j of the atoms, Peng 1996);
- solvent: 4.5301 V subtracted over |d| < t/2 (erf edges); absorption = the same
  occupancy × (V_abs(lipid) − V_abs(ice)).

Heads are denser than tails, giving the two dark lines of a membrane. Each vesicle is an
ellipsoid (outer diameter drawn from ``diameter_range_nm``, the two other axes scaled by
U(0.8, 1)), randomly rotated, with voxel averages from ``oversampling``³ sub-samples in the
membrane shell. Distance to the ellipsoid is the first-order estimate (F − 1)/|∇F|.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation
from scipy.special import erf

from tomobench import seeding
from tomobench.errors import InputError
from tomobench.structures.absorption import absorption_potential_v
from tomobench.structures.potential import ICE_POTENTIAL_V, cube_size_voxels
from tomobench.structures.scattering_factors import atom_potential_integral_v_nm3

HEAD_COMPOSITION = {"C": 10, "H": 18, "N": 1, "O": 8, "P": 1}
TAIL_COMPOSITION = {"C": 30, "H": 62}
HEAD_VOLUME_NM3 = 0.319
TAIL_VOLUME_NM3 = 0.913
EDGE_SIGMA_NM = 0.2


def _integral(composition: dict[str, int]) -> float:
    return sum(n * atom_potential_integral_v_nm3(e) for e, n in composition.items())


def bilayer_profile(distance_nm: np.ndarray, thickness_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Electrostatic potential (V, without solvent) and occupancy (0..1) across a bilayer.

    ``distance_nm``: any-shape array of signed distances from the mid-plane.
    """
    lipid_volume = HEAD_VOLUME_NM3 + TAIL_VOLUME_NM3
    half = thickness_nm / 2.0
    area_nm2 = lipid_volume / half
    tail_half = half * TAIL_VOLUME_NM3 / lipid_volume
    head_width = half * HEAD_VOLUME_NM3 / lipid_volume
    d = np.abs(distance_nm)
    edge = EDGE_SIGMA_NM * math.sqrt(2.0)
    tail_level = _integral(TAIL_COMPOSITION) / TAIL_VOLUME_NM3
    tails = tail_level * 0.5 * (1.0 - erf((d - tail_half) / edge))
    sigma_head = head_width / 2.0
    head_peak = _integral(HEAD_COMPOSITION) / area_nm2 / (sigma_head * math.sqrt(2 * math.pi))
    heads = head_peak * np.exp(-0.5 * ((d - tail_half - head_width / 2.0) / sigma_head) ** 2)
    occupancy = 0.5 * (1.0 - erf((d - half) / edge))
    return tails + heads, occupancy


def _ellipsoid_distance(points, axes_nm: np.ndarray, offset_nm: float) -> np.ndarray:
    """Signed distance (nm) from the ellipsoid with semi-axes ``axes_nm − offset_nm``."""
    semi = axes_nm - offset_nm
    scaled = points / semi
    f = np.sqrt((scaled**2).sum(-1))
    grad = np.sqrt(((points / semi**2) ** 2).sum(-1)) / np.maximum(f, 1e-12)
    return (f - 1.0) / np.maximum(grad, 1e-12)


def check_vesicle_sizes(diameter_range_nm, thickness_nm: float) -> tuple[float, float]:
    """``(min, max)`` outer diameter (nm); ``InputError`` naming the config key unless
    0 < min <= max and the bilayer is thinner than half the smallest vesicle."""
    low, high = float(diameter_range_nm[0]), float(diameter_range_nm[1])
    if not 0 < low <= high:
        raise InputError(f"potential.vesicle_diameter_nm: need 0 < min <= max, got {low}, {high}")
    if not 0 < thickness_nm < low / 2:
        raise InputError(f"potential.membrane_thickness_nm: {thickness_nm} invalid for {low} nm")
    return low, high


def vesicle_potential(
    seed: int,
    index: int,
    voxel_size_nm: float,
    diameter_range_nm: tuple[float, float],
    thickness_nm: float,
    *,
    voltage_kv: float = 300.0,
    oversampling: int = 2,
    margin_nm: float = 2.0,
    absorption: bool = True,
) -> tuple[np.ndarray, dict]:
    """Complex potential (V) of vesicle ``index`` of the library, seeded by ``(seed, index)``.

    Returns ``(potential (n, n, n) complex64, info)``; the vesicle centre is voxel n//2.
    """
    low, high = check_vesicle_sizes(diameter_range_nm, thickness_nm)
    rng = seeding.rng(seed, "vesicle", index)
    diameter = rng.uniform(low, high)
    axes = diameter / 2.0 * np.array([1.0, *rng.uniform(0.8, 1.0, size=2)])
    rotation = Rotation.random(random_state=rng)
    mid_offset = thickness_nm / 2.0
    n = cube_size_voxels(axes.max(), voxel_size_nm, margin_nm)
    centre = n // 2
    grid = (np.arange(n) - centre) * voxel_size_nm
    zz, yy, xx = np.meshgrid(grid, grid, grid, indexing="ij")
    points = np.stack([zz, yy, xx], -1).reshape(-1, 3)
    body = rotation.inv().apply(points)
    coarse_d = _ellipsoid_distance(body, axes, mid_offset)
    reach = thickness_nm / 2.0 + 4 * EDGE_SIGMA_NM + voxel_size_nm * math.sqrt(3)
    shell = np.flatnonzero(np.abs(coarse_d) < reach)
    s = int(oversampling)
    sub = (np.arange(s) - (s - 1) / 2.0) / s * voxel_size_nm
    offsets = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), -1).reshape(-1, 3)
    real = np.zeros(n**3)
    occupancy = np.zeros(n**3)
    for start in range(0, shell.size, 200000):
        idx = shell[start : start + 200000]
        samples = body[idx, None, :] + rotation.inv().apply(offsets)[None, :, :]
        d = _ellipsoid_distance(samples, axes, mid_offset)
        value, occ = bilayer_profile(d, thickness_nm)
        real[idx] = value.mean(axis=1)
        occupancy[idx] = occ.mean(axis=1)
    potential = np.zeros(n**3, dtype=np.complex64)
    potential.real = real - ICE_POTENTIAL_V * occupancy
    if absorption:
        contrast = absorption_potential_v("lipid", voltage_kv) - absorption_potential_v(
            "ice", voltage_kv
        )
        potential.imag = occupancy * contrast
    info = {
        "diameter_nm": float(diameter),
        "semi_axes_nm": axes.tolist(),
        "rotation_quaternion_xyzw": rotation.as_quat().tolist(),
        "thickness_nm": thickness_nm,
        "shape": [n, n, n],
    }
    return potential.reshape(n, n, n), info
