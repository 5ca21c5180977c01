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

Heads are denser than tails, giving the two dark lines of a membrane. Each vesicle of the
library (:func:`draw_vesicle`) is an ellipsoid: outer diameter drawn from
``diameter_range_nm``, the two other axes scaled by U(0.8, 1). A vesicle is never stored as a
dense box: :class:`VesicleVoxels` evaluates it *in place* for a given rotation, only on the
voxels of its shell (|d| below the profile's reach), row by row — the x extent of the shell in
each (z, y) row of voxels solves a quadratic — so a 300 nm vesicle at 0.5 nm costs its ~10⁷
shell voxels instead of a 700³ box. Voxel values average ``oversampling``³ sub-samples.
Distance to the ellipsoid is the first-order estimate (F − 1)/|∇F|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import erf

from tomobench import seeding
from tomobench.errors import InputError
from tomobench.structures.absorption import absorption_potential_v
from tomobench.structures.potential import ICE_POTENTIAL_V
from tomobench.structures.scattering_factors import atom_potential_integral_v_nm3

HEAD_COMPOSITION = {"C": 10, "H": 18, "N": 1, "O": 8, "P": 1}
TAIL_COMPOSITION = {"C": 30, "H": 62}
HEAD_VOLUME_NM3 = 0.319
TAIL_VOLUME_NM3 = 0.913
EDGE_SIGMA_NM = 0.2
#: Spacing (nm) of the tabulated profile that sub-samples read (nearest sample).
PROFILE_STEP_NM = 0.0005
#: Voxels per chunk when evaluating a shell (bounds the temporaries to ~100 MB).
_CHUNK_VOXELS = 1 << 19


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


def profile_reach_nm(thickness_nm: float) -> float:
    """Distance from the mid-plane beyond which the profile is below 1e-6 of its peak."""
    return thickness_nm / 2.0 + 4.0 * EDGE_SIGMA_NM


def check_vesicle_sizes(diameter_range_nm, thickness_nm: float) -> tuple[float, float]:
    """``(min, max)`` outer diameter (nm); ``InputError`` naming the config key unless
    0 < min <= max and the bilayer is thinner than half the smallest vesicle."""
    low, high = float(diameter_range_nm[0]), float(diameter_range_nm[1])
    if not 0 < low <= high:
        raise InputError(f"potential.vesicle_diameter_nm: need 0 < min <= max, got {low}, {high}")
    if not 0 < thickness_nm < low / 2:
        raise InputError(f"potential.membrane_thickness_nm: {thickness_nm} invalid for {low} nm")
    return low, high


@dataclass(frozen=True)
class Vesicle:
    """One vesicle of the library: an ellipsoidal bilayer in its body frame.

    ``semi_axes_nm`` are the outer semi-axes ``(z, y, x)`` of the body frame (nm).
    """

    index: int
    diameter_nm: float
    semi_axes_nm: tuple[float, float, float]
    thickness_nm: float

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "diameter_nm": self.diameter_nm,
            "semi_axes_nm": list(self.semi_axes_nm),
            "thickness_nm": self.thickness_nm,
        }


def draw_vesicle(seed: int, index: int, diameter_range_nm: tuple[float, float],
                 thickness_nm: float) -> Vesicle:
    """Vesicle ``index`` of the library, drawn from ``rng(seed, "vesicle", index)``."""
    low, high = check_vesicle_sizes(diameter_range_nm, thickness_nm)
    rng = seeding.rng(seed, "vesicle", index)
    diameter = float(rng.uniform(low, high))
    axes = diameter / 2.0 * np.array([1.0, *rng.uniform(0.8, 1.0, size=2)])
    return Vesicle(index, diameter, tuple(float(a) for a in axes), float(thickness_nm))


