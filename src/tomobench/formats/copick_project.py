"""copick projects in and out, through the ``copick`` library (optional extra ``formats``).

Export (:func:`export_tomogram`): one copick run per SHREC-layout tomogram folder, with

- pickable objects: every SHREC class, ``label`` = SHREC class id, ``radius`` in Å;
- the reconstruction as an OME-Zarr multiscale tomogram (``tomo_type`` ``wbp``, 3 levels) at
  voxel spacing ``voxel_size_nm × 10`` Å, and ``grandmodel.mrc`` (when the folder has it) as the
  one-level tomogram ``grandmodel`` (the noise-free density; ``dataset.source: copick`` reads
  it back as MC-DS-Net's denoising target);
- the ground truth as points of user :data:`TRUTH_USER` (session ``0``): location in Å
  (``voxel × spacing``), transformation ``R`` of the SHREC angles (identity without angles),
  ``instance_id`` = occupancy id (line number of ``particle_locations.txt``);
- ``class_mask.mrc`` as the multilabel segmentation ``shrec-classes`` and ``occupancy_mask.mrc``
  as the panoptic segmentation ``shrec-particles`` (label = class id, instance = occupancy id);
- every method's picks as points of user ``<method>`` (identity transformation: SHREC
  submissions carry no orientation; score = the pick's score, 1 where it has none;
  ``instance_id`` = line number, since the line order decides a particle's first hit).

Import (:func:`load_ground_truth`, :func:`load_picks`): points of any user/session of a run in
voxels of a chosen voxel spacing, and a :class:`~tomobench.evaluation.truth.GroundTruth` for the
SHREC scorer. The occupancy regions come from the truth user's panoptic segmentation when there
is one, else from balls of each pickable object's ``radius`` around its points (a voxel belongs to
the nearest centre within radius) — the usual case for the CZII challenge and portal data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench.classes import CLASS_ID, PROTEIN_CLASSES, SHREC_CLASS_NAMES
from tomobench.errors import InputError
from tomobench.io import model_files
from tomobench.mrc import read_mrc
from tomobench.orientation import homogeneous_matrices
from tomobench.particles import read_particle_locations, read_picks

TRUTH_USER = "ground-truth"
SESSION = "0"
TOMO_TYPE = "wbp"
CLASS_SEGMENTATION = "shrec-classes"
PARTICLE_SEGMENTATION = "shrec-particles"
#: Multiscale levels of the exported tomograms (full, 2×, 4× binned).
PYRAMID_LEVELS = 3
#: Tomogram type of the noise-free grand model (MC-DS-Net's denoising target), one level.
GRANDMODEL_TYPE = "grandmodel"
#: The files of a tomogram folder that the export reads.
COPICK_FILES = ("reconstruction", "particle_locations", "class_mask", "occupancy_mask",
                "grandmodel")


def require_copick():
    """Import ``copick`` or explain how to install it."""
    try:
        import copick
    except ImportError:
        raise InputError("the copick library is not installed: pip install 'tomobench[formats]'"
                         ) from None
    return copick


def _colour(class_id: int) -> tuple[int, int, int, int]:
    from matplotlib import colormaps

    rgba = colormaps["tab20"](class_id % 20)
    return tuple(int(round(255 * c)) for c in rgba)


def pickable_objects(radii_nm: Mapping[str, float]) -> list:
    """copick ``PickableObject`` of every SHREC class (label = class id, radius in Å or None)."""
    from copick.models import PickableObject

    objects = []
    for class_id, name in enumerate(SHREC_CLASS_NAMES[1:], start=1):
        protein = name in PROTEIN_CLASSES
        radius = radii_nm.get(name)
        objects.append(PickableObject(
            name=name, is_particle=True, label=class_id, color=_colour(class_id),
            pdb_id=name if protein else None, identifier=f"PDB-{name}" if protein else None,
            radius=None if radius is None else float(radius) * 10.0))
    return objects


def new_project(config_path: str | os.PathLike, radii_nm: Mapping[str, float], *,
                name: str = "tomobench"):
    """A new copick project at ``config_path`` with its overlay in ``<config folder>/overlay``."""
    copick = require_copick()
    config_path = Path(config_path)
    overlay = config_path.parent.resolve() / "overlay"
    return copick.new_config(str(config_path), overlay_root=str(overlay), proj_name=name,
                             proj_description="SHREC 2021-style simulated tomograms (tomobench)",
                             pickable_objects=pickable_objects(radii_nm))


def _put_points(run, object_name: str, user_id: str, positions_A: np.ndarray,
                transforms: np.ndarray | None, instance_ids=None, scores=None) -> None:
    picks = run.new_picks(object_name, session_id=SESSION, user_id=user_id, exist_ok=True)
    picks.from_numpy(positions_A, transforms, instance_ids=instance_ids, scores=scores)


def export_tomogram(root, folder: str | os.PathLike, picks: Mapping[str, str | os.PathLike],
                    *, run_name: str | None = None) -> None:
    """Write one SHREC-layout tomogram folder (and its picks per method) as a copick run."""
    folder = Path(folder)
    files = model_files(folder, COPICK_FILES)
    run = root.new_run(run_name or folder.name, exist_ok=True)
    tomogram, voxel_size_nm = read_mrc(files["reconstruction"])
    spacing_A = voxel_size_nm * 10.0
    voxel_spacing = run.new_voxel_spacing(spacing_A, exist_ok=True)
    voxel_spacing.new_tomogram(TOMO_TYPE, exist_ok=True).from_numpy(
        tomogram.astype(np.float32), levels=PYRAMID_LEVELS)
    if files["grandmodel"].is_file():
        grandmodel, _ = read_mrc(files["grandmodel"])
        voxel_spacing.new_tomogram(GRANDMODEL_TYPE, exist_ok=True).from_numpy(
            grandmodel.astype(np.float32), levels=1)

    truth = read_particle_locations(files["particle_locations"])
    truth["instance_id"] = np.arange(1, len(truth) + 1)
    for name, group in truth.groupby("class_name", sort=False):
        _put_points(run, _object_name(name, files["particle_locations"]), TRUTH_USER,
                    group[["x", "y", "z"]].to_numpy(float) * spacing_A,
                    homogeneous_matrices(group[["a1", "a2", "a3"]].to_numpy(float)),
                    instance_ids=group["instance_id"].to_numpy())

    class_mask, _ = read_mrc(files["class_mask"])
    occupancy, _ = read_mrc(files["occupancy_mask"])
    run.new_segmentation(spacing_A, CLASS_SEGMENTATION, SESSION, is_multilabel=True,
                         user_id=TRUTH_USER, exist_ok=True).from_numpy(
        np.rint(class_mask).astype(np.uint8))
    occupancy = np.rint(occupancy).astype(np.int64)
    class_of_id = np.zeros(len(truth) + 1, dtype=np.int64)
    class_of_id[1:] = [CLASS_ID[_object_name(n, folder)] for n in truth["class_name"]]
    if occupancy.max(initial=0) > len(truth):
        raise InputError(f"{files['occupancy_mask']}: id {occupancy.max()} beyond the "
                         f"{len(truth)} particles of {files['particle_locations']}")
    run.new_segmentation(spacing_A, PARTICLE_SEGMENTATION, SESSION, user_id=TRUTH_USER,
                         is_panoptic=True, exist_ok=True).from_numpy(
        np.stack([class_of_id[occupancy], occupancy]).astype(np.uint16))

    for method, path in picks.items():
        frame = read_picks(path)
        frame["line"] = np.arange(1, len(frame) + 1)
        frame["object"] = [_object_name(name, path) for name in frame["class_name"]]
        user = _user_id(method)
        for name, group in frame.groupby("object", sort=False):
            scores = group["score"].to_numpy(float)
            _put_points(run, name, user, group[["x", "y", "z"]].to_numpy(float) * spacing_A,
                        None, instance_ids=group["line"].to_numpy(),
                        scores=np.where(np.isfinite(scores), scores, 1.0))


def export_tomograms(config_path: str | os.PathLike, folders, picks_by_method,
                     radii_nm: Mapping[str, float]) -> None:
    """A new copick project of several tomogram folders.

    ``picks_by_method`` maps a method to ``{folder name: picks file}`` (tomograms without picks,
    e.g. the training ones, are exported with their ground truth only).
    """
    root = new_project(config_path, radii_nm)
    for folder in folders:
        name = Path(folder).name
        export_tomogram(root, folder, {method: files[name]
                                       for method, files in picks_by_method.items()
                                       if name in files})


CONFIG_NAME = "copick_config.json"


def run_folder_radii_nm(results: str | os.PathLike) -> dict[str, float]:
    """Particle radii (nm) of a tomobench run: the CZII radii of the proteins, and vesicle and
    gold radii from the middle of the run's size ranges (``config.yaml``), when recorded."""
    import yaml

    from tomobench.evaluation.czii import PARTICLE_RADIUS_NM

    radii = dict(PARTICLE_RADIUS_NM)
    config_path = Path(results) / "config.yaml"
    if config_path.is_file():
        potential = (yaml.safe_load(config_path.read_text()) or {}).get("potential", {})
        for name, key in (("vesicle", "vesicle_diameter_nm"), ("fiducial", "gold_diameter_nm")):
            if key in potential:
                radii[name] = sum(potential[key]) / 4.0
    return radii


