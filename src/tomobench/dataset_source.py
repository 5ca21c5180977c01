"""Tomograms the workflow did not simulate (config ``dataset``): a folder in the SHREC 2021
layout, read in place, or a copick project.

``dataset.source: simulate`` (the default) runs the simulation; ``shrec`` reads ``dataset.path``,
a folder of ``model_<i>/`` (:data:`tomobench.io.MODEL_FILES` names), and ``copick`` a copick
project (:mod:`tomobench.formats.copick_project`). Tomogram ``i`` of the roles in ``tomograms.*``
is ``model_<i>`` of the SHREC folder, or run ``dataset.copick.runs[i]`` of the project.

Inputs are read only: what the pickers need that a source lacks is derived into
``results/<name>/data/model_<i>/`` (:data:`SHREC_DERIVED` says from what), never written next to
the input. :func:`shrec_layout` decides, before any job starts, which file of each tomogram is
read in place and which is derived, and raises ``InputError`` for a missing folder or file, a mask
whose shape matches neither release (the 512-cube competition release: masks shaped like the
reconstruction; the re-release: 180-slab masks, ``(n < z, y, x)``), or a voxel size or shape that
disagrees between the header and the config.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tomobench.errors import InputError
from tomobench.io import MODEL_FILES

SOURCES = ("simulate", "shrec", "copick")
#: Files every SHREC tomogram folder must have (what the pickers and the scoring read).
SHREC_REQUIRED = ("reconstruction", "class_mask", "occupancy_mask", "grandmodel",
                  "particle_locations")
#: Volumes of the ground truth that are slabs in the 180-slab re-release.
SHREC_MASKS = ("class_mask", "occupancy_mask", "grandmodel")
#: What is derived when a SHREC folder lacks it (or has it in another frame or spelling).
SHREC_DERIVED = {
    "acquisition": "tilt range from alignment_simulated.txt (else tilt_series.tilt_range_deg); "
                   "defocus from dataset.defocus_um (else the middle of microscope.defocus_um); "
                   "voltage and Cs from microscope",
    "scene_parameters": "ice slab = the z extent of the occupancy mask",
    "particle_locations": "class names normalised (4V94_fixed -> 4V94, vesicles -> vesicle, "
                          "fiducials -> fiducial); z in the reconstruction frame",
    "class_mask": "slab placed at its z offset in a volume shaped like the reconstruction",
    "occupancy_mask": "slab placed at its z offset in a volume shaped like the reconstruction",
    "grandmodel": "slab placed at its z offset in a volume shaped like the reconstruction",
}
#: Relative tolerance between a header's voxel size and tomograms.voxel_size_nm.
VOXEL_SIZE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class SourceTomogram:
    """One tomogram of a source that is not simulated (a SHREC folder's ``model_<i>`` or a
    copick run).

    Attributes
    ----------
    folder : the ``model_<i>`` folder, or the copick run's folder (read only).
    release : ``"cube"`` (masks shaped like the reconstruction), ``"slab"`` (180-slab masks)
        or ``"copick"``.
    run : the copick run's name (copick only).
    files : ``{key: path}`` of the folder's files the run reads (in place, or to derive from).
    derived : keys (of :data:`tomobench.io.MODEL_FILES`) the pickers read from
        ``results/<name>/data/model_<i>/`` instead (made from ``files``).
    shape_zyx : the reconstruction's shape.
    """

    folder: Path
    release: str
    files: dict[str, Path]
    derived: tuple[str, ...]
    shape_zyx: tuple[int, int, int]
    mask_depth: int = 0
    run: str = ""
    notes: dict[str, str] = field(default_factory=dict)


def used_tomogram_ids(config: dict) -> list[int]:
    """Ids of the tomograms some role uses (training, validation or test), sorted."""
    t = config["tomograms"]
    return sorted({int(i) for key in ("training", "validation", "test") for i in t[key]})


def mrc_header(path: str | os.PathLike) -> tuple[tuple[int, ...], float]:
    """Shape ``(z, y, x)`` and voxel size (nm, 0 when unset) from an MRC header."""
    from tomobench.mrc import MrcVolume

    volume = MrcVolume(Path(path))
    return tuple(int(n) for n in volume.shape), volume.voxel_size_nm


def _class_names(path: Path) -> set[str]:
    from tomobench.io import text_rows

    return {fields[0] for _, fields, _ in text_rows(path, what="particle list", comment=None)}


def check_voxel_size(path: Path, header_nm: float, config_nm: float) -> None:
    """``InputError`` when a header's voxel size (nm; 0 = unset) differs from the config's."""
    if header_nm > 0 and abs(header_nm - config_nm) > VOXEL_SIZE_TOLERANCE * config_nm:
        raise InputError(f"{path}: voxel size {header_nm:g} nm in the header, but "
                         f"tomograms.voxel_size_nm is {config_nm:g} (config key "
                         "tomograms.voxel_size_nm)")


def check_shape(path: Path, shape: tuple[int, ...], tomograms: dict) -> None:
    """``InputError`` when a reconstruction's shape differs from ``tomograms.size_*``."""
    expected = (tomograms["size_z_voxels"], tomograms["size_xy_voxels"],
                tomograms["size_xy_voxels"])
    if tuple(shape) != expected:
        raise InputError(f"{path}: shape {tuple(shape)} (z, y, x), but the config says "
                         f"{expected} (config keys tomograms.size_z_voxels, "
                         "tomograms.size_xy_voxels)")


