"""Apply a trained picker to any tomogram (``tomobench pick``).

Two recipes:

- a learning checkpoint (``results/<name>/models/<method>/checkpoint.pt``, any registered kind),
  picked with the workflow's own ``training.pick``: the inference parameters tuned on the
  validation tomograms (stored in the checkpoint), overridden by the run's configured
  ``inference:`` keys when the checkpoint sits in its run folder, overridden by the caller's;
- the template-matching recipe of a run (a ``tm`` / ``tm_f`` method of its ``config.yaml``, with
  the run's ``potentials/``), searched and extracted with the workflow's own functions.

A tomogram at another voxel size than the picker's reference (the voxel size of the tomograms
it was trained on, or the run's) is Fourier-resampled onto that grid (:func:`fourier_resample`),
picked there, and the positions are mapped back to voxels of the input tomogram. At the
reference voxel size nothing is resampled, so the picks equal the workflow's byte for byte.

Arrays are ``(z, y, x)``; picks are DataFrames ``class_name, x, y, z, score`` in voxels.
Every refusal is an ``InputError`` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.fft as sfft

from tomobench.classes import CLASS_ID, SHREC_CLASS_NAMES
from tomobench.errors import InputError
from tomobench.progress import Progress

logger = logging.getLogger("tomobench.pick")

#: Seconds between progress lines of ``tomobench pick``.
PROGRESS_SECONDS = 5.0
#: Relative voxel-size difference below which a tomogram is picked as it is.
SAME_VOXEL_TOLERANCE = 1e-4
CHECKPOINT_KEYS = ("kind", "training", "seed", "class_ids", "class_names", "class_stats",
                   "state_dict")


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --------------------------------------------------------------------------- tomograms


@dataclass
class Tomogram:
    """A tomogram to pick: ``volume`` float32 ``(z, y, x)`` at ``voxel_size_nm``; ``source``
    names it in messages, ``name`` is its STAR/copick name."""

    volume: np.ndarray
    voxel_size_nm: float
    source: str
    name: str
    folder: Path | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.volume.shape)


def _checked_volume(volume: np.ndarray, source: str) -> np.ndarray:
    if volume.ndim != 3:
        raise InputError(f"{source}: expected a 3-D tomogram, got shape {volume.shape}")
    if np.iscomplexobj(volume):
        raise InputError(f"{source}: complex voxels; expected a real tomogram")
    volume = np.asarray(volume, dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(volume)))
    if bad:
        raise InputError(f"{source}: {bad} voxels are NaN or infinite; nothing to pick in")
    return volume


def read_tomogram_mrc(path: str | os.PathLike, voxel_size_nm: float | None = None
                      ) -> Tomogram:
    """An MRC tomogram; its voxel size from the header, or ``voxel_size_nm`` (which wins).

    A header without a voxel size (0 or 1 Å, the MRC default) needs ``voxel_size_nm``.
    """
    from tomobench.mrc import read_mrc

    path = Path(path)
    volume, header_nm = read_mrc(path)
    if voxel_size_nm is None:
        if not header_nm > 0.1 + 1e-9:
            raise InputError(f"{path}: the header has no voxel size ({header_nm * 10:g} Å); "
                             "give --voxel-size-nm")
        voxel_size_nm = header_nm
    elif header_nm > 0.1 + 1e-9 and abs(header_nm / voxel_size_nm - 1) > SAME_VOXEL_TOLERANCE:
        logger.warning("%s: header voxel size %.4g nm, using --voxel-size-nm %.4g", path,
                       header_nm, voxel_size_nm)
    name = path.parent.name if path.stem == "reconstruction" else path.stem
    return Tomogram(_checked_volume(volume, str(path)), float(voxel_size_nm), str(path), name,
                    folder=path.parent)


def read_tomogram_copick(config: str | os.PathLike, run: str, tomo_type: str | None = None,
                         voxel_size_nm: float | None = None) -> Tomogram:
    """A copick run's tomogram (``tomo_type``) at ``voxel_size_nm`` (default: the run's only
    voxel spacing)."""
    from tomobench.formats import copick_project

    root = copick_project.open_project(config)
    spacings = copick_project.voxel_spacings_A(root, run)
    if voxel_size_nm is None:
        if len(spacings) != 1:
            raise InputError(f"{config}: copick run {run!r} has voxel spacings {spacings} Å; "
                             "choose one with --voxel-size-nm")
        spacing_A = spacings[0]
    else:
        spacing_A = voxel_size_nm * 10.0
    volume, voxel_nm = copick_project.load_tomogram(root, run, spacing_A, tomo_type)
    source = f"{config} run {run}" + (f" tomogram {tomo_type}" if tomo_type else "")
    return Tomogram(_checked_volume(volume, source), float(voxel_nm), source, run)


# --------------------------------------------------------------------------- resampling


def fourier_resample(volume: np.ndarray, shape: tuple[int, ...], workers: int = 1
                     ) -> np.ndarray:
    """Resample a real array to ``shape`` by cropping or zero-padding its spectrum per axis.

    Sample ``j`` of an axis resampled from ``n`` to ``m`` samples sits at input position
    ``j · n / m`` (band-limited interpolation); values keep their scale (a constant stays that
    constant). For ``m = n / k`` this is ``tomobench.fourier.fourier_bin`` by ``k`` (the
    Nyquist sample of an even output is the real part of the input's); padding an even axis
    splits its Nyquist sample between the two frequencies it stands for.

    Returns
    -------
    float32 array of ``shape``.
    """
    out = np.asarray(volume)
    if len(shape) != out.ndim or min(shape) < 1:
        raise ValueError(f"cannot resample shape {out.shape} to {shape}")
    # shrinking axes first keeps the temporaries small
    for axis in sorted(range(out.ndim), key=lambda a: shape[a] / out.shape[a]):
        n, m = out.shape[axis], int(shape[axis])
        if m == n:
            continue
        spectrum = sfft.rfft(out, axis=axis, workers=workers)
        if m > n and n % 2 == 0:
            index = [slice(None)] * out.ndim
            index[axis] = n // 2
            spectrum[tuple(index)] *= 0.5
        out = sfft.irfft(spectrum, n=m, axis=axis, workers=workers)
        out *= m / n
        out = out.astype(np.float32, copy=False)
    return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class Grid:
    """The picking grid of a tomogram: ``shape`` at ``voxel_size_nm``; input voxel ``v`` of an
    axis is grid position ``v / scale`` (``scale`` = input length / grid length per axis)."""

    shape: tuple[int, int, int]
    scale: tuple[float, float, float]
    voxel_size_nm: float

    @property
    def resampled(self) -> bool:
        return any(s != 1.0 for s in self.scale)


def picking_grid(shape: tuple[int, int, int], voxel_size_nm: float, reference_nm: float,
                 multiple: int = 1) -> Grid:
    """The grid at ``reference_nm`` (each length a multiple of ``multiple``) covering a tomogram
    of ``shape`` at ``voxel_size_nm``; the same grid when the voxel sizes agree."""
    ratio = voxel_size_nm / reference_nm
    if abs(ratio - 1.0) <= SAME_VOXEL_TOLERANCE:
        return Grid(tuple(shape), (1.0, 1.0, 1.0), voxel_size_nm)
    grid = tuple(multiple * max(1, round(n * ratio / multiple)) for n in shape)
    scale = tuple(n / g for n, g in zip(shape, grid, strict=True))
    return Grid(grid, scale, voxel_size_nm * float(np.mean(scale)))


def to_grid(tomogram: Tomogram, grid: Grid, threads: int = 1) -> np.ndarray:
    """The tomogram on ``grid`` (itself when nothing is resampled)."""
    if not grid.resampled:
        return tomogram.volume
    logger.info("Fourier-resampling %s from %s at %.4g nm to %s at %.4g nm", tomogram.source,
                tomogram.shape, tomogram.voxel_size_nm, grid.shape, grid.voxel_size_nm)
    return fourier_resample(tomogram.volume, grid.shape, workers=threads)


def from_grid(picks: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    """Picks on ``grid`` mapped back to voxels of the input tomogram."""
    if not grid.resampled or picks.empty:
        return picks
    sz, sy, sx = grid.scale
    return picks.assign(x=picks["x"].to_numpy(float) * sx, y=picks["y"].to_numpy(float) * sy,
                        z=picks["z"].to_numpy(float) * sz)


# --------------------------------------------------------------------------- runs


def read_run_config(run: str | os.PathLike) -> dict:
    """The resolved configuration a run recorded (``results/<name>/config.yaml``)."""
    import yaml

    path = Path(run) / "config.yaml"
    if not path.is_file():
        raise InputError(f"{path}: not found; --run must be a tomobench run folder "
                         "(results/<name>, with config.yaml)")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML ({_one_line(error)})") from error
    if not isinstance(config, dict) or not isinstance(config.get("methods"), dict):
        raise InputError(f"{path}: not a tomobench run configuration (no methods section)")
    return config


def method_entry(config: dict, method: str, source) -> tuple[str, dict]:
    """``(name, entry)`` of ``method`` in the config's methods (exact, else case-insensitive)."""
    methods = config["methods"]
    if method in methods:
        return method, dict(methods[method])
    matches = [name for name in methods if name.lower() == method.lower()]
    if len(matches) != 1:
        raise InputError(f"{source}: no method {method!r}; methods: {sorted(methods)}")
    return matches[0], dict(methods[matches[0]])


# --------------------------------------------------------------------------- pickers


@dataclass
class Picker:
    """A recipe ready to pick: ``kind``, its ``parameters`` (before the caller's overrides),
    the ``reference_nm`` voxel size it works at, its ``class_names`` and what it came from."""

    kind: str
    source: str
    reference_nm: float
    class_names: list[str]
    parameters: dict = field(default_factory=dict)
    checkpoint: dict | None = None
    run: Path | None = None
    config: dict | None = None
    method: str | None = None

    @property
    def learned(self) -> bool:
        return self.checkpoint is not None


def _run_of_checkpoint(path: Path) -> tuple[Path, str] | None:
    """``(run folder, method)`` when ``path`` is ``<run>/models/<method>/checkpoint.pt`` of a
    run that recorded its config."""
    method_dir = path.resolve().parent
    run = method_dir.parent.parent
    if method_dir.parent.name == "models" and (run / "config.yaml").is_file():
        return run, method_dir.name
    return None


def load_checkpoint_picker(path: str | os.PathLike, *, run: str | os.PathLike | None = None,
                           method: str | None = None, reference_nm: float | None = None,
                           use_run_config: bool = True) -> Picker:
    """A learning checkpoint, checked: readable, a known kind, a consistent class list, weights
    that fit the kind's network, and a known training voxel size.

    The training voxel size is the checkpoint's ``voxel_size_nm``, else ``reference_nm``, else
    the run's ``tomograms.voxel_size_nm``. When the checkpoint sits in its run folder (or
    ``run``/``method`` are given) and ``use_run_config``, the method's configured
    ``inference:`` keys apply as in the workflow.
    """
    from tomobench.methods.learning import KINDS, load_checkpoint
    from tomobench.methods.learning.training import network_from_checkpoint

    path = Path(path)
    try:
        checkpoint = load_checkpoint(path)
    except InputError as error:
        raise InputError(_one_line(error)) from error
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in CHECKPOINT_KEYS):
        missing = ([k for k in CHECKPOINT_KEYS if k not in checkpoint]
                   if isinstance(checkpoint, dict) else list(CHECKPOINT_KEYS))
        raise InputError(f"{path}: not a tomobench learning checkpoint (missing {missing})")
    kind = checkpoint["kind"]
    if kind not in KINDS:
        raise InputError(f"{path}: checkpoint of unknown kind {kind!r}; known: {sorted(KINDS)}")
    _check_class_list(checkpoint, path)
    try:
        network_from_checkpoint(checkpoint, "cpu")
    except Exception as error:  # shape or key mismatch of the state dict
        raise InputError(f"{path}: the weights do not fit a {kind} network with "
                         f"{len(checkpoint['class_ids'])} classes ({_one_line(error)})"
                         ) from error
    located = (Path(run), method) if run is not None and method else _run_of_checkpoint(path)
    config, entry, name = None, {}, None
    if located and use_run_config:
        config = read_run_config(located[0])
        name, entry = method_entry(config, located[1], located[0] / "config.yaml")
        if entry.get("kind") != kind:
            raise InputError(f"{path}: trained as {kind!r}, but method {name!r} of "
                             f"{located[0] / 'config.yaml'} is kind {entry.get('kind')!r}")
    recorded = checkpoint.get("voxel_size_nm")
    if recorded and reference_nm and abs(reference_nm / recorded - 1) > SAME_VOXEL_TOLERANCE:
        raise InputError(f"{path}: trained at {recorded:g} nm, not at --trained-voxel-size-nm "
                         f"{reference_nm:g}")
    trained_nm = recorded or reference_nm
    if trained_nm is None and config is not None:
        trained_nm = config.get("tomograms", {}).get("voxel_size_nm")
    if trained_nm is None and located:
        trained_nm = read_run_config(located[0]).get("tomograms", {}).get("voxel_size_nm")
    if not trained_nm:
        raise InputError(f"{path}: the checkpoint does not record the voxel size it was trained "
                         "at; give --trained-voxel-size-nm (or --run)")
    return Picker(kind=kind, source=str(path), reference_nm=float(trained_nm),
                  class_names=list(checkpoint["class_names"]),
                  parameters=dict(entry.get("inference") or {}), checkpoint=checkpoint,
                  run=located[0] if located else None, config=config, method=name)


