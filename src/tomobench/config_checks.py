"""Whole-configuration checks that run before any job starts (``workflow/rules/common.smk``).

The schema (``workflow/schemas/config.schema.yaml``) checks each value on its own; this module
adds what one value cannot tell: one rule for integers, and the consistency of the config as a
whole (ranges, sizes that must divide, files that must exist, a GPU that must be there). Every
problem raises ``InputError`` naming the config key, so a bad config fails in seconds instead of
after other rules have worked for minutes. The per-stage checks of the package are reused (scene
geometry, tilt-series settings, vesicle and gold sizes, template-matching binning, the learning
registry).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tomobench.errors import InputError
from tomobench.methods.kinds import LEARNING_KINDS, TEMPLATE_MATCHING_KINDS

#: Angular step (degrees) above which a tilt series is reported as coarse.
COARSE_TILT_STEP_DEG = 10.0


@contextlib.contextmanager
def one_line_errors(prefix: str = "tomobench") -> Iterator[None]:
    """Turn an ``InputError`` raised in the block into one line on stderr and exit status 1
    (instead of the traceback Snakemake prints for exceptions raised while parsing)."""
    try:
        yield
    except InputError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


# --------------------------------------------------------------------------- schema


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _strict_validator(schema: dict):
    """A validator class whose ``integer`` rejects floats (JSON Schema accepts ``3.0``)."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    return validators.extend(Draft202012Validator, type_checker=checker)(schema)


def _set(config: dict, path, value) -> None:
    node = config
    for part in list(path)[:-1]:
        node = node[part]
    node[list(path)[-1]] = value


def normalise_integers(config: dict, schema: dict) -> None:
    """Replace exactly-integral floats (``3.0``) by ints wherever the schema wants an integer.

    JSON Schema counts ``3.0`` as an integer, Python's ``range`` does not: normalising once here
    means no stage ever sees a float count. Non-integral floats are left for
    :func:`validate_config` to reject.
    """
    for error in _strict_validator(schema).iter_errors(config):
        types = error.validator_value if isinstance(error.validator_value, list) else [
            error.validator_value]
        value = error.instance
        if (error.validator == "type" and "integer" in types and isinstance(value, float)
                and value.is_integer()):
            _set(config, error.absolute_path, int(value))


def _override_text(overrides, path) -> str | None:
    """The string ``--config`` gave at ``path`` (``None``: not set there, or not a string)."""
    node = overrides
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node if isinstance(node, str) else None


def parse_config_overrides(config: dict, schema: dict, overrides) -> list[str]:
    """Read as YAML the strings of ``--config`` overrides that the schema refuses as strings.

    ``snakemake --config "tomograms={'count': 3}"`` parses a nested value with YAML's
    ``BaseLoader``: every scalar inside arrives as a string (``'3'``). Each such string that
    fails the schema (a number, a boolean, a list expected) is replaced by its
    ``yaml.safe_load`` value; strings the schema accepts, and values from config files, are left
    alone. ``overrides`` is the ``--config`` mapping (``workflow.config_settings.config``).
    Returns the keys changed (``a.b.c``).
    """
    import yaml

    changed = []
    for _ in range(8):  # a parsed value can only hold new strings where YAML quoted them
        updates = []
        for error in _strict_validator(schema).iter_errors(config):
            path = list(error.absolute_path)
            text = _override_text(overrides, path)
            if text is None or not isinstance(error.instance, str) or error.instance != text:
                continue
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if not isinstance(value, str):
                updates.append((path, value))
        if not updates:
            break
        for path, value in updates:
            _set(config, path, value)
            changed.append(_key(path))
    return changed