def shrec_model(folder: Path, config: dict) -> SourceTomogram:
    """Classify one ``model_<i>`` folder (see the module docstring); ``InputError`` on a
    missing file, a mask of neither release, or a header that disagrees with the config."""
    from tomobench.classes import SHREC_CLASS_NAMES
    from tomobench.evaluation.truth import GROUND_TRUTH_ALIASES

    if not folder.is_dir():
        raise InputError(f"{folder}: SHREC tomogram folder not found (config key dataset.path "
                         "and the ids in tomograms.training/validation/test)")
    paths = {key: folder / MODEL_FILES[key] for key in MODEL_FILES}
    for key in SHREC_REQUIRED:
        if not paths[key].is_file():
            raise InputError(f"{paths[key]}: file not found (a SHREC tomogram folder needs "
                             f"{', '.join(MODEL_FILES[k] for k in SHREC_REQUIRED)})")
    tomograms = config["tomograms"]
    shape, voxel_nm = mrc_header(paths["reconstruction"])
    check_voxel_size(paths["reconstruction"], voxel_nm, float(tomograms["voxel_size_nm"]))
    check_shape(paths["reconstruction"], shape, tomograms)
    releases, depth = set(), shape[0]
    for key in SHREC_MASKS:
        mask_shape, mask_voxel_nm = mrc_header(paths[key])
        check_voxel_size(paths[key], mask_voxel_nm, float(tomograms["voxel_size_nm"]))
        if mask_shape == shape:
            releases.add("cube")
        elif mask_shape[1:] == shape[1:] and mask_shape[0] < shape[0]:
            releases.add("slab")
            depth = mask_shape[0]
        else:
            raise InputError(f"{paths[key]}: shape {mask_shape} matches neither SHREC release "
                             f"for the reconstruction {shape}: the competition release's masks "
                             "are shaped like the reconstruction, the re-release's are z slabs "
                             f"({shape[1]} x {shape[2]} with fewer than {shape[0]} sections)")
    if len(releases) != 1:
        raise InputError(f"{folder}: some masks are slabs, others are not "
                         f"({', '.join(MODEL_FILES[k] for k in SHREC_MASKS)})")
    release = releases.pop()
    derived = []
    if release == "slab":
        derived += [*SHREC_MASKS, "particle_locations"]
    names = _class_names(paths["particle_locations"])
    unknown = sorted({GROUND_TRUTH_ALIASES.get(n, n) for n in names}
                     - set(SHREC_CLASS_NAMES[1:]))
    if unknown:
        raise InputError(f"{paths['particle_locations']}: classes {unknown} are not SHREC "
                         f"classes ({', '.join(SHREC_CLASS_NAMES[1:])})")
    if release == "cube" and set(GROUND_TRUTH_ALIASES) & names:
        derived.append("particle_locations")
    for key in ("acquisition", "scene_parameters"):
        if not paths[key].is_file():
            derived.append(key)
    optional = [key for key in ("acquisition", "scene_parameters", "alignment")
                if paths[key].is_file()]
    files = {key: paths[key] for key in (*SHREC_REQUIRED, *optional)}
    notes = {key: SHREC_DERIVED[key] for key in derived}
    return SourceTomogram(folder=folder, release=release, files=files, derived=tuple(derived),
                      shape_zyx=tuple(shape), mask_depth=depth, notes=notes)