def _check_class_list(checkpoint: dict, path: Path) -> None:
    ids, names = list(checkpoint["class_ids"]), list(checkpoint["class_names"])
    expected = [SHREC_CLASS_NAMES[i] if 0 <= int(i) < len(SHREC_CLASS_NAMES) else None
                for i in ids]
    if not ids or names != expected or ids[0] != 0 or len(set(ids)) != len(ids):
        raise InputError(f"{path}: class list does not match the SHREC class table: ids {ids} "
                         f"named {names}")


def load_template_matching_picker(run: str | os.PathLike, method: str) -> Picker:
    """The TM / TM-F recipe of a run: its method entry, ``template_matching`` settings,
    classes and potentials; reference voxel size = the run's tomograms."""
    from tomobench.methods.kinds import TEMPLATE_MATCHING_KINDS

    run = Path(run)
    config = read_run_config(run)
    name, entry = method_entry(config, method, run / "config.yaml")
    if entry.get("kind") not in TEMPLATE_MATCHING_KINDS:
        raise InputError(f"{run / 'config.yaml'}: method {name!r} is kind {entry.get('kind')!r};"
                         " give --checkpoint for a learned picker, or a tm / tm_f method")
    classes = list(config.get("structures", {}).get("classes") or [])
    unknown = [c for c in classes if c not in CLASS_ID]
    if not classes or unknown:
        raise InputError(f"{run / 'config.yaml'}: structures.classes {classes} do not match the "
                         f"SHREC class table (unknown: {unknown})")
    for pdb in classes:
        if not (run / "potentials" / f"{pdb}.mrc").is_file():
            raise InputError(f"{run / 'potentials' / f'{pdb}.mrc'}: template potential not found")
    names = ["background", *classes] + (["fiducial"] if entry.get("fiducials", True) else [])
    return Picker(kind=entry["kind"], source=f"{run} method {name}",
                  reference_nm=float(config["tomograms"]["voxel_size_nm"]), class_names=names,
                  parameters={k: v for k, v in entry.items() if k != "kind"}, run=run,
                  config=config, method=name)


