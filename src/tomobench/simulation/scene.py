"""Cell-like scenes ("grand models"): vesicles, gold fiducials and proteins in an ice slab.

Objects are placed as the SHREC'21 organisers did (survey §4.5): vesicles first (centre
anywhere in the box, cropped at its faces), then gold beads, then proteins (fully inside the
box), each at a random position and orientation, accepted only when its occupied voxels do not
intersect those of the objects already placed (exact voxel test), with at most
``max_placement_attempts`` positions per object. Everything is built on the *simulation* grid
(``voxel_size_nm / binning``) as a complex potential ``(nz, ny, nx)`` = ``(binning ·
ice_voxels, binning · size_xy, binning · size_xy)``: the ice slab fills the box.

Only objects are ever computed, never boxes around them: a vesicle's potential is evaluated
in place on its shell voxels (:class:`tomobench.structures.membranes.VesicleVoxels`), proteins
and beads are rotated within their support and motion-blurred one by one before they are added
(the blur is linear, so this equals blurring the scene; vesicles are blurred across their
membrane profile). The scene's own memory is the complex potential and the occupancy.

Final frame (docs/ARCHITECTURE.md): binned sample ``i`` sits at simulation index
``binning · i`` (Fourier binning); the slab starts at ``z_offset`` of the final volume, and
ground-truth voxels are ``x // binning``, ``z // binning + z_offset``.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from tomobench import seeding
from tomobench.classes import class_id
from tomobench.errors import InputError
from tomobench.fourier import fourier_bin
from tomobench.orientation import rotation_matrix_xyz
from tomobench.particles import LOCATION_COLUMNS
from tomobench.progress import Progress
from tomobench.simulation.rotation import Rotator, sample_euler_angles_deg
from tomobench.structures.absorption import absorption_potential_v
from tomobench.structures.membranes import Vesicle, VesicleVoxels
from tomobench.structures.potential import ICE_POTENTIAL_V

logger = logging.getLogger(__name__)

#: Organisers' thresholds (volts): after each rotation they zeroed real values below these and
#: counted real > 0 as occupied (faithful.threshold_rotated_potentials).
OCCUPANCY_THRESHOLD_V = {"protein": 0.01, "vesicle": 0.001, "fiducial": 0.001}
#: The object's envelope: where the absorption (imaginary) potential — the excluded-volume
#: fraction times the material's absorption — exceeds half its peak; potentials without an
#: imaginary part use |real| above this fraction of its peak. (A fixed 0.01 V threshold would
#: count the Gaussian tails and binning ringing of atomic potentials, i.e. nearly the whole
#: box.) Vesicles and gold beads occupy their envelope; proteins their solid envelope
#: (:func:`solid_envelope`).
ENVELOPE_FRACTION = {"imag": 0.5, "real": 0.1}


def centre_ball_radius_voxels(binning: int) -> float:
    """Radius (simulation voxels) of the ball around a protein's centre voxel ``c`` that its
    solid envelope always contains: it covers the final centre voxel, sampled at simulation
    voxel ``b·(c // b)``, and that voxel's six neighbours ``± b`` (what the SHREC evaluation
    reads for a pick at the centre, its one-voxel cross dilation), whatever ``c mod b``.
    """
    b = int(binning)
    return math.sqrt((2 * b - 1) ** 2 + 2 * (b - 1) ** 2)
#: Voxels of potential kept around the occupied bounding box of a rotated object.
CROP_MARGIN_VOXELS = 2
#: Rotated potentials are interpolated only where the source lies within 3 voxels of a voxel
#: above this fraction of the peak |V| (``Rotator(support_fraction=...)``): the rest of an
#: atomic potential's box holds Fourier-binning ringing below 10⁻³ of the peak.
SUPPORT_FRACTION = 1e-3
#: Every 997th, then every 31st occupied voxel of a vesicle is tested first at each placement
#: attempt (cheap rejections); a position that passes is then checked voxel by voxel.
VESICLE_PROBE_STRIDES = (997, 31)


@dataclass(frozen=True)
class SceneGeometry:
    """Sizes of one tomogram: final frame and simulation grid.

    Attributes are the config values; properties derive the grids.
    """

    size_xy_voxels: int
    size_z_voxels: int
    voxel_size_nm: float
    binning: int
    ice_thickness_nm: float

    @property
    def simulation_voxel_nm(self) -> float:
        return self.voxel_size_nm / self.binning

    @property
    def ice_voxels(self) -> int:
        """Slab thickness in final voxels."""
        return int(round(self.ice_thickness_nm / self.voxel_size_nm))

    @property
    def z_offset(self) -> int:
        """First final z index of the slab (slab centred in z)."""
        return (self.size_z_voxels - self.ice_voxels) // 2

    @property
    def simulation_shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)`` of the unbinned complex grand model (the ice slab)."""
        b = self.binning
        return (b * self.ice_voxels, b * self.size_xy_voxels, b * self.size_xy_voxels)

    @property
    def final_shape(self) -> tuple[int, int, int]:
        return (self.size_z_voxels, self.size_xy_voxels, self.size_xy_voxels)