def shrec_layout(config: dict) -> dict[int, SourceTomogram]:
    """:func:`shrec_model` of every tomogram a role uses, ``{id: SourceTomogram}``."""
    path = config["dataset"].get("path")
    if not path:
        raise InputError("config key dataset.path: required with dataset.source: shrec (a "
                         "folder of model_<i>/ in the SHREC 2021 layout)")
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"config key dataset.path: {root} is not a folder")
    return {i: shrec_model(root / f"model_{i}", config) for i in used_tomogram_ids(config)}


# --------------------------------------------------------------------------- copick

#: What a run derives from each copick run (all of it: OME-Zarr is converted to MRC).
COPICK_DERIVED = {
    "reconstruction": "full-resolution level of the run's OME-Zarr tomogram "
                      "(dataset.copick.tomo_type at tomograms.voxel_size_nm), as MRC",
    "particle_locations": "points of dataset.copick.truth_user/truth_session (instance order "
                          "when every point has a distinct instance id)",
    "occupancy_mask": "the truth user's panoptic segmentation shrec-particles when present, "
                      "else balls of each pickable object's radius",
    "class_mask": "class id of each occupancy id",
    "grandmodel": "tomogram of type dataset.copick.grandmodel_type when present, else the "
                  "occupancy (1 inside a particle, 0 outside): MC-DS-Net's denoising target",
    "acquisition": SHREC_DERIVED["acquisition"],
    "scene_parameters": SHREC_DERIVED["scene_parameters"],
}


def _local_root(url: str | None) -> Path | None:
    if not url:
        return None
    if url.startswith("local://"):
        return Path(url[len("local://"):])
    return None if "://" in url else Path(url)


def copick_run_files(config_path: Path, run: str) -> dict[str, Path]:
    """``{"<overlay_root|static_root>/<path in the run>": file}`` of a copick run in the
    project's local roots (a remote root, e.g. the data portal's, lists nothing)."""
    import json

    project = json.loads(config_path.read_text())
    files = {}
    for key in ("overlay_root", "static_root"):
        root = _local_root(project.get(key))
        folder = None if root is None else root / "ExperimentRuns" / run
        if folder is not None and folder.is_dir():
            files.update({f"{key}/{p.relative_to(folder).as_posix()}": p
                          for p in sorted(folder.rglob("*")) if p.is_file()})
    return files


def copick_tomogram(config: dict, root, run_name: str, config_path: Path,
                    project_objects: tuple = ()) -> SourceTomogram:
    """Check one copick run (exists, tomogram of the type at the voxel spacing, ground-truth
    points of the user/session, classes the config knows — or, for a project of its own
    classes, ``project_objects`` (:mod:`tomobench.project_classes`), its particle objects) and
    list its files."""
    from tomobench.classes import PROTEIN_CLASSES, SHREC_CLASS_NAMES
    from tomobench.formats import copick_project

    copick = config["dataset"]["copick"]
    tomograms = config["tomograms"]
    run = root.get_run(run_name)
    if run is None:
        known = ", ".join(sorted(r.name for r in root.runs)) or "none"
        raise InputError(f"config key dataset.copick.runs: {config_path} has no run "
                         f"{run_name!r} (runs: {known})")
    spacing_A = float(tomograms["voxel_size_nm"]) * 10.0
    spacings = copick_project.voxel_spacings_A(root, run_name)
    if not any(abs(s - spacing_A) <= VOXEL_SIZE_TOLERANCE * spacing_A for s in spacings):
        raise InputError(f"copick run {run_name!r} has voxel spacings {spacings} Å, not "
                         f"{spacing_A:g} Å (config key tomograms.voxel_size_nm)")
    try:
        tomogram = copick_project._tomogram(run, spacing_A, copick["tomo_type"])
    except InputError as error:
        raise InputError(f"{error} (config key dataset.copick.tomo_type)") from None
    import zarr

    shape = tuple(int(n) for n in zarr.open(tomogram.zarr())["0"].shape)
    check_shape(Path(f"{config_path} run {run_name}"), shape, tomograms)
    user, session = copick["truth_user"], copick["truth_session"]
    picks = [p for p in run.get_picks(user_id=user, session_id=session) if p.points]
    if not picks:
        raise InputError(f"copick run {run_name!r} has no points of user {user!r}"
                         + (f", session {session!r}" if session else "")
                         + " (config keys dataset.copick.truth_user, truth_session)")
    objects = {o.name for o in root.pickable_objects}
    configured = set(config["structures"]["classes"]) | {"vesicle", "fiducial"}
    picked = sorted({p.pickable_object_name for p in picks})
    if project_objects:  # the project's own classes (tomobench.project_classes)
        particles = {o.name for o in project_objects}
        stray = [name for name in picked if name not in particles]
        if stray:
            raise InputError(f"copick run {run_name!r}: ground-truth points of {stray}, which "
                             "are not particle objects of the project "
                             f"({', '.join(sorted(particles))})")
        picked = []
    for name in picked:
        if name not in objects or name not in SHREC_CLASS_NAMES[1:]:
            raise InputError(f"copick run {run_name!r}: ground-truth points of {name!r}, which "
                             "is not a SHREC 2021 class (tomobench's pickers and scoring know "
                             f"{', '.join(SHREC_CLASS_NAMES[1:])})")
        if name in PROTEIN_CLASSES and name not in configured:
            raise InputError(f"copick run {run_name!r}: ground-truth points of {name!r}, a "
                             "class not in the config (config key structures.classes)")
    files = copick_run_files(config_path, run_name)
    folder = next((p.parents[len(Path(k).parts) - 2] for k, p in files.items()),
                  config_path.parent)
    return SourceTomogram(
        folder=folder, release="copick",
        files={"copick_config": config_path, **files},
        derived=tuple(COPICK_DERIVED), shape_zyx=shape, run=run_name,
        notes=dict(COPICK_DERIVED))