def _ellipsoid_rows(to_scaled: np.ndarray, low, high, inner: np.ndarray | None = None):
    """Rows of voxels strictly inside an ellipsoid (and outside ``inner``, if given).

    ``to_scaled`` (3×3) maps integer ``(z, y, x)`` voxel offsets to the ellipsoid's unit-sphere
    coordinates (``inner`` likewise for the inner ellipsoid). Returns ``(z, y, x0, x1)`` int
    arrays, ``x1`` exclusive, clipped to offsets in ``[low, high)``, sorted by ``(z, y, x0)``:
    in a row, ``|S o|²`` is a quadratic in x, so its extent is a pair of roots.
    """
    # |S o| <= 1 bounds grid axis i by the norm of row i of S⁻¹
    extent = np.sqrt((np.linalg.inv(to_scaled) ** 2).sum(axis=1))
    lo = np.maximum(np.floor(-extent), low).astype(int)
    hi = np.minimum(np.ceil(extent) + 1, high).astype(int)
    if np.any(hi <= lo):
        return (np.zeros(0, int),) * 4

    def roots(matrix):
        base = np.outer(matrix[:, 0], z) + np.outer(matrix[:, 1], y)
        step = matrix[:, 2]
        a = float(step @ step)
        b = step @ base
        disc = b * b - a * (np.einsum("ij,ij->j", base, base) - 1.0)
        root = np.sqrt(np.maximum(disc, 0.0))
        # first and last integer strictly inside (empty when disc <= 0)
        first = np.floor((-b - root) / a).astype(int) + 1
        last = np.ceil((-b + root) / a).astype(int)
        return np.where(disc > 0, first, 0), np.where(disc > 0, last, 0)

    z, y = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    z, y = z.ravel(), y.ravel()
    first, last = roots(to_scaled)
    pieces = [(first, last)]
    if inner is not None:
        hole_first, hole_last = roots(inner)
        hollow = hole_last > hole_first
        pieces = [(first, np.where(hollow, np.minimum(hole_first, last), last)),
                  (np.where(hollow, np.maximum(hole_last, first), last), last)]
    rows = []
    for x0, x1 in pieces:
        x0, x1 = np.maximum(x0, lo[2]), np.minimum(x1, hi[2])
        keep = x1 > x0
        rows.append((z[keep], y[keep], x0[keep], x1[keep]))
    z, y, x0, x1 = (np.concatenate(parts) for parts in zip(*rows, strict=True))
    order = np.lexsort((x0, y, z))
    return z[order], y[order], x0[order], x1[order]


def _row_chunks(rows, chunk_voxels: int = _CHUNK_VOXELS):
    """Split rows ``(z, y, x0, x1)`` into chunks of about ``chunk_voxels`` voxels; yields
    ``(row slice, per-voxel row index within the chunk, per-voxel x)``."""
    _, _, x0, x1 = rows
    lengths = x1 - x0
    ends = np.cumsum(lengths)
    start = 0
    while start < len(lengths):
        stop = int(np.searchsorted(ends, ends[start] - lengths[start] + chunk_voxels,
                                   side="right"))
        stop = max(stop, start + 1)
        count = lengths[start:stop]
        row = np.repeat(np.arange(stop - start), count)
        x = x0[start:stop][row] + (np.arange(count.sum()) - (np.cumsum(count) - count)[row])
        yield slice(start, stop), row, x
        start = stop


def _voxel_offsets(rows) -> np.ndarray:
    """``(3, n)`` int16 offsets of every voxel of ``rows``."""
    z, y, _, _ = rows
    parts = []
    for rows_slice, row, x in _row_chunks(rows):
        part = np.empty((3, len(row)), np.int16)
        part[0], part[1], part[2] = z[rows_slice][row], y[rows_slice][row], x
        parts.append(part)
    return np.concatenate(parts, axis=1) if parts else np.zeros((3, 0), np.int16)