def export_run_folder(results: str | os.PathLike, out: str | os.PathLike, *,
                      tomograms=None) -> Path:
    """Export a tomobench run folder (``data/<tomogram>``, ``picks/<method>/<tomogram>.txt``)
    as the copick project ``out/copick_config.json`` + ``out/overlay`` (:func:`write_project`)."""
    results = Path(results)
    data = results / "data"
    names = tomograms or sorted(p.name for p in data.glob("*") if p.is_dir())
    folders = [data / name for name in names]
    missing = [str(f) for f in folders if not model_files(f)["reconstruction"].is_file()]
    if not folders or missing:
        raise InputError(f"{data}: no tomogram folder with reconstruction.mrc "
                         f"({', '.join(missing) or 'none found'})")
    picks = {}
    for method in sorted(p for p in (results / "picks").glob("*") if p.is_dir()):
        picks[method.name] = {f.stem: f for f in method.glob("*.txt") if f.stem in names}
    return write_project(out, folders, picks, run_folder_radii_nm(results))


def write_project(out: str | os.PathLike, folders, picks_by_method,
                  radii_nm: Mapping[str, float]) -> Path:
    """:func:`export_tomograms` into ``out`` (``copick_config.json`` + ``overlay``), atomically:
    built beside it and renamed, replacing an earlier project only when complete."""
    import json
    import shutil
    import tempfile

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        export_tomograms(staging / CONFIG_NAME, folders, picks_by_method, radii_nm)
        config = json.loads((staging / CONFIG_NAME).read_text())
        config["overlay_root"] = "local://" + str((out / "overlay").resolve())
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=4) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / CONFIG_NAME