def import_copick_run(config: dict, run_name: str) -> tuple[dict, object, list[str]]:
    """One copick run as the SHREC files of a tomogram folder.

    Returns
    -------
    volumes : ``{"reconstruction", "class_mask", "occupancy_mask", "grandmodel"}`` float32
        ``(z, y, x)`` arrays at ``tomograms.voxel_size_nm``.
    locations : DataFrame ``class_name, x, y, z, a1, a2, a3`` (line k = occupancy id k; angles
        from each point's transformation, NaN for vesicles and fiducials).
    notes : one line per value taken from elsewhere than the run's own record.
    """
    import warnings

    import pandas as pd
    from scipy.spatial.transform import Rotation

    from tomobench.classes import CLASS_ID
    from tomobench.formats import copick_project
    from tomobench.orientation import euler_deg_from_rotation

    copick = config["dataset"]["copick"]
    spacing_A = float(config["tomograms"]["voxel_size_nm"]) * 10.0
    root = copick_project.open_project(config["dataset"]["path"])
    run = root.get_run(run_name)
    # the spacing as the project spells it (10.012 Å, not 10.0120000001)
    spacing_A = min(copick_project.voxel_spacings_A(root, run_name),
                    key=lambda s: abs(s - spacing_A))
    user, session = copick["truth_user"], copick["truth_session"]
    notes = []
    reconstruction, _ = copick_project.load_tomogram(root, run_name, spacing_A,
                                                     copick["tomo_type"])
    truth = copick_project.load_ground_truth(root, run_name, user_id=user, session_id=session,
                                             voxel_size_A=spacing_A,
                                             tomo_type=copick["tomo_type"])
    notes.append(f"occupancy from {truth.occupancy_path}")
    occupancy = truth.occupancy.astype(np.float32)
    from tomobench import project_classes

    objects = project_classes.project_objects(config)
    ids = {o.name: o.id for o in objects} if objects else CLASS_ID
    class_of_id = np.zeros(len(truth.class_names) + 1, np.float32)
    class_of_id[1:] = [ids[name] for name in truth.class_names]
    if objects:
        notes.append("class ids are the copick objects' labels "
                     + ", ".join(f"{o.name}={o.id}" for o in objects)
                     + "; occupancy balls of each object's radius unless segmented")
    class_mask = class_of_id[truth.occupancy]
    grandmodel = None
    if copick["grandmodel_type"]:
        spacing = run.get_voxel_spacing(spacing_A)
        if spacing is not None and spacing.get_tomograms(copick["grandmodel_type"]):
            grandmodel, _ = copick_project.load_tomogram(root, run_name, spacing_A,
                                                         copick["grandmodel_type"])
            notes.append(f"grand model from tomogram type {copick['grandmodel_type']!r}")
    if grandmodel is None:
        grandmodel = (truth.occupancy > 0).astype(np.float32)
        notes.append("no noise-free density: the grand model (MC-DS-Net's denoising target) is "
                     "the occupancy, 1 inside a particle, 0 outside")
    transforms = []
    for obj_name in dict.fromkeys(truth.class_names):
        for picks in run.get_picks(object_name=obj_name, user_id=user, session_id=session):
            _, matrices = picks.numpy()
            order = picks.instance_ids()
            transforms += list(zip(order, [obj_name] * len(order), matrices, strict=True))
    points = copick_project.load_points(root, run_name, user, session, spacing_A)
    angles = np.full((len(points), 3), np.nan)
    by_instance = {(int(k), name): m for k, name, m in transforms}
    for row, (name, instance) in enumerate(zip(points["class_name"], points["instance_id"],
                                               strict=True)):
        matrix = by_instance.get((int(instance), name))
        if matrix is not None and name not in ("vesicle", "fiducial"):
            with warnings.catch_warnings():  # gimbal lock: a2 = 0 has many equal triples
                warnings.simplefilter("ignore", UserWarning)
                angles[row] = euler_deg_from_rotation(
                    Rotation.from_matrix(np.asarray(matrix)[:3, :3]))[0]
    centres = truth.centres_zyx
    locations = pd.DataFrame({
        "class_name": list(truth.class_names), "x": centres[:, 2], "y": centres[:, 1],
        "z": centres[:, 0], "a1": angles[:, 0], "a2": angles[:, 1], "a3": angles[:, 2]})
    volumes = {"reconstruction": reconstruction.astype(np.float32, copy=False),
               "class_mask": class_mask, "occupancy_mask": occupancy, "grandmodel": grandmodel}
    return volumes, locations, notes