def load_picker(*, checkpoint: str | os.PathLike | None = None,
                run: str | os.PathLike | None = None, method: str | None = None,
                reference_nm: float | None = None, use_run_config: bool = True) -> Picker:
    """A checkpoint (``checkpoint``, or ``run/models/<method>/checkpoint.pt`` of a learned
    method of the run) or the TM / TM-F recipe of ``run``'s ``method``."""
    from tomobench.methods.kinds import TEMPLATE_MATCHING_KINDS

    if checkpoint is not None:
        if (run is None) != (method is None):
            raise InputError("with --checkpoint, give --run and --method together or neither")
        return load_checkpoint_picker(checkpoint, run=run, method=method,
                                      reference_nm=reference_nm, use_run_config=use_run_config)
    if run is None or not method:
        raise InputError("give --checkpoint FILE, or --run DIR with --method NAME")
    name, entry = method_entry(read_run_config(run), method, Path(run) / "config.yaml")
    if entry.get("kind") in TEMPLATE_MATCHING_KINDS:
        return load_template_matching_picker(run, name)
    path = Path(run) / "models" / name / "checkpoint.pt"
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint of method {name!r} (kind "
                         f"{entry.get('kind')!r}); tomobench pick applies learned methods and "
                         "tm / tm_f")
    return load_checkpoint_picker(path, run=run, method=name, reference_nm=reference_nm,
                                  use_run_config=use_run_config)