def _object_name(label: str, source) -> str:
    """The SHREC class (= copick object) of a label, matched case-insensitively."""
    upper = {name.upper(): name for name in SHREC_CLASS_NAMES[1:]}
    try:
        return upper[str(label).upper()]
    except KeyError:
        raise InputError(f"{source}: label {label!r} is not a SHREC class, so it has no copick "
                         "pickable object") from None


def _user_id(method: str) -> str:
    from copick.util.escape import sanitize_name

    user = sanitize_name(method, suppress_warnings=True)
    if user == TRUTH_USER:
        raise InputError(f"method {method!r}: its copick user id is the ground truth's")
    return user


# --------------------------------------------------------------------------- import


def open_project(config_path: str | os.PathLike):
    """Open a copick project (its JSON configuration)."""
    copick = require_copick()
    config_path = Path(config_path)
    if not config_path.is_file():
        raise InputError(f"{config_path}: copick configuration not found")
    try:
        return copick.from_file(str(config_path))
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{config_path}: not a copick configuration ({error})") from error


def _run(root, name: str):
    run = root.get_run(name)
    if run is None:
        known = ", ".join(r.name for r in root.runs) or "none"
        raise InputError(f"copick run {name!r} not found (runs: {known})")
    return run


def voxel_spacings_A(root, run_name: str) -> list[float]:
    """The voxel spacings (Å) of a run."""
    return sorted(vs.voxel_size for vs in _run(root, run_name).voxel_spacings)