def copick_radii_nm(config: dict) -> dict[str, float]:
    """Radius (nm) of each pickable object of the copick project that has one (the CZII hit
    distance of its class)."""
    from tomobench.formats import copick_project

    root = copick_project.open_project(config["dataset"]["path"])
    return {o.name: float(o.radius) / 10.0 for o in root.pickable_objects if o.radius}


def copick_layout(config: dict) -> dict[int, SourceTomogram]:
    """:func:`copick_tomogram` of every tomogram a role uses: id ``i`` is
    ``dataset.copick.runs[i]``."""
    from tomobench.formats import copick_project

    path = config["dataset"].get("path")
    if not path:
        raise InputError("config key dataset.path: required with dataset.source: copick (the "
                         "project's copick configuration, JSON)")
    runs = list(config["dataset"]["copick"]["runs"])
    for key in ("training", "validation", "test"):
        for i in config["tomograms"][key]:
            if not 0 <= i < len(runs):
                raise InputError(f"config key tomograms.{key}: tomogram {i} is not a run of "
                                 f"dataset.copick.runs ({len(runs)} runs)")
    config_path = Path(path)
    try:
        root = copick_project.open_project(config_path)
    except InputError as error:
        raise InputError(f"config key dataset.path: {error}") from None
    from tomobench import project_classes

    objects = project_classes.objects_of_project(
        root, config["dataset"]["copick"].get("objects"), str(config_path))
    objects = project_classes.own_classes(objects, str(config_path))
    project_classes.check_methods(config, objects)
    return {i: copick_tomogram(config, root, runs[i], config_path, objects)
            for i in used_tomogram_ids(config)}


# --------------------------------------------------------------------------- derivations


def derived_acquisition(alignment_path: str | os.PathLike | None, reconstruction_path,
                        config: dict) -> dict:
    """An acquisition record for a tomogram that has none (what template matching reads,
    ``tomobench.io.read_acquisition``), with ``derived`` saying where each value came from."""
    from tomobench.simulation.alignment import read_alignment

    microscope = config["microscope"]
    defocus = config["dataset"].get("defocus_um")
    derived = {"voltage_kv": "microscope.voltage_kv",
               "spherical_aberration_mm": "microscope.spherical_aberration_mm"}
    if defocus is None:
        defocus = float(np.mean(microscope["defocus_um"]))
        derived["defocus_um"] = "middle of microscope.defocus_um (the source has no defocus)"
    else:
        derived["defocus_um"] = "dataset.defocus_um"
    if alignment_path is not None:
        angles, _ = read_alignment(alignment_path)
        angles = [float(a) for a in angles]
        derived["tilt_angles_deg"] = f"{alignment_path} (-1 x column TiltAngle)"
    else:
        first, last = config["tilt_series"]["tilt_range_deg"]
        angles = [float(first), float(last)]
        derived["tilt_angles_deg"] = "tilt_series.tilt_range_deg (the source has no alignment)"
    _, voxel_nm = mrc_header(Path(reconstruction_path))
    if voxel_nm <= 0:
        voxel_nm = float(config["tomograms"]["voxel_size_nm"])
        derived["pixel_size_nm"] = "tomograms.voxel_size_nm (header voxel size unset)"
    else:
        derived["pixel_size_nm"] = f"{reconstruction_path} header"
    return {
        "defocus_um": float(defocus),
        "voltage_kv": float(microscope["voltage_kv"]),
        "spherical_aberration_mm": float(microscope["spherical_aberration_mm"]),
        "tilt_angles_deg": angles,
        "pixel_size_nm": float(voxel_nm),
        "derived": derived,
    }