# --------------------------------------------------------------------------- picking


def _progress_callback(what: str) -> Callable[[int, int], None]:
    state: dict[str, Progress] = {}

    def report(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None or bar.total != total or done <= bar.done:
            bar = state["bar"] = Progress(what, total, logger, every_seconds=PROGRESS_SECONDS)
        while bar.done < done:
            bar.step()

    return report


def _check_size(picker: Picker, grid: Grid, source: str) -> None:
    """A grid smaller than the network's training patch (in tomogram voxels) is refused."""
    from tomobench.methods.learning.data import patch_shape_of

    training = picker.checkpoint["training"]
    binning = int(training.get("input_binning", 1))
    patch = tuple(p * binning for p in patch_shape_of(training["patch_voxels"]))
    if any(g < p for g, p in zip(grid.shape, patch, strict=True)):
        where = (f"is {grid.shape} voxels at the picker's {picker.reference_nm:g} nm"
                 if grid.resampled else f"of {grid.shape} voxels (z, y, x)")
        raise InputError(f"{source}: tomogram {where}: smaller than the network's input, "
                         f"{patch} voxels at {picker.reference_nm:g} nm")


def pick_learned(picker: Picker, tomogram: Tomogram, overrides: dict | None = None,
                 device: str = "auto", threads: int = 1) -> pd.DataFrame:
    """Picks of a learning checkpoint in ``tomogram`` (voxels of the input tomogram)."""
    from tomobench.methods.learning import pick
    from tomobench.methods.learning.training import _input_binning, inference_parameters

    checkpoint = picker.checkpoint
    grid = picking_grid(tomogram.shape, tomogram.voxel_size_nm, picker.reference_nm,
                        multiple=_input_binning(checkpoint))
    _check_size(picker, grid, f"{tomogram.source} ({tomogram.shape} voxels at "
                              f"{tomogram.voxel_size_nm:g} nm)" if grid.resampled
                else tomogram.source)
    inference = {**picker.parameters, **dict(overrides or {})}
    try:
        effective = inference_parameters(checkpoint, inference)
    except InputError as error:
        raise InputError(f"--set: {error}") from error
    logger.info("%s (%s): inference %s", picker.source, picker.kind, effective)
    volume = to_grid(tomogram, grid, threads)
    torch_device = _torch_device(device)
    logger.info("picking %s %s on %s", tomogram.source, grid.shape, torch_device)
    try:
        picks = pick(checkpoint, volume, inference, device=torch_device, threads=threads,
                     progress=_progress_callback(f"{picker.kind} windows"))
    except (ValueError, TypeError) as error:  # a value --set or the config gave
        raise InputError(f"{picker.source}: inference {inference}: {_one_line(error)}"
                         ) from error
    return from_grid(picks, grid)


def _torch_device(device: str):
    from tomobench.backend import torch_device

    try:
        return torch_device(device)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"--device {device}: {error}") from error