@dataclass(frozen=True)
class SceneParameters:
    """What a scene is made of (config ``scene`` section + faithful switches)."""

    proteins_per_tomogram: tuple[int, int]
    fiducials_per_tomogram: tuple[int, int]
    vesicles_per_tomogram: tuple[int, int]
    orientation_sampling: str = "uniform"
    max_placement_attempts: int = 5000
    motion_blur_sigma_nm: float = 0.4
    voltage_kv: float = 300.0
    #: faithful.threshold_rotated_potentials: zero real values below the organisers'
    #: thresholds (0.01 V proteins, 0.001 V vesicles/gold) after each rotation.
    threshold_rotated_potentials: bool = False
    #: faithful.ice_imaginary_only: add only the imaginary ice potential (2022 code).
    ice_imaginary_only: bool = False
    #: sub-samples per voxel edge of the vesicle potentials (potential.oversampling)
    oversampling: int = 2
    #: whether vesicles carry their absorption potential (potential.absorption)
    absorption: bool = True


@dataclass
class Scene:
    """A simulated scene on the simulation grid.

    Attributes
    ----------
    potential : complex64 ``(nz, ny, nx)``
        Particles only (no ice), motion-blurred, volts.
    occupancy : ``(nz, ny, nx)`` unsigned ints, 0 = background, k = object k (1-based).
    objects : DataFrame with ``class_name, z, y, x`` (simulation voxels) and ``a1, a2, a3``.
    summary : dict of drawn counts, placed/failed per kind and failures per class name.
    """

    potential: np.ndarray
    occupancy: np.ndarray
    objects: pd.DataFrame
    summary: dict = field(default_factory=dict)


@dataclass
class _Prepared:
    block: np.ndarray  # complex64 cropped rotated potential
    occupied: np.ndarray  # bool, same shape
    low: np.ndarray  # offset of block[0,0,0] relative to the centre voxel, (z, y, x)
    pad: int = 0  # voxels of motion-blur spill around the cropped block, included in block


def envelope(potential: np.ndarray) -> np.ndarray:
    """Bool envelope of a complex potential ``(z, y, x)`` (see ``ENVELOPE_FRACTION``)."""
    imag_peak = float(potential.imag.max())
    if imag_peak > 0:
        return potential.imag > ENVELOPE_FRACTION["imag"] * imag_peak
    return np.abs(potential.real) > ENVELOPE_FRACTION["real"] * float(np.abs(potential.real).max())


def convex_hull_mask(mask: np.ndarray) -> np.ndarray:
    """Voxels whose centres lie in the convex hull of the centres of ``mask``'s voxels.

    Same result as ``skimage.morphology.convex_hull_image(mask, offset_coordinates=False)``
    (tested), ~100x faster: the hull's half-spaces are intersected with each x row at once.
    Masks with fewer than four voxels, or flat ones, are returned unchanged.
    """
    points = np.argwhere(mask)
    if len(points) < 4:
        return mask.copy()
    try:
        hull = ConvexHull(points)
    except QhullError:  # coplanar voxels: no 3-D hull
        return mask.copy()
    # Inside: normal · p + offset <= 0 for every facet (duplicate coplanar facets dropped).
    equations = np.unique(np.round(hull.equations, 12), axis=0)
    normal, offset = equations[:, :3], equations[:, 3]
    low, high = points.min(axis=0), points.max(axis=0)
    z, y = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1),
                       indexing="ij")
    z, y = z.ravel(), y.ravel()
    # per row (z, y): normal_x · x <= bound for every facet
    bound = 1e-6 - (z[:, None] * normal[:, 0] + y[:, None] * normal[:, 1] + offset)
    normal_x = normal[:, 2]
    rising, falling = normal_x > 1e-12, normal_x < -1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        x_high = np.min(np.where(rising, bound / normal_x, np.inf), axis=1)
        x_low = np.max(np.where(falling, bound / normal_x, -np.inf), axis=1)
    row_ok = np.all(np.where(rising | falling, True, bound >= 0), axis=1)
    x = np.arange(mask.shape[2])
    inside = (x >= x_low[:, None]) & (x <= x_high[:, None]) & row_ok[:, None]
    out = np.zeros(mask.shape, dtype=bool)
    out[z, y] = inside
    return out