def derived_scene_parameters(occupancy: np.ndarray) -> dict:
    """``z_offset`` and ``ice_voxels`` (what the random control draws in) from the z extent
    of a ``(z, y, x)`` occupancy mask, for a source without a scene record."""
    planes = np.flatnonzero(np.any(occupancy != 0, axis=(1, 2)))
    if planes.size == 0:
        raise InputError("occupancy mask is empty: no particle to place the ice slab by")
    return {"z_offset": int(planes[0]), "ice_voxels": int(planes[-1] - planes[0] + 1),
            "derived": {"z_offset": "first z plane of the occupancy mask with a particle",
                        "ice_voxels": "z extent of the occupancy mask's particles"}}


def slab_placement(locations_path, occupancy_path, depth: int,
                   offset: int | None) -> dict:
    """Where a slab ground truth sits in a reconstruction of ``depth`` sections.

    Particle lists in the volume frame (a centre beyond the slab's depth) give the offset at
    which most centres fall on their own id (as ``tomobench evaluate`` does,
    ``tomobench.evaluation.truth.load_ground_truth``); lists in the slab frame take ``offset``
    (``dataset.slab_offset_voxels``; ``None``: the slab centred, ``(depth − n) // 2``).

    Returns ``{"z_offset", "locations_frame": "volume"|"slab", "derived"}``.
    """
    from tomobench.evaluation.truth import _find_slab_offset
    from tomobench.mrc import read_mrc
    from tomobench.particles import read_particle_locations

    frame = read_particle_locations(locations_path)
    occupancy, _ = read_mrc(occupancy_path)
    centres = frame[["z", "y", "x"]].to_numpy(dtype=np.int64).reshape(-1, 3)
    n = occupancy.shape[0]
    if len(centres) and int(centres[:, 0].max()) >= n:
        z_offset = _find_slab_offset(occupancy, centres, depth)
        return {"z_offset": int(z_offset), "locations_frame": "volume",
                "derived": "offset at which most particle centres lie on their own "
                           "occupancy id"}
    if offset is None:
        return {"z_offset": (depth - n) // 2, "locations_frame": "slab",
                "derived": "slab centred in the reconstruction (particle list in the slab "
                           "frame; set dataset.slab_offset_voxels to override)"}
    if not 0 <= offset <= depth - n:
        raise InputError(f"config key dataset.slab_offset_voxels: {offset} does not fit a "
                         f"{n}-section slab in {depth} sections")
    return {"z_offset": int(offset), "locations_frame": "slab",
            "derived": "dataset.slab_offset_voxels"}


def pad_slab(slab: np.ndarray, z_offset: int, depth: int) -> np.ndarray:
    """A ``(depth, y, x)`` volume of ``slab``'s dtype, zero but for ``slab`` at ``z_offset``."""
    volume = np.zeros((depth, *slab.shape[1:]), dtype=slab.dtype)
    volume[z_offset:z_offset + slab.shape[0]] = slab
    return volume


def normalised_locations(locations_path, z_shift: int = 0):
    """The particle list with SHREC class names (aliases of other releases renamed) and z
    shifted by ``z_shift`` (a DataFrame as ``read_particle_locations``)."""
    from tomobench.evaluation.truth import GROUND_TRUTH_ALIASES
    from tomobench.particles import read_particle_locations

    frame = read_particle_locations(locations_path)
    frame["class_name"] = [GROUND_TRUTH_ALIASES.get(n, n) for n in frame["class_name"]]
    frame["z"] = frame["z"] + int(z_shift)
    return frame


# --------------------------------------------------------------------------- input record


def file_record(path: str | os.PathLike, chunk_bytes: int = 1 << 24) -> dict:
    """``{"path", "size_bytes", "sha256", "mtime_ns"}`` of one input file."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    stat = path.stat()
    return {"path": str(path.resolve()), "size_bytes": int(stat.st_size),
            "sha256": digest.hexdigest(), "mtime_ns": int(stat.st_mtime_ns)}