def _acquisition(picker: Picker, tomogram: Tomogram, path: str | os.PathLike | None) -> dict:
    """The acquisition for the TM templates: ``path``, else the tomogram folder's
    ``acquisition_parameters.json``, else the run's microscope and tilt range with the
    ``template_matching.defocus_um`` (which must then be set)."""
    from tomobench.io import MODEL_FILES, read_acquisition

    config = picker.config
    fallback = {
        "voltage_kv": config["microscope"]["voltage_kv"],
        "spherical_aberration_mm": config["microscope"]["spherical_aberration_mm"],
        "tilt_range_deg": config["tilt_series"]["tilt_range_deg"],
    }
    if path is None and tomogram.folder is not None:
        beside = tomogram.folder / MODEL_FILES["acquisition"]
        path = beside if beside.is_file() else None
    if path is not None:
        return read_acquisition(path, fallback)
    defocus = config["template_matching"].get("defocus_um")
    if defocus is None:
        raise InputError(f"{tomogram.source}: no acquisition_parameters.json beside it and the "
                         "run's template_matching.defocus_um is null; give --acquisition FILE")
    return {**fallback, "defocus_um": float(defocus), "pixel_size_nm": None,
            "tilt_range_deg": tuple(float(v) for v in fallback["tilt_range_deg"])}