def solid_envelope(potential: np.ndarray) -> np.ndarray:
    """A protein's solid envelope ``(z, y, x)`` bool: the convex hull of its envelope.

    The hull closes the central channels of rings and barrels (1BXN, 1QVR, 3CF3) and the
    clefts of open dimers (2CG9), whose centres the envelope itself leaves empty. (The scene
    adds a small ball about the centre after rotation, see
    :func:`centre_ball_radius_voxels`.)
    """
    return convex_hull_mask(envelope(potential))


def _prepare(rotator: Rotator, angles_deg, kind: str, threshold: bool,
             blur_sigma_voxels: float = 0.0) -> _Prepared | None:
    """Rotate, threshold (faithful), find the occupied voxels and crop to them.

    Occupied voxels: the organisers' ``real > 0`` after thresholding (``threshold``), else the
    rotated solid envelope when the rotator carries one (proteins), else the envelope. The
    potential is then motion-blurred (Gaussian of ``blur_sigma_voxels``) into a block padded by
    the blur's reach.
    """
    if threshold:
        rotated = rotator.rotate(angles_deg)
        limit = OCCUPANCY_THRESHOLD_V[kind]
        rotated.real[rotated.real < limit] = 0.0
        occupied = rotated.real > 0
    elif rotator.has_solid:
        rotated, occupied = rotator.rotate_with_solid(angles_deg)
    elif rotator.imag_peak > 0:
        rotated = rotator.rotate(angles_deg)
        occupied = rotated.imag > ENVELOPE_FRACTION["imag"] * rotator.imag_peak
    else:
        rotated = rotator.rotate(angles_deg)
        occupied = np.abs(rotated.real) > ENVELOPE_FRACTION["real"] * rotator.real_peak
    if not occupied.any():
        return None
    where = np.nonzero(occupied)
    lo = [max(int(w.min()) - CROP_MARGIN_VOXELS, 0) for w in where]
    hi = [
        min(int(w.max()) + 1 + CROP_MARGIN_VOXELS, n)
        for w, n in zip(where, rotated.shape, strict=False)
    ]
    crop = tuple(slice(a, b) for a, b in zip(lo, hi, strict=False))
    centre = np.array([n // 2 for n in rotated.shape])
    block, occupied = rotated[crop], occupied[crop]
    pad = _blur_pad_voxels(blur_sigma_voxels)
    if pad:  # blurred here, object by object: the blur is linear and the box edge is 0
        block, occupied = np.pad(block, pad), np.pad(occupied, pad)
        _motion_blur(block, blur_sigma_voxels)
    return _Prepared(
        np.ascontiguousarray(block),
        np.ascontiguousarray(occupied),
        np.array(lo) - centre - pad,
        pad,
    )


def _try_place(scene_shape, prepared: _Prepared, occupancy, rng, attempts: int):
    """Return (centre, target slices, block slices) of a free position with the unblurred
    block inside the box (its blur may spill over the faces), or None."""
    size = np.array(prepared.block.shape)
    shape = np.array(scene_shape)
    low_c = -prepared.low - prepared.pad
    high_c = shape - prepared.low - size + prepared.pad  # inclusive centre range
    if np.any(high_c < low_c):
        return None
    for _ in range(attempts):
        centre = np.array([rng.integers(a, b + 1) for a, b in zip(low_c, high_c, strict=False)])
        start = centre + prepared.low
        t0, t1 = np.maximum(start, 0), np.minimum(start + size, shape)
        if np.any(t1 <= t0):
            continue
        target = tuple(slice(a, b) for a, b in zip(t0, t1, strict=False))
        source = tuple(slice(a - s, b - s) for a, b, s in zip(t0, t1, start, strict=False))
        if not np.any(prepared.occupied[source] & (occupancy[target] != 0)):
            return centre, target, source
    return None


def build_scene(
    geometry: SceneGeometry,
    parameters: SceneParameters,
    proteins: dict[str, np.ndarray],
    vesicles: list[Vesicle],
    gold: list[np.ndarray],
    seed: int,
    model_id: int,
    threads: int = 1,
) -> Scene:
    """Place objects in a scene; potentials are complex ``(n, n, n)`` centred at ``n // 2``.

    ``proteins`` maps class names (drawn uniformly) to potentials; vesicles (shapes, made in
    place on the scene grid: :class:`tomobench.structures.membranes.VesicleVoxels`) and gold
    beads are drawn uniformly from their libraries. All randomness comes from
    ``rng(seed, "scene", model_id)``: the counts, then per kind every object's source and
    orientation, then the positions as objects are placed in order. ``threads`` > 1 rotate
    and blur the upcoming gold beads and proteins side by side while earlier ones are placed;
    the scene does not depend on it.
    """
    rng = seeding.rng(seed, "scene", model_id)
    counts = {
        kind: int(rng.integers(low, high + 1))
        for kind, (low, high) in (("vesicle", parameters.vesicles_per_tomogram),
                                  ("fiducial", parameters.fiducials_per_tomogram),
                                  ("protein", parameters.proteins_per_tomogram))
    }
    libraries = {"vesicle": vesicles, "fiducial": gold}
    for kind in ("vesicle", "fiducial"):
        if counts[kind] and not libraries[kind]:
            raise InputError(f"scene.{kind}s_per_tomogram: > 0 but the {kind} library is empty")
    if counts["protein"] and not proteins:
        raise InputError("structures.classes: no protein potentials given")
    shape = geometry.simulation_shape
    total = sum(counts.values())
    occupancy = np.zeros(shape, dtype=np.uint16 if total < 65535 else np.uint32)
    potential = np.zeros(shape, dtype=np.complex64)
    rows = []
    summary = {"drawn": counts, "placed": {}, "failed": {}, "failed_by_class": {}}
    class_names = sorted(proteins)
    blur_voxels = parameters.motion_blur_sigma_nm / geometry.simulation_voxel_nm
    start = time.perf_counter()
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    for kind in ("vesicle", "fiducial", "protein"):
        draws = []
        for _ in range(counts[kind]):
            if kind == "protein":
                name = class_names[int(rng.integers(len(class_names)))]
                draws.append((name, proteins[name]))
            else:
                draws.append((kind, libraries[kind][int(rng.integers(len(libraries[kind])))]))
        angles = sample_euler_angles_deg(rng, counts[kind], parameters.orientation_sampling)
        if kind == "vesicle":
            prepared = (None for _ in draws)
        else:
            rotators = _rotators(draws, kind, parameters, geometry.binning)
            jobs = [(rotators[id(source)], a) for (_, source), a in zip(draws, angles,
                                                                        strict=True)]

            def prepare(job, kind=kind):
                return _prepare(job[0], job[1], kind, parameters.threshold_rotated_potentials,
                                blur_voxels)

            prepared = _in_order(prepare, jobs, pool, ahead=4 * threads)
        placed = failed = 0
        progress = Progress(f"{kind} objects", len(draws), logger)
        for drawn, ((name, source), block) in enumerate(zip(draws, prepared, strict=True)):
            if kind == "vesicle":
                centre = _place_vesicle(source, angles[drawn], geometry, parameters, potential,
                                        occupancy, rng, len(rows) + 1)
            else:
                centre = _place_block(block, parameters, potential, occupancy, rng,
                                      len(rows) + 1)
            if centre is None:
                failed += 1
                by_class = summary["failed_by_class"]
                by_class[name] = by_class.get(name, 0) + 1
            else:
                shown = angles[drawn] if kind == "protein" else (math.nan,) * 3
                rows.append([name, *(int(c) for c in centre), *shown])
                placed += 1
            progress.step(f": {placed} placed, {failed} failed")
        summary["placed"][kind], summary["failed"][kind] = placed, failed
        logger.info("placed %d of %d %s objects (%.0f s)", placed, counts[kind], kind,
                    time.perf_counter() - start)
    if pool is not None:
        pool.shutdown()
    objects = pd.DataFrame(rows, columns=["class_name", "z", "y", "x", "a1", "a2", "a3"])
    return Scene(potential, occupancy, objects, summary)


def _rotators(draws, kind: str, parameters: SceneParameters, binning: int) -> dict:
    """One :class:`Rotator` per drawn source (keyed by ``id``): proteins carry their solid
    envelope (unless the organisers' thresholds decide occupancy)."""
    rotators = {}
    for _, source in draws:
        if id(source) not in rotators:
            solid = (solid_envelope(source) if kind == "protein"
                     and not parameters.threshold_rotated_potentials else None)
            ball = centre_ball_radius_voxels(binning) if solid is not None else 0.0
            rotators[id(source)] = Rotator(source, solid, ball, SUPPORT_FRACTION)
    return rotators


def _in_order(function, jobs, pool, ahead: int):
    """``function(job)`` for every job, yielded in order; with a thread ``pool`` up to
    ``ahead`` jobs run ahead of the consumer."""
    if pool is None:
        yield from (function(job) for job in jobs)
        return
    pending = deque()
    queued = iter(jobs)
    for job in queued:
        pending.append(pool.submit(function, job))
        if len(pending) >= ahead:
            break
    while pending:
        yield pending.popleft().result()
        job = next(queued, None)
        if job is not None:
            pending.append(pool.submit(function, job))


def _place_block(prepared: _Prepared | None, parameters: SceneParameters,
                 potential: np.ndarray, occupancy: np.ndarray, rng, object_id: int):
    """Find a rotated, blurred object a free position inside the box and add it there.

    Returns the centre voxel ``(z, y, x)``, or None when no position was free.
    """
    if prepared is None:
        return None
    spot = _try_place(potential.shape, prepared, occupancy, rng,
                      parameters.max_placement_attempts)
    if spot is None:
        return None
    centre, target, block = spot
    potential[target] += prepared.block[block]
    occupancy[target][prepared.occupied[block]] = object_id
    return centre


def _place_vesicle(vesicle: Vesicle, angles, geometry: SceneGeometry,
                   parameters: SceneParameters, potential: np.ndarray, occupancy: np.ndarray,
                   rng, object_id: int):
    """Turn a vesicle by ``angles``, find it a free centre anywhere in the box (the vesicle
    cropped at the faces) and write its potential and membrane in place.

    Returns the centre voxel, or None. Only the vesicle's shell voxels are ever computed.
    """
    shape = np.array(potential.shape)
    rotation = rotation_matrix_xyz(angles)[::-1, ::-1]  # acting on (z, y, x) vectors
    voxels = VesicleVoxels(vesicle, rotation, geometry.simulation_voxel_nm,
                           voltage_kv=parameters.voltage_kv, oversampling=parameters.oversampling,
                           absorption=parameters.absorption,
                           blur_sigma_nm=parameters.motion_blur_sigma_nm)
    shell = None
    if parameters.threshold_rotated_potentials:  # the organisers' occupancy: real > 0.001 V
        parts = list(voxels.shell())
        offsets = np.concatenate([o for o, _ in parts], axis=1)
        values = np.concatenate([v for _, v in parts])
        values.real[values.real < OCCUPANCY_THRESHOLD_V["vesicle"]] = 0.0
        shell = (offsets, values)
        occupied = offsets[:, values.real > 0]
    else:
        occupied = voxels.membrane()
    if occupied.shape[1] == 0:
        return None
    probes = [np.ascontiguousarray(occupied[:, ::stride]) for stride in VESICLE_PROBE_STRIDES]
    flat_occupancy = occupancy.reshape(-1)
    for _ in range(parameters.max_placement_attempts):
        centre = np.array([rng.integers(0, n) for n in shape])
        if any(_collides(probe, centre, shape, flat_occupancy) for probe in probes):
            continue
        if _collides(occupied, centre, shape, flat_occupancy) is False:
            break
    else:
        return None
    flat_potential = potential.reshape(-1)
    if shell is None:
        for offsets, values in voxels.shell(low=-centre, high=shape - centre):
            flat_potential[_flat_index(offsets, centre, shape)] += values
    else:
        inside = _inside_box(shell[0], centre, shape)
        flat_potential[_flat_index(shell[0][:, inside], centre, shape)] += shell[1][inside]
    inside = _inside_box(occupied, centre, shape)
    flat_occupancy[_flat_index(occupied[:, inside], centre, shape)] = object_id
    return centre


def _inside_box(offsets: np.ndarray, centre, shape) -> np.ndarray:
    """Bool per voxel offset ``(3, n)``: does ``centre + offset`` lie in the box?"""
    inside = np.ones(offsets.shape[1], dtype=bool)
    for axis in range(3):
        position = offsets[axis] + np.int32(centre[axis])
        inside &= (position >= 0) & (position < shape[axis])
    return inside


def _flat_index(offsets: np.ndarray, centre, shape) -> np.ndarray:
    """C-order flat indices of the voxels ``centre + offsets`` (all inside the box)."""
    position = offsets.astype(np.intp) + np.asarray(centre, dtype=np.intp)[:, None]
    return (position[0] * shape[1] + position[1]) * shape[2] + position[2]


def _collides(offsets: np.ndarray, centre, shape, flat_occupancy) -> bool | None:
    """Whether any in-box voxel ``centre + offset`` is occupied; None when none is in the box."""
    inside = _inside_box(offsets, centre, shape)
    if not inside.any():
        return None
    return bool(flat_occupancy[_flat_index(offsets[:, inside], centre, shape)].any())


def _blur_pad_voxels(sigma_voxels: float) -> int:
    """Reach (voxels) of the motion blur's kernel (truncated at 4 σ, as scipy does)."""
    return int(4.0 * sigma_voxels + 0.5) if sigma_voxels > 0 else 0


def _motion_blur(potential: np.ndarray, sigma_voxels: float) -> None:
    """Gaussian blur (``mode="constant"``) of real and imaginary parts in place, axis by axis
    (each 1-D pass buffers its lines, so no temporary of the block's size is needed)."""
    if sigma_voxels <= 0:
        return
    for part in (potential.real, potential.imag):
        for axis in range(3):
            ndimage.gaussian_filter1d(part, sigma_voxels, axis=axis, output=part,
                                      mode="constant", truncate=4.0)


def ice_background_v(voltage_kv: float, imaginary_only: bool = False) -> complex:
    """The amorphous-ice background potential (V): 4.5301 real (0 with ``imaginary_only``),
    the ice absorption potential at ``voltage_kv`` imaginary."""
    return complex(
        0.0 if imaginary_only else ICE_POTENTIAL_V, absorption_potential_v("ice", voltage_kv)
    )


def add_ice(potential: np.ndarray, voltage_kv: float, imaginary_only: bool = False) -> None:
    """Add the amorphous-ice background (:func:`ice_background_v`) in place."""
    potential += np.complex64(ice_background_v(voltage_kv, imaginary_only))


def final_grandmodel(scene: Scene, geometry: SceneGeometry, workers: int = 1) -> np.ndarray:
    """Binned real potential (no ice, volts) in the final frame, float32 ``final_shape``."""
    z0 = geometry.z_offset
    grandmodel = np.zeros(geometry.final_shape, dtype=np.float32)
    grandmodel[z0 : z0 + geometry.ice_voxels] = fourier_bin(scene.potential.real,
                                                            geometry.binning, workers=workers)
    return grandmodel


def final_masks(scene: Scene, geometry: SceneGeometry):
    """Yield the final-frame masks one at a time (each float32 ``final_shape``): first the
    class mask (SHREC class ids), then the occupancy (object ids = lines of the list)."""
    b, z0 = geometry.binning, geometry.z_offset
    slab = slice(z0, z0 + geometry.ice_voxels)
    binned = scene.occupancy[::b, ::b, ::b]
    lookup = np.zeros(len(scene.objects) + 1, dtype=np.float32)
    lookup[1:] = [class_id(n) for n in scene.objects["class_name"]]
    class_mask = np.zeros(geometry.final_shape, dtype=np.float32)
    class_mask[slab] = lookup[binned]
    yield class_mask
    del class_mask
    occupancy = np.zeros(geometry.final_shape, dtype=np.float32)
    occupancy[slab] = binned
    yield occupancy


def final_locations(scene: Scene, geometry: SceneGeometry) -> pd.DataFrame:
    """The particle list in the final frame (``tomobench.particles.LOCATION_COLUMNS``)."""
    b, frame = geometry.binning, scene.objects
    return pd.DataFrame(
        {
            "class_name": frame["class_name"],
            "x": frame["x"] // b,
            "y": frame["y"] // b,
            "z": frame["z"] // b + geometry.z_offset,
            "a1": frame["a1"],
            "a2": frame["a2"],
            "a3": frame["a3"],
        }
    )[LOCATION_COLUMNS]


def final_ground_truth(scene: Scene, geometry: SceneGeometry, workers: int = 1):
    """Binned ground truth in the final frame (all at once; the workflow script writes the
    volumes one by one to bound its memory).

    Returns
    -------
    grandmodel : float32 ``(size_z, size_xy, size_xy)``, real potential (no ice), volts.
    class_mask : float32, same shape, SHREC class ids.
    occupancy : float32, same shape, object ids (line numbers of the locations file).
    locations : DataFrame in ``tomobench.particles.LOCATION_COLUMNS`` (final-frame integers).
    """
    class_mask, occupancy = final_masks(scene, geometry)
    return (final_grandmodel(scene, geometry, workers), class_mask, occupancy,
            final_locations(scene, geometry))