def load_points(root, run_name: str, user_id: str, session_id: str | None,
                voxel_size_A: float) -> pd.DataFrame:
    """Points of one user (and session) in voxels of ``voxel_size_A``.

    Returns a DataFrame ``class_name, x, y, z, score, instance_id`` (float voxel coordinates of
    each point's centre: location + shift, over the spacing), objects in configuration order.
    """
    run = _run(root, run_name)
    frames = []
    for obj in root.pickable_objects:
        for picks in run.get_picks(object_name=obj.name, user_id=user_id, session_id=session_id):
            centres = picks.full_positions().reshape(-1, 3) / voxel_size_A
            frames.append(pd.DataFrame({
                "class_name": obj.name, "x": centres[:, 0], "y": centres[:, 1],
                "z": centres[:, 2], "score": picks.scores(), "instance_id": picks.instance_ids(),
            }))
    if not frames:
        raise InputError(f"copick run {run_name!r}: no points of user {user_id!r}"
                         + (f", session {session_id!r}" if session_id else ""))
    points = pd.concat(frames, ignore_index=True)
    ids = points["instance_id"].to_numpy()
    if np.all(ids > 0) and len(np.unique(ids)) == len(ids):
        # tomobench's export numbers every point (particle id, or line of the submission,
        # whose order decides the first hit): restore that order
        points = points.sort_values("instance_id", kind="stable", ignore_index=True)
    return points


def load_picks(root, run_name: str, user_id: str, session_id: str | None,
               voxel_size_A: float) -> pd.DataFrame:
    """A submission (``class_name, x, y, z, score`` voxels) from a user's copick points."""
    return load_points(root, run_name, user_id, session_id, voxel_size_A)[
        ["class_name", "x", "y", "z", "score"]]


def _tomogram(run, voxel_size_A: float, tomo_type: str | None):
    spacing = run.get_voxel_spacing(voxel_size_A)
    tomograms = [] if spacing is None else spacing.tomograms
    if tomo_type:
        tomograms = [t for t in tomograms if t.tomo_type == tomo_type]
    if not tomograms:
        raise InputError(f"copick run {run.name!r}: no tomogram"
                         + (f" of type {tomo_type!r}" if tomo_type else "")
                         + f" at {voxel_size_A:g} Å")
    return tomograms[0]


def _volume_shape(run, voxel_size_A: float, tomo_type: str | None) -> tuple[int, int, int]:
    import zarr

    tomogram = _tomogram(run, voxel_size_A, tomo_type)
    return tuple(int(n) for n in zarr.open(tomogram.zarr())["0"].shape)


def load_tomogram(root, run_name: str, voxel_size_A: float,
                  tomo_type: str | None = None) -> tuple[np.ndarray, float]:
    """A run's tomogram (full-resolution level of the OME-Zarr pyramid) as the pickers take it:
    float32 ``(z, y, x)`` and its voxel size in nm. Without ``tomo_type`` the run must hold one
    tomogram type at that spacing (a tomobench export holds two: ``wbp`` and ``grandmodel``)."""
    run = _run(root, run_name)
    if not tomo_type:
        spacing = run.get_voxel_spacing(voxel_size_A)
        types = sorted({t.tomo_type for t in ([] if spacing is None else spacing.tomograms)})
        if len(types) > 1:
            raise InputError(f"copick run {run_name!r} has tomograms of types {types} at "
                             f"{voxel_size_A:g} Å; name one (--tomo-type)")
    tomogram = _tomogram(run, voxel_size_A, tomo_type)
    return tomogram.numpy().astype(np.float32, copy=False), voxel_size_A / 10.0


def _ball_occupancy(centres_zyx: np.ndarray, radii_vox: np.ndarray, shape) -> np.ndarray:
    """Ids 1..n of balls around the centres; a voxel goes to the nearest centre within radius."""
    occupancy = np.zeros(shape, dtype=np.int32)
    best = np.full(shape, np.inf, dtype=np.float32)
    for k, (centre, radius) in enumerate(zip(centres_zyx, radii_vox, strict=True), start=1):
        lo = np.maximum(np.floor(centre - radius).astype(int), 0)
        hi = np.minimum(np.ceil(centre + radius).astype(int) + 1, shape)
        if np.any(hi <= lo):
            continue
        grid = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
        d2 = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True))
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        take = (d2 <= radius**2) & (d2 < best[box])
        best[box][take] = d2[take]
        occupancy[box][take] = k
    return occupancy