class VesicleVoxels:
    """A vesicle turned by ``rotation`` on a voxel grid, evaluated only on its shell.

    ``rotation`` (3×3) maps body-frame ``(z, y, x)`` vectors to the grid's ``(z, y, x)``; the
    centre is voxel offset 0. Offsets are integer ``(z, y, x)`` voxel offsets from the centre.
    The membrane (the vesicle's envelope) is the space between its outer surface and its
    inner surface (semi-axes reduced by the thickness). The potential is the bilayer profile
    (motion-blurred across the membrane by ``blur_sigma_nm``, if given) of the first-order
    distance to the mid-plane ellipsoid, tabulated every
    ``PROFILE_STEP_NM`` (nearest sample: error < 0.05 % of the head-group peak).
    """

    def __init__(self, vesicle: Vesicle, rotation: np.ndarray, voxel_size_nm: float, *,
                 voltage_kv: float = 300.0, oversampling: int = 2, absorption: bool = True,
                 blur_sigma_nm: float = 0.0):
        self.vesicle = vesicle
        self.voxel_size_nm = float(voxel_size_nm)
        self._body = np.asarray(rotation, dtype=np.float64).T * self.voxel_size_nm
        self._outer = np.array(vesicle.semi_axes_nm)
        self._mid = self._outer - vesicle.thickness_nm / 2.0
        self.reach_nm = profile_reach_nm(vesicle.thickness_nm) + 4.0 * blur_sigma_nm
        s = int(oversampling)
        sub = (np.arange(s) - (s - 1) / 2.0) / s
        self._sub_offsets = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), -1).reshape(-1, 3)
        # nearest-sample table; both ends are 0 (values clipped onto them lie beyond the reach)
        self._table_start = -self.reach_nm - self.voxel_size_nm
        d = np.arange(self._table_start, -self._table_start + PROFILE_STEP_NM, PROFILE_STEP_NM)
        value, occupancy = bilayer_profile(d, vesicle.thickness_nm)
        if blur_sigma_nm > 0:  # motion blur: across a locally flat membrane, a 1-D Gaussian
            for profile in (value, occupancy):
                ndimage.gaussian_filter1d(profile, blur_sigma_nm / PROFILE_STEP_NM,
                                          output=profile, mode="constant")
        contrast = (absorption_potential_v("lipid", voltage_kv)
                    - absorption_potential_v("ice", voltage_kv)) if absorption else 0.0
        table = np.zeros(d.size + 2, np.complex64)
        table.real[1:-1] = (value - ICE_POTENTIAL_V * occupancy) / len(self._sub_offsets)
        table.imag[1:-1] = occupancy * contrast / len(self._sub_offsets)
        self._table = table

    def _scaled(self, semi_axes_nm) -> np.ndarray:
        """Voxel offset -> unit-sphere coordinates of the ellipsoid with ``semi_axes_nm``."""
        return self._body / np.asarray(semi_axes_nm, dtype=np.float64)[:, None]

    def membrane(self, low=(-(2**15),) * 3, high=(2**15,) * 3) -> np.ndarray:
        """``(3, n)`` int16 offsets of the voxels whose centres lie in the membrane, between
        the outer and the inner surface, within ``[low, high)``: the vesicle's envelope."""
        inner = self._outer - self.vesicle.thickness_nm
        rows = _ellipsoid_rows(self._scaled(self._outer), low, high,
                               inner=self._scaled(inner) if np.all(inner > 0) else None)
        return _voxel_offsets(rows)

    def shell(self, low=(-(2**15),) * 3, high=(2**15,) * 3):
        """Yield ``(offsets (3, n) int16, potential (n,) complex64)`` chunks covering every
        voxel with a non-zero potential (|d| below the profile's reach plus half a voxel
        diagonal), offsets within ``[low, high)``: voxel averages of the complex potential (V).
        """
        # |d| < h implies f = |S_mid o| within 1 ± h / semi_min (|∇f| <= 1 / semi_min)
        h = self.reach_nm + self.voxel_size_nm * math.sqrt(3) / 2
        margin = h / float(self._mid.min())
        inner = self._scaled(self._mid * (1 - margin)) if margin < 1 else None
        rows = _ellipsoid_rows(self._scaled(self._mid * (1 + margin)), low, high, inner=inner)
        scaled = self._scaled(self._mid)  # f = |S o|
        gradient = scaled / self._mid[:, None]  # |∇f| (nm⁻¹) = |G o| / f
        for rows_slice, row, x in _row_chunks(rows):
            z, y = rows[0][rows_slice], rows[1][rows_slice]
            values = np.zeros(len(row), np.complex64)
            for dz, dy in {(float(o[0]), float(o[1])) for o in self._sub_offsets}:
                dxs = [float(o[2]) for o in self._sub_offsets if (o[0], o[1]) == (dz, dy)]
                f_row = _row_quadratic(scaled, z + dz, y + dy)
                g_row = _row_quadratic(gradient, z + dz, y + dy)
                for dx in dxs:
                    xs = (x + dx).astype(np.float32)
                    f = np.sqrt(_evaluate(f_row, row, xs))
                    g = np.sqrt(np.maximum(_evaluate(g_row, row, xs), np.float32(1e-30)))
                    # d = (f - 1) f / |G o|, as a table index
                    d = (f - 1) * f / g
                    index = (d - np.float32(self._table_start)) * np.float32(
                        1.0 / PROFILE_STEP_NM) + np.float32(1.5)
                    np.clip(index, 0, len(self._table) - 1, out=index)
                    values += self._table[index.astype(np.intp)]
            offsets = np.empty((3, len(row)), np.int16)
            offsets[0], offsets[1], offsets[2] = z[row], y[row], x
            yield offsets, values


def _row_quadratic(matrix: np.ndarray, z, y):
    """Per row, the coefficients ``(a, 2b, c)`` of ``|M (z, y, x)|² = a x² + 2b x + c``."""
    base = np.outer(matrix[:, 0], z) + np.outer(matrix[:, 1], y)
    step = matrix[:, 2]
    return (np.float32(step @ step), (2 * (step @ base)).astype(np.float32),
            np.einsum("ij,ij->j", base, base).astype(np.float32))


def _evaluate(quadratic, row, xs):
    """``a x² + 2b x + c`` per voxel (row index ``row``, float32 ``xs``)."""
    a, b2, c = quadratic
    return (a * xs + b2[row]) * xs + c[row]


def vesicle_potential(vesicle: Vesicle, rotation: np.ndarray, voxel_size_nm: float,
                      **options) -> np.ndarray:
    """Dense complex potential (V) of a rotated vesicle, ``(n, n, n)`` centred at ``n // 2``
    (small vesicles only: tests and figures; scenes use :class:`VesicleVoxels`)."""
    voxels = VesicleVoxels(vesicle, rotation, voxel_size_nm, **options)
    half = int(math.ceil((max(vesicle.semi_axes_nm) + voxels.reach_nm) / voxel_size_nm)) + 2
    n = 2 * half + 1
    potential = np.zeros((n, n, n), np.complex64)
    for offsets, values in voxels.shell():
        potential[tuple(offsets + half)] = values
    return potential