def pick_template_matching(picker: Picker, tomogram: Tomogram, overrides: dict | None = None,
                           device: str = "auto", threads: int = 1,
                           acquisition: str | os.PathLike | None = None) -> pd.DataFrame:
    """TM / TM-F picks of a run's recipe in ``tomogram``: every class and rotation chunk
    searched and read back as the workflow does (``match_templates`` then
    ``pick_template_matching``), in voxels of the input tomogram."""
    from tomobench.backend import array_module
    from tomobench.methods.template_matching import (
        extract_picks,
        load_class_search,
        search_class,
        write_search,
    )
    from tomobench.mrc import read_mrc

    try:
        logger.info("template matching with %s", array_module(device).__name__)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"--device {device}: {error}") from error
    config = picker.config
    settings = dict(config["template_matching"])
    grid = picking_grid(tomogram.shape, tomogram.voxel_size_nm, picker.reference_nm)
    volume = to_grid(tomogram, grid, threads)
    record = _acquisition(picker, tomogram, acquisition)
    method = {**picker.parameters, **dict(overrides or {})}
    classes = [c for c in picker.class_names if c not in ("background", "fiducial")]
    chunks = int(settings.get("rotation_chunks", 1))
    progress = Progress(f"{picker.kind} searches", len(classes) * chunks, logger,
                        every_seconds=PROGRESS_SECONDS)
    searches = []
    with tempfile.TemporaryDirectory(prefix="tomobench-pick-") as work:
        for pdb in classes:
            paths: dict[str, list[Path]] = {"json": [], "scores": [], "angles": []}
            potential, potential_nm = read_mrc(picker.run / "potentials" / f"{pdb}.mrc")
            for chunk in range(chunks):
                result, description = search_class(
                    volume, picker.reference_nm, np.real(potential).astype(np.float32),
                    potential_nm, record, settings, chunk=chunk, device=device,
                    threads=threads)
                stem = Path(work) / f"{pdb}_chunk{chunk}"
                for key, suffix in (("scores", "_scores.mrc"), ("angles", "_angles.mrc"),
                                    ("json", ".json")):
                    paths[key].append(Path(f"{stem}{suffix}"))
                write_search(result, description, paths["scores"][-1], paths["angles"][-1],
                             paths["json"][-1], pdb)
                progress.step(f" ({pdb} chunk {chunk})")
            searches.append(load_class_search(paths["json"], paths["scores"], paths["angles"]))
    logger.info("%s searched in %.0f s", tomogram.source, progress.seconds())
    try:
        picks, report = extract_picks(searches, volume, picker.kind, method)
    except (InputError, ValueError, TypeError) as error:
        raise InputError(f"--set: {picker.source} {method}: {_one_line(error)}") from error
    for name, info in report.items():
        logger.info("%s: %s", name, info)
    return from_grid(picks, grid)


def reported_classes(picker: Picker, overrides: dict | None = None) -> list[str]:
    """The classes the picker can report: its class list without background and, for a
    checkpoint, without the (effective) ``exclude_classes``."""
    names = [c for c in picker.class_names if c != "background"]
    if picker.learned:
        from tomobench.methods.learning.training import inference_parameters

        try:
            params = inference_parameters(picker.checkpoint,
                                          {**picker.parameters, **dict(overrides or {})})
        except InputError as error:
            raise InputError(f"--set: {error}") from error
        names = [c for c in names if c not in set(params.get("exclude_classes") or [])]
    return names


def check_classes(picker: Picker, classes: list[str] | None) -> None:
    """Each of ``classes`` must be one of the picker's classes."""
    reported = [c for c in picker.class_names if c != "background"]
    unknown = [c for c in classes or [] if c not in reported]
    if unknown:
        raise InputError(f"--classes {unknown} do not match the classes of {picker.source}: "
                         f"{reported}")