def validate_config(config: dict, schema: dict, overrides=None) -> None:
    """Integral floats normalised, then the schema checked; the first problem raises
    ``InputError`` as one line ``config key <a.b.c>: <problem> (<key description>)``.

    ``overrides``: the ``--config`` mapping, whose nested strings are read as YAML first
    (:func:`parse_config_overrides`); a value still refused there says to use ``--configfile``.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    if overrides:
        parse_config_overrides(config, schema, overrides)
    normalise_integers(config, schema)
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is None:
        return
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    hint = f" ({' '.join(description.split())})" if description else ""
    if (overrides and len(error.absolute_path) > 1 and isinstance(error.instance, str)
            and _override_text(overrides, list(error.absolute_path)) is not None):
        hint += ("; Snakemake passes nested --config values as text: if this one was misread, "
                 "put it in a YAML file and pass --configfile")
    raise InputError(f"config key {_key(error.absolute_path)}: {error.message}{hint}")


# --------------------------------------------------------------------------- consistency


def check_config(config: dict, *, check_device: bool = True) -> list[str]:
    """Check a schema-valid config (defaults filled in) as a whole.

    Parameters
    ----------
    config : the resolved configuration.
    check_device : test ``device: cuda`` against this machine (off where jobs run elsewhere,
        e.g. on cluster nodes).

    Returns
    -------
    Warnings (one line each) about legal but doubtful settings.

    Raises
    ------
    InputError naming the first inconsistent key.
    """
    try:
        _check_tomogram_roles(config["tomograms"])
        _check_structures_and_scene(config)
        warnings = _check_acquisition(config)
        _check_methods(config)
        dataset_layout(config)
        if check_device:
            _check_device(config)
    except InputError as error:
        message = str(error)  # the reused stage checks start with the key (scene.x: ...)
        if message.startswith("config key"):
            raise
        raise InputError(f"config key {message}") from None
    return warnings


def _check_tomogram_roles(tomograms: dict) -> None:
    ids = range(tomograms["count"])
    for key in ("training", "validation", "test"):
        for i in tomograms[key]:
            if i not in ids:
                raise InputError(
                    f"config key tomograms.{key}: tomogram {i} does not exist "
                    f"(tomograms.count = {tomograms['count']})")
    overlap = set(tomograms["test"]) & (set(tomograms["training"]) | set(tomograms["validation"]))
    if overlap:
        raise InputError(f"config key tomograms.test: tomograms {sorted(overlap)} are also used "
                         "for training/validation")


def dataset_layout(config: dict) -> dict:
    """``{tomogram id: its files}`` of a dataset that is not simulated (``dataset.source``
    shrec or copick; :mod:`tomobench.dataset_source`), ``{}`` for a simulated one.
    ``InputError`` for a missing folder, file or copick run, a mask of neither SHREC release, a
    header voxel size or tomogram shape that disagrees with ``tomograms``, ground-truth points
    of a missing user/session or of a class the config does not have."""
    source = config.get("dataset", {}).get("source", "simulate")
    if source == "simulate":
        return {}
    from tomobench import dataset_source

    if source == "shrec":
        _check_tomogram_roles(config["tomograms"])
        return dataset_source.shrec_layout(config)
    if source == "copick":
        return dataset_source.copick_layout(config)
    raise InputError(f"config key dataset.source: unknown source {source!r}")


def _check_structures_and_scene(config: dict) -> None:
    from tomobench.config import scene_geometry, scene_parameters
    from tomobench.structures.gold import check_gold_diameters
    from tomobench.structures.membranes import check_vesicle_sizes

    potential = config["potential"]
    check_vesicle_sizes(potential["vesicle_diameter_nm"], potential["membrane_thickness_nm"])
    check_gold_diameters(potential["gold_diameter_nm"])
    scene_geometry(config)  # the ice slab must fit the reconstruction height
    scene_parameters(config)  # count ranges


def _check_acquisition(config: dict) -> list[str]:
    from tomobench.config import tilt_series_settings
    from tomobench.simulation.amplitude import read_amplitude_profile

    settings = tilt_series_settings(config)  # dose and defocus ranges
    first, last = settings.tilt_range_deg
    if not first < last:
        raise InputError(f"config key tilt_series.tilt_range_deg: first angle {first:g} must be "
                         f"below the last {last:g}")
    if settings.amplitude_profile:
        try:
            read_amplitude_profile(settings.amplitude_profile)
        except InputError as error:
            raise InputError(f"config key tilt_series.amplitude_profile: {error}") from None
    step = (last - first) / (settings.tilt_count - 1)
    if step > COARSE_TILT_STEP_DEG:
        return [f"config key tilt_series.tilt_count: {settings.tilt_count} tilts over "
                f"{first:g}..{last:g} deg is a {step:.1f} deg step; reconstructions will show "
                "strong streaks (SHREC 2021: 61 tilts, 2 deg)"]
    return []


def _check_methods(config: dict) -> None:
    from tomobench.evaluation.controls import CONTROLS

    tomograms = config["tomograms"]
    classes = list(config["structures"]["classes"])
    reserved = sorted(set(config["methods"]) & set(CONTROLS))
    if reserved:
        raise InputError(f"config key methods: {reserved} are reserved for the benchmark's "
                         "control submissions; rename the method")
    for method, params in config["methods"].items():
        where = f"methods.{method}"
        kind = params["kind"]
        if kind == "dog":
            from tomobench.methods.dog import class_radii_nm

            try:
                class_radii_nm(classes, params.get("radii_nm"))
            except InputError as error:
                raise InputError(str(error).replace("methods.<DoG>", where)) from None
            if ("threshold_sigma" in params and params["threshold_sigma"] is None
                    and params.get("calibration", "training") != "training"):
                raise InputError(f"config key {where}.threshold_sigma: null (tuned) needs "
                                 "calibration: training")
        elif kind in TEMPLATE_MATCHING_KINDS:
            _check_template_matching(config, where, params)
        elif kind in LEARNING_KINDS:
            _check_learning(tomograms, where, params)
        elif kind == "command":
            _check_command(tomograms, where, params)
        elif kind == "submission":
            _check_submission(tomograms, where, params)


def _check_command(tomograms: dict, where: str, params: dict) -> None:
    """Placeholders of the train and pick commands, training tomograms for a train command,
    the conda environment file."""
    from tomobench.methods.external import check_command, command_settings

    settings = command_settings(params)
    check_command(settings["pick"], "pick", f"{where}.pick")
    if settings["train"]:
        check_command(settings["train"], "train", f"{where}.train")
        if not tomograms["training"]:
            raise InputError(f"config key tomograms.training: empty, but {where}.train needs "
                             "training tomograms")
    env = settings["conda"]
    if env and env.endswith((".yaml", ".yml")) and not Path(env).is_file():
        raise InputError(f"config key {where}.conda: environment file {env} not found "
                         f"(relative to {Path.cwd()})")


def _check_submission(tomograms: dict, where: str, params: dict) -> None:
    """Every test tomogram's picks are there before any job runs: the expected file of a
    shrec/star folder, or the copick configuration with points of the user in each run."""
    from tomobench.methods.external import submission_file

    path = Path(params["path"])
    if params["format"] == "copick":
        if not params.get("user"):
            raise InputError(f"config key {where}.user: required for format copick (the copick "
                             "user id of the picks)")
        if not path.is_file():
            raise InputError(f"config key {where}.path: copick configuration {path} not found")
        from tomobench.formats import copick_project

        root = copick_project.open_project(path)
        for i in tomograms["test"]:
            run = f"model_{i}"
            have = copick_project.run_names(root, params["user"], params.get("session"))
            if run not in have:
                session = f", session {params['session']!r}" if params.get("session") else ""
                raise InputError(f"config key {where}.path: copick project {path} has no points "
                                 f"of user {params['user']!r}{session} in run {run} (test "
                                 f"tomogram {i}; runs with such points: {have or 'none'})")
        return
    if not path.is_dir():
        raise InputError(f"config key {where}.path: submission folder {path} not found")
    for i in tomograms["test"]:
        expected = Path(submission_file(params, i))
        if not expected.is_file():
            raise InputError(f"config key {where}.path: {expected} not found (a {params['format']}"
                             f" submission needs one file per test tomogram, "
                             f"{Path(submission_file(params, '<i>')).name})")


def _check_template_matching(config: dict, where: str, params: dict) -> None:
    from tomobench.methods.template_matching.pipeline import extraction_settings
    from tomobench.methods.template_matching.templates import integer_factor

    extraction_settings(params["kind"], params, f"config key {where}")
    search_nm = config["template_matching"]["search_voxel_size_nm"]
    integer_factor(search_nm, config["tomograms"]["voxel_size_nm"],
                   "config key template_matching.search_voxel_size_nm")
    if params.get("threshold") == "fixed" and params.get("fixed_threshold") is None:
        raise InputError(f"config key {where}.fixed_threshold: required when threshold is "
                         "'fixed'")


def _check_learning(tomograms: dict, where: str, params: dict) -> None:
    from tomobench.methods.learning.data import patch_shape_of
    from tomobench.methods.learning.training import check_method_parameters

    if not tomograms["training"]:
        raise InputError(f"config key tomograms.training: empty, but {where} "
                         f"(kind {params['kind']}) needs training tomograms")
    check_method_parameters(params["kind"], params.get("training"), params.get("inference"),
                            f"config key {where}")
    training = params.get("training") or {}
    if "patch_voxels" in training:
        shape = patch_shape_of(training["patch_voxels"])
        volume = (tomograms["size_z_voxels"], *(2 * [tomograms["size_xy_voxels"]]))
        if any(p > s for p, s in zip(shape, volume, strict=True)):
            raise InputError(f"config key {where}.training.patch_voxels: {list(shape)} exceeds "
                             f"the tomogram shape {list(volume)}")


def _check_device(config: dict) -> None:
    if config["device"] != "cuda":
        return
    from tomobench.backend import cupy_available

    hint = "; use device: auto (GPU when usable) or cpu"
    if not cupy_available():
        raise InputError("config key device: 'cuda', but cupy finds no usable CUDA GPU on this "
                         f"machine (install the gpu extra on a GPU host){hint}")
    if any(p["kind"] in LEARNING_KINDS for p in config["methods"].values()):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"config key device: 'cuda', but torch sees no CUDA GPU{hint}")


# --------------------------------------------------------------------------- output folders


def check_writable(folder: str | os.PathLike) -> None:
    """``InputError`` naming the first folder in which no file can be created: ``folder``
    itself (or its nearest existing parent) and every existing folder below it."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    candidates = [existing]
    if folder.is_dir():
        candidates += [Path(root) / name for root, names, _ in os.walk(folder) for name in names]
    for candidate in candidates:
        try:
            with tempfile.TemporaryFile(dir=candidate):
                pass
        except OSError as error:
            raise InputError(f"{candidate}: folder is not writable ({error.strerror}); "
                             "outputs go there") from None
