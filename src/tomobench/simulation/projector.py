"""Slab projections of the tilted grand model: cubic B-spline rotation fused with slab sums.

A tilt rotates the sample about the y axis, so every y row is an independent 2-D rotation of
its (z, x) plane, and all rows share the same interpolation weights. Multislice needs only the
sum of the rotated potential over each slab of ``n = slice_thickness / voxel`` output planes.
Rotation (16 cubic B-spline taps per output voxel) followed by the slab sum is one linear map
from the B-spline coefficients of a (z, x) plane to the slab sums of that plane: a sparse
matrix ``A_θ`` (rows: slab × x', columns: z × x) built once per tilt. Applying it to the
coefficient array laid out as ``(z·x, y)`` projects all y rows at once with one sparse × dense
product (memory-bound, exact, no rotated volume is ever materialised). Only output samples
whose spline support touches the box are computed ("the part of the box the beam passes").

Geometry (voxel units, centre ``c = (n − 1)/2`` per axis): an output sample at
``(ζ', ξ')`` of the tilted frame reads the input at ``ξ = ξ' cos θ − ζ' sin θ``,
``ζ = ξ' sin θ + ζ' cos θ``; equivalently a sample point ``(ζ, ξ)`` projects to image column
``ξ' = ξ cos θ + ζ sin θ`` (used by the back-projection). The beam travels towards −ζ': the
first slab is the top one. Output planes sit at ``ζ' ∈ ℤ − c_z`` so that θ = 0 reproduces
the input voxels exactly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

from tomobench.progress import Progress

logger = logging.getLogger(__name__)


def bspline3(t: np.ndarray) -> np.ndarray:
    """Centred cubic B-spline β³(t)."""
    a = np.abs(t)
    return np.where(
        a < 1, 2.0 / 3.0 - a**2 + 0.5 * a**3, np.where(a < 2, (2.0 - a) ** 3 / 6.0, 0.0)
    )


#: Zero voxels padded around the model in z and x before the spline pre-filter: the model is
#: zero outside its box and the coefficients of that zero border decay as 0.268^distance, so
#: dropping coefficients beyond the pad changes values by < 1e-4 relative.
PAD_VOXELS = 7
#: Distance (voxels) beyond the box faces out to which the interpolant is evaluated: the
#: B-spline interpolant of a potential that ends at a face overshoots past it (ringing of a few
#: % at 2 voxels, < 0.5 % beyond 4).
SUPPORT_MARGIN_VOXELS = 4


def spline_coefficients(potential, planes_per_chunk: int = 8, real: bool = False) -> np.ndarray:
    """Cubic B-spline coefficients along z and x of a complex ``(nz, ny, nx)`` volume.

    Returned as ``(nz + 2 PAD, nx + 2 PAD, ny)`` complex64 (y last, contiguous; float32 for a
    ``real`` volume, e.g. the beam-damage field), the volume
    extended by ``PAD_VOXELS`` zeros in z and x, ready for :class:`SlabProjector`. The volume
    is read in z-slabs (``potential[z0:z1]``: an array, a memory map or a
    :class:`tomobench.mrc.MrcVolume` that reads them from the file), filtered along x into
    place, then the whole result is filtered along z in place: the only full-size array is
    the result.
    """
    nz, ny, nx = potential.shape
    pad = PAD_VOXELS
    coefficients = np.zeros((nz + 2 * pad, nx + 2 * pad, ny),
                            np.float32 if real else np.complex64)

    def parts(array):
        return (array,) if real else (array.real, array.imag)

    chunk = np.zeros((planes_per_chunk, ny, nx + 2 * pad), np.float32)
    progress = Progress("spline coefficients: block", -(-nz // planes_per_chunk)
                        + -(-ny // 64), logger)
    for z0 in range(0, nz, planes_per_chunk):
        z1 = min(z0 + planes_per_chunk, nz)
        block = np.asarray(potential[z0:z1])
        for part, target in zip(parts(block), parts(coefficients), strict=True):
            rows = chunk[: z1 - z0]
            rows[:, :, :pad] = rows[:, :, pad + nx :] = 0.0  # the zero border, every time
            rows[:, :, pad : pad + nx] = part
            ndimage.spline_filter1d(rows, order=3, axis=2, mode="mirror", output=rows)
            target[pad + z0 : pad + z1] = rows.transpose(0, 2, 1)
        progress.step()
    # along z in contiguous copies of 64 y columns (filtering the strided parts in place
    # directly is ~15x slower: every line would jump across the whole volume)
    for y0 in range(0, ny, 64):
        for part in parts(coefficients[:, :, y0 : y0 + 64]):
            columns = np.ascontiguousarray(part)
            ndimage.spline_filter1d(columns, order=3, axis=0, mode="mirror", output=columns)
            part[...] = columns
        progress.step()
    return coefficients


@dataclass(frozen=True)
class SlabLayout:
    """Slabs of one tilt: ``count`` slabs of ``planes`` output planes, top first.

    ``top_nm`` / ``bottom_nm`` are the entrance and exit faces of the stack, measured from the
    rotation centre along the beam axis (positive = upstream).
    """

    count: int
    planes: int
    top_nm: float
    bottom_nm: float


def slab_matrix(shape_zx: tuple[int, int], angle_deg: float, planes_per_slab: int, pad: int):
    """Sparse ``A_θ`` (float32 CSR) and its :class:`SlabLayout` (``voxel_nm = 1``).

    ``shape_zx`` is the unpadded (z, x) size; columns index the padded coefficient grid.
    """
    nz, nx = shape_zx
    cz, cx = (nz - 1) / 2.0, (nx - 1) / 2.0
    theta = math.radians(angle_deg)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    # ζ' extent of the rotated box (plus spline support)
    reach = SUPPORT_MARGIN_VOXELS
    corners_z = np.array([-cz - reach, -cz - reach, cz + reach, cz + reach])
    corners_x = np.array([-cx - reach, cx + reach, -cx - reach, cx + reach])
    zeta = -corners_x * sin_t + corners_z * cos_t
    k_low = math.floor(zeta.min() + cz)
    k_high = math.ceil(zeta.max() + cz)
    count = (k_high - k_low) // planes_per_slab + 1
    k = np.arange(k_high, k_high - count * planes_per_slab, -1)
    zeta_out = (k - cz)[:, None]
    xi_out = (np.arange(nx) - cx)[None, :]
    source_z = xi_out * sin_t + zeta_out * cos_t + cz
    source_x = xi_out * cos_t - zeta_out * sin_t + cx
    inside = (
        (source_z > -reach)
        & (source_z < nz - 1 + reach)
        & (source_x > -reach)
        & (source_x < nx - 1 + reach)
    )
    plane, column = np.nonzero(inside)
    sz, sx = source_z[inside], source_x[inside]
    rows = (plane // planes_per_slab) * nx + column
    base_z, base_x = np.floor(sz).astype(np.int64) - 1, np.floor(sx).astype(np.int64) - 1
    taps = np.arange(4)
    tz, tx = base_z[:, None] + taps, base_x[:, None] + taps  # (points, 4)
    wz, wx = bspline3(sz[:, None] - tz), bspline3(sx[:, None] - tx)
    valid_z, valid_x = (tz >= -pad) & (tz < nz + pad), (tx >= -pad) & (tx < nx + pad)
    weights = (wz * valid_z)[:, :, None] * (wx * valid_x)[:, None, :]
    cols = (tz[:, :, None] + pad) * (nx + 2 * pad) + (tx[:, None, :] + pad)
    keep = (valid_z[:, :, None] & valid_x[:, None, :]) & (weights != 0)
    matrix = sp.coo_matrix(
        (
            weights[keep].astype(np.float32),
            (np.broadcast_to(rows[:, None, None], keep.shape)[keep], cols[keep]),
        ),
        shape=(count * nx, (nz + 2 * pad) * (nx + 2 * pad)),
    ).tocsr()
    top = k_high + 0.5 - cz
    layout = SlabLayout(count, planes_per_slab, top, top - count * planes_per_slab)
    return matrix, layout


class SlabProjector:
    """Projected potential of each slab of the tilted model.

    Parameters
    ----------
    coefficients : complex64 ``(nz + 2 PAD, nx + 2 PAD, ny)`` from :func:`spline_coefficients`
        (float32 for a real volume: the slabs are then float32).
    voxel_size_nm : simulation voxel size.
    slice_thickness_nm : multislice slab thickness (rounded to whole voxels).
    xp : ``numpy`` or ``cupy``; with cupy the coefficients live on the GPU and the sparse
        product runs with ``cupyx.scipy.sparse`` (the matrix is built on the CPU).
    """

    def __init__(
        self,
        coefficients: np.ndarray,
        voxel_size_nm: float,
        slice_thickness_nm: float,
        xp=np,
    ):
        padded_z, padded_x, self.ny = coefficients.shape
        self.nz, self.nx = padded_z - 2 * PAD_VOXELS, padded_x - 2 * PAD_VOXELS
        self.voxel_size_nm = float(voxel_size_nm)
        self.planes = max(1, int(round(slice_thickness_nm / voxel_size_nm)))
        self.slice_thickness_nm = self.planes * self.voxel_size_nm
        # complex (z·x, y) seen as interleaved float32 (z·x, 2y): A is real.
        self.xp = xp
        self.complex = np.iscomplexobj(coefficients)
        flat = coefficients.reshape(padded_z * padded_x, self.ny).view(np.float32)
        self._flat = flat if xp is np else xp.asarray(flat)

    def layout(self, angle_deg: float) -> tuple[sp.csr_matrix, SlabLayout]:
        matrix, layout = slab_matrix((self.nz, self.nx), angle_deg, self.planes, PAD_VOXELS)
        scaled = SlabLayout(
            layout.count,
            layout.planes,
            layout.top_nm * self.voxel_size_nm,
            layout.bottom_nm * self.voxel_size_nm,
        )
        return matrix, scaled

    def slabs(
        self, matrix: sp.csr_matrix, layout: SlabLayout, chunk: int = 8, transposed: bool = False
    ):
        """Yield the slabs top to bottom: ``(ny, nx)`` complex64 (float32 for real
        coefficients) ∫V dz in V·nm.

        ``transposed=True`` yields ``(nx, ny)`` views without the transposing copy (the
        multislice is symmetric in x and y, so the caller may work in that layout).
        """
        xp = self.xp
        if xp is not np:
            import cupyx.scipy.sparse

            matrix = cupyx.scipy.sparse.csr_matrix(matrix)
        for first in range(0, layout.count, chunk):
            last = min(first + chunk, layout.count)
            block = matrix[first * self.nx : last * self.nx] @ self._flat
            if self.complex:
                block = block.view(xp.complex64)
            block = block.reshape(last - first, self.nx, self.ny)
            block *= xp.float32(self.voxel_size_nm)
            for slab in block:
                yield slab if transposed else xp.ascontiguousarray(slab.T)