def select_classes(picks: pd.DataFrame, picker: Picker, classes: list[str] | None
                   ) -> pd.DataFrame:
    """The picks of ``classes`` only (each must be one the picker reports)."""
    if not classes:
        return picks
    check_classes(picker, classes)
    return picks[picks["class_name"].isin(classes)].reset_index(drop=True)


# --------------------------------------------------------------------------- output

OUTPUT_FORMATS = ("shrec", "star", "copick")


def output_format(out: Path, given: str | None) -> str:
    """``given``, else from the suffix: ``.txt`` SHREC, ``.star`` STAR, ``.json`` copick."""
    if given:
        return given
    by_suffix = {".txt": "shrec", ".star": "star", ".json": "copick"}
    if out.suffix.lower() not in by_suffix:
        raise InputError(f"--out {out}: cannot tell the format from the suffix; use .txt "
                         "(SHREC), .star (RELION 5), .json (a copick configuration) or --format")
    return by_suffix[out.suffix.lower()]


@dataclass
class CopickTarget:
    """Where copick picks go: a project's run, user and session."""

    config: Path
    run: str
    user: str
    session: str = "0"


def check_copick_target(target: CopickTarget, class_names: list[str]):
    """Open the project; every reportable class must be one of its pickable objects
    (case-insensitive). Returns ``(root, {class name: object name})``."""
    from tomobench.formats import copick_project

    root = copick_project.open_project(target.config)
    objects = {obj.name.upper(): obj.name for obj in root.pickable_objects}
    wanted = [c for c in class_names if c != "background"]
    missing = [c for c in wanted if c.upper() not in objects]
    if missing:
        raise InputError(f"{target.config}: classes {missing} of the picker are no pickable "
                         f"objects of this copick project ({sorted(objects.values())}); "
                         "restrict the output with --classes")
    return root, {c: objects[c.upper()] for c in wanted}


def write_copick(picks: pd.DataFrame, target: CopickTarget, voxel_size_nm: float,
                 class_names: list[str]) -> None:
    """Picks (voxels at ``voxel_size_nm``) as copick points of the target's user/session,
    location in Å; one picks set per class (empty ones too, replacing older points)."""
    root, objects = check_copick_target(target, class_names)
    run = root.get_run(target.run) or root.new_run(target.run)
    spacing_A = voxel_size_nm * 10.0
    for class_name, object_name in objects.items():
        group = picks[picks["class_name"] == class_name]
        points = run.new_picks(object_name, session_id=target.session, user_id=target.user,
                               exist_ok=True)
        scores = group["score"].to_numpy(float)
        points.from_numpy(group[["x", "y", "z"]].to_numpy(float).reshape(-1, 3) * spacing_A,
                          None, instance_ids=np.arange(1, len(group) + 1),
                          scores=np.where(np.isfinite(scores), scores, 1.0))


def write_output(picks: pd.DataFrame, out: Path, fmt: str, tomogram: Tomogram,
                 class_names: list[str], copick: CopickTarget | None = None) -> None:
    """Write the picks (voxels of ``tomogram``) as SHREC text, RELION 5 STAR or copick."""
    from tomobench.particles import write_picks

    if fmt == "shrec":
        write_picks(out, picks)
    elif fmt == "star":
        from tomobench.formats.relion import TomogramGeometry, write_particle_star

        geometry = TomogramGeometry(name=tomogram.name, shape_zyx=tomogram.shape,
                                    voxel_size_nm=tomogram.voxel_size_nm)
        write_particle_star(out, picks, geometry, relion_version=5)
    elif fmt == "copick":
        write_copick(picks, copick, tomogram.voxel_size_nm, class_names)
    else:
        raise InputError(f"--format must be one of {OUTPUT_FORMATS}, got {fmt!r}")


def parse_overrides(items: list[str] | None) -> dict:
    """``KEY=VALUE`` strings (values parsed as YAML: numbers, lists, null) as a dict."""
    import yaml

    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise InputError(f"--set {item!r}: value is not valid YAML "
                             f"({_one_line(error)})") from error
    return overrides