def load_ground_truth(root, run_name: str, *, user_id: str = TRUTH_USER,
                      session_id: str | None = None, voxel_size_A: float | None = None,
                      tomo_type: str | None = None, config_path: str = ""):
    """A :class:`~tomobench.evaluation.truth.GroundTruth` of a copick run's truth points.

    ``voxel_size_A`` defaults to the run's only voxel spacing. Class ids are the positions of
    the pickable objects sorted by label (the SHREC table for tomobench's own exports). When
    every particle object's ``metadata`` has a ``score_weight`` (as TopCUP writes the CZII
    challenge's weights), they are the CZII weights (the weighted F-beta).
    """
    from tomobench.evaluation.truth import GroundTruth

    run = _run(root, run_name)
    if voxel_size_A is None:
        spacings = voxel_spacings_A(root, run_name)
        if len(spacings) != 1:
            raise InputError(f"copick run {run_name!r} has voxel spacings {spacings} Å: "
                             "choose one (--voxel-size-nm)")
        voxel_size_A = spacings[0]
    objects = sorted((o for o in root.pickable_objects if o.is_particle), key=lambda o: o.label)
    table = ("background", *(o.name for o in objects))
    points = load_points(root, run_name, user_id, session_id, voxel_size_A)
    shape = _volume_shape(run, voxel_size_A, tomo_type)
    segmentations = run.get_segmentations(user_id=user_id, voxel_size=float(voxel_size_A),
                                          name=PARTICLE_SEGMENTATION, is_panoptic=True)
    ids = points["instance_id"].to_numpy()
    if segmentations and np.all(ids > 0) and len(set(ids)) == len(ids):
        instances = segmentations[0].numpy(channel="instance").astype(np.int64)
        lookup = np.zeros(max(int(instances.max(initial=0)), int(ids.max())) + 1, np.int64)
        lookup[points["instance_id"].to_numpy()] = np.arange(1, len(points) + 1)
        occupancy = lookup[instances]
        source = f"{PARTICLE_SEGMENTATION} segmentation of {user_id}"
    else:
        radius_A = {o.name: o.radius for o in objects}
        missing = sorted({n for n in points["class_name"] if not radius_A.get(n)})
        if missing:
            raise InputError(f"copick objects {missing} have no radius: the ground truth has no "
                             "panoptic segmentation, so balls of the object radius are needed")
        radii = points["class_name"].map(radius_A).to_numpy(float) / voxel_size_A
        occupancy = _ball_occupancy(points[["z", "y", "x"]].to_numpy(float), radii, shape)
        source = "balls of the copick object radii"
    radii_nm = {o.name: o.radius / 10.0 for o in objects if o.radius}
    # the CZII challenge's class weights, when every object's metadata has one (TopCUP's key)
    weights = {o.name: (o.metadata or {}).get("score_weight") for o in objects}
    if not weights or any(w is None for w in weights.values()):
        weights = None
    centres = np.rint(points[["z", "y", "x"]].to_numpy(float)).astype(np.int64).reshape(-1, 3)
    return GroundTruth(
        class_names=tuple(points["class_name"]), centres_zyx=centres, occupancy=occupancy,
        z_offset=0, volume_shape=shape, voxel_size_nm=voxel_size_A / 10.0,
        locations_path=f"{config_path} run {run_name} user {user_id}",
        occupancy_path=source, class_table=table, radii_nm=radii_nm or None,
        czii_weights=None if weights is None else {n: float(w) for n, w in weights.items()})


def run_names(root, user_id: str | None = None, session_id: str | None = None) -> list[str]:
    """Names of the project's runs (with points of ``user_id``/``session_id`` when given)."""
    return sorted(r.name for r in root.runs
                  if user_id is None or r.get_picks(user_id=user_id, session_id=session_id))


def is_copick_config(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a JSON file (a copick configuration, not a SHREC folder)."""
    path = Path(path)
    return path.is_file() and path.suffix == ".json"

