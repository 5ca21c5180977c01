"""Pickers from outside the package: ``kind: command`` (a shell command the workflow runs) and
``kind: submission`` (picks made elsewhere). The contract is ``docs/EXTERNAL_PICKERS.md``.

A command picker gets a JSON *job manifest* (:func:`job_manifest`) and writes its picks to
the manifest's ``output``; :func:`check_rows` checks them (classes, finite, inside the
volume, not empty) before anything is scored and turns every problem into one line naming the
method, the tomogram, the offending line and the command's log file. Command strings come
from the configuration, which is trusted like a Makefile; only the placeholders
(:data:`PLACEHOLDERS`) are filled in, each value shell-quoted, and nothing read from a data
file ever reaches a shell.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from tomobench.classes import BY_NAME, CLASS_ID
from tomobench.errors import InputError
from tomobench.methods.kinds import ENTRY_KEYS

#: Parameters of a ``kind: command`` entry and their defaults (the schema lists these keys).
COMMAND_DEFAULTS = {
    "train": None,
    "pick": None,
    "output_format": "shrec",
    "threads": 1,
    "mem_mb": 2000,
    "gpu": False,
    "conda": None,
    "container": None,
    "timeout_min": None,
}
#: Parameters of a ``kind: submission`` entry and their defaults.
SUBMISSION_DEFAULTS = {
    "path": None,
    "format": "shrec",
    "user": None,
    "session": None,
}
#: Placeholders each command template may use (the values are shell-quoted paths/numbers).
PLACEHOLDERS = {
    "train": ("manifest", "model_dir", "threads"),
    "pick": ("manifest", "output", "model_dir", "threads"),
}
#: Version of the manifest layout (docs/EXTERNAL_PICKERS.md).
MANIFEST_VERSION = 1
#: File name of a submission's picks of tomogram ``i`` by format.
SUBMISSION_FILES = {"shrec": "model_{i}.txt", "star": "model_{i}.star"}


# --------------------------------------------------------------------------- commands


def command_fields(template: str) -> list[str]:
    """The placeholder names used by a command template (``{{`` / ``}}`` are literal braces).

    Raises ``ValueError`` for a malformed template (an unmatched brace)."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def check_command(template: str, stage: str, where: str) -> None:
    """``InputError`` naming ``where`` for a template with an unknown or malformed placeholder."""
    known = PLACEHOLDERS[stage]
    try:
        fields = command_fields(template)
    except ValueError as error:
        raise InputError(f"config key {where}: {error} in {template!r} (write {{{{ and }}}} for "
                         "literal braces)") from None
    for field in fields:
        if field not in known:
            raise InputError(f"config key {where}: unknown placeholder {{{field}}} in "
                             f"{template!r}; known: {', '.join('{' + k + '}' for k in known)} "
                             "(write {{ and }} for literal braces)")
    if stage == "pick" and "output" not in fields and "manifest" not in fields:
        raise InputError(f"config key {where}: the pick command must receive {{manifest}} or "
                         "{output} (where it writes its picks)")


def render_command(template: str, values: Mapping[str, object]) -> str:
    """The command with each placeholder replaced by its shell-quoted value."""
    return template.format_map({key: shlex.quote(str(value)) for key, value in values.items()})


def command_files(template: str, root: str | os.PathLike = ".") -> list[str]:
    """Local files a command template names (a word, or the value of ``--opt=value``, that is
    an existing file relative to ``root`` or absolute), sorted: their content is part of the
    rule's parameters, so editing them reruns the method."""
    try:
        words = shlex.split(template)
    except ValueError:
        words = template.split()
    files = set()
    for word in words:
        for candidate in (word, word.split("=", 1)[-1]):
            if not candidate or "{" in candidate:
                continue
            path = Path(root) / candidate
            if path.is_file():
                files.add(candidate)
    return sorted(files)


def command_settings(entry: Mapping) -> dict:
    """A ``kind: command`` entry with :data:`COMMAND_DEFAULTS` filled in (``InputError`` for
    a key that is neither a parameter nor one of :data:`~tomobench.methods.kinds.ENTRY_KEYS`)."""
    given = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
    unknown = sorted(set(given) - set(COMMAND_DEFAULTS))
    if unknown:
        raise InputError(f"methods.<command>: unknown keys {unknown}; known: "
                         f"{sorted(COMMAND_DEFAULTS)}")
    return {**COMMAND_DEFAULTS, **given}


def wrapper_script(command: str, *, what: str, stage: str, log: str,
                   timeout_min: float | None = None, threads: int = 1,
                   output: str | None = None, model_dir: str | None = None) -> str:
    """The bash text a train/pick job runs: the rendered ``command`` with stdout and stderr in
    ``log``, ``OMP_NUM_THREADS`` & co. set to ``threads``, an optional time-out, and one
    ``tomobench: error:`` line naming ``what`` (method and tomogram) and the log when the
    command fails, times out or writes no ``output``.

    ``command`` is already rendered (placeholders quoted); every other value is quoted here.
    """
    q = shlex.quote
    fail = f"tomobench: error: {what}: {stage} command"
    lines = [f"export {v}={int(threads)}" for v in
             ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")]
    if model_dir:
        lines.append(f"mkdir -p {q(model_dir)}")
    if output:
        lines.append(f"mkdir -p {q(str(Path(output).parent))}")
    run = f"bash -c {q(command)}"
    if timeout_min:
        run = f"timeout --kill-after=30 {float(timeout_min) * 60:g} {run}"
    lines.append("status=0")
    lines.append(f"{run} > {q(log)} 2>&1 < /dev/null || status=$?")
    lines.append('if [ "$status" -ne 0 ]; then')
    if timeout_min:
        lines.append('  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then')
        timed_out = f"{fail} exceeded timeout_min = {timeout_min:g} min (log: {log})"
        lines.append(f"    echo {q(timed_out)} >&2")
        lines.append("    exit 1")
        lines.append("  fi")
    lines.append(f'  echo {q(fail)}" exited with status $status "{q(f"(log: {log})")} >&2')
    lines.append("  exit 1")
    lines.append("fi")
    if output:
        lines.append(f"if [ ! -f {q(output)} ]; then")
        lines.append(f"  echo {q(f'{fail} wrote no picks file {output} (log: {log})')} >&2")
        lines.append("  exit 1")
        lines.append("fi")
    return "\n".join(lines) + "\n"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def command_fingerprint(template: str | None, root: str | os.PathLike = ".") -> dict:
    """``{"command": template, "files": {path: sha256}}`` (``{}`` without a template)."""
    if not template:
        return {}
    return {"command": template,
            "files": {name: file_digest(Path(root) / name)
                      for name in command_files(template, root)}}


# --------------------------------------------------------------------------- submissions


def submission_file(entry: Mapping, i: int | str) -> str:
    """The file a ``shrec``/``star`` submission holds for test tomogram ``i``."""
    return str(Path(entry["path"]) / SUBMISSION_FILES[entry["format"]].format(i=i))


def copick_overlay(config_path: str | os.PathLike) -> Path | None:
    """The local overlay folder of a filesystem copick project (None when not local)."""
    try:
        config = json.loads(Path(config_path).read_text())
    except (OSError, ValueError):
        return None
    root = str(config.get("overlay_root") or "")
    if root.startswith("local://"):
        root = root[len("local://"):]
    if not root or "://" in root:
        return None
    return Path(root)


def copick_point_files(entry: Mapping, run: str) -> list[str]:
    """The point files of the submission's user (and session) in ``run`` of a filesystem
    copick project (inputs of the job, so a changed point file re-scores it)."""
    overlay = copick_overlay(entry["path"])
    if overlay is None:
        return []
    pattern = f"{entry['user']}_{entry.get('session') or '*'}_*.json"
    return sorted(str(p) for p in (overlay / "ExperimentRuns" / run / "Picks").glob(pattern))


# --------------------------------------------------------------------------- manifest


def class_table(classes: Sequence[str], *, potentials: Mapping[str, str] | None = None,
                fiducial_radius_nm: float, vesicle_radius_nm: float) -> list[dict]:
    """The manifest's class table: the run's proteins (PDB id, molecular weight from the
    potential's JSON, sphere radius of the paper's volume, potential map), then vesicle and
    fiducial. ``potentials``: PDB id -> potential MRC path (its ``.json`` beside it)."""
    from tomobench.io import read_json
    from tomobench.mrc import MrcVolume

    table = []
    for name in classes:
        record = BY_NAME[name]
        entry = {"id": record.id, "name": name, "kind": "protein", "pdb_id": name,
                 "molecular_weight_kda": record.molecular_weight_kda,
                 "radius_nm": record.sphere_radius_nm}
        if potentials and name in potentials:
            path = Path(potentials[name])
            metadata = read_json(path.with_suffix(".json"), "potential metadata")
            voxel_nm = MrcVolume(path).voxel_size_nm
            entry.update(molecular_weight_kda=metadata.get("molecular_weight_kda"),
                         potential=str(path), potential_voxel_size_nm=voxel_nm)
        table.append(entry)
    table.append({"id": CLASS_ID["vesicle"], "name": "vesicle", "kind": "vesicle",
                  "pdb_id": None, "molecular_weight_kda": None, "radius_nm": vesicle_radius_nm,
                  "scored": False})
    table.append({"id": CLASS_ID["fiducial"], "name": "fiducial", "kind": "fiducial",
                  "pdb_id": None, "molecular_weight_kda": None,
                  "radius_nm": fiducial_radius_nm})
    for entry in table:
        entry.setdefault("scored", BY_NAME[entry["name"]].scored)
    return table


def tomogram_entry(i: int, path: str | os.PathLike) -> dict:
    """``{id, name, path, voxel_size_nm, shape_zyx, acquisition}`` of a reconstruction (shape
    and voxel size from its header; ``acquisition``: the ``acquisition_parameters.json``
    beside it, or None)."""
    from tomobench.io import MODEL_FILES
    from tomobench.mrc import MrcVolume

    volume = MrcVolume(path)
    shape, voxel_nm = [int(n) for n in volume.shape], float(volume.voxel_size_nm)
    acquisition = Path(path).parent / MODEL_FILES["acquisition"]
    return {"id": int(i), "name": f"model_{i}", "path": str(path), "voxel_size_nm": voxel_nm,
            "shape_zyx": shape,
            "acquisition": str(acquisition) if acquisition.is_file() else None}


def job_manifest(*, stage: str, method: str, run: str, tomograms: Sequence[dict],
                 training: Mapping[int, str], validation: Mapping[int, str],
                 classes: list[dict], threads: int, device: str, seed: int,
                 model_dir: str | None, output: str | None = None,
                 output_format: str = "shrec") -> dict:
    """The JSON job manifest of a train or pick job (docs/EXTERNAL_PICKERS.md); paths are
    relative to the directory the command starts in."""
    def folders(ids):
        return [{"id": int(i), "name": f"model_{i}", "folder": str(folder)}
                for i, folder in ids.items()]

    return {
        "tomobench_manifest": MANIFEST_VERSION,
        "stage": stage,
        "method": method,
        "run": run,
        "tomograms": list(tomograms),
        "training": folders(training),
        "validation": folders(validation),
        "classes": classes,
        "threads": int(threads),
        "device": device,
        "seed": int(seed),
        "model_dir": model_dir,
        "output": output,
        "output_format": output_format if stage == "pick" else None,
    }


# --------------------------------------------------------------------------- validation


class PickError(InputError):
    """Bad picks of an external picker: one line naming method, tomogram, line and log."""


def _fail(where: str, problem: str, log: str | None) -> PickError:
    return PickError(f"{where}: {problem}" + (f" (log: {log})" if log else ""))


def _class_lookup(allowed: Sequence[str]) -> dict[str, str]:
    """Accepted label -> class name: each name (any case) and a SHREC class's id (a copick
    project's own classes, ``tomobench.project_classes``, are accepted by name only)."""
    lookup = {}
    for name in allowed:
        lookup[name.upper()] = name
        if name in CLASS_ID:
            lookup[str(CLASS_ID[name])] = name
    return lookup


def check_rows(rows: Sequence[tuple[str, list]], *, shape_zyx: Sequence[int],
               allowed_classes: Sequence[str], where: str, log: str | None = None,
               particles_exist: bool = True) -> pd.DataFrame:
    """Validate picks ``(line label, [class, x, y, z, score?])``; return them as a SHREC
    submission frame (``class_name, x, y, z, score``; class names as in the class table).

    Every problem raises :class:`PickError`: ``<where>: <line label>: <problem> (log: ...)``.
    A class is a name of ``allowed_classes`` (case-insensitive) or its SHREC id; coordinates
    are voxels (``x y z``) and must be finite and inside ``[-0.5, n - 0.5)`` per axis.
    """
    lookup = _class_lookup(allowed_classes)
    nz, ny, nx = (int(n) for n in shape_zyx)
    limits = {"x": nx, "y": ny, "z": nz}
    out = []
    for label, fields in rows:
        if len(fields) < 4:
            raise _fail(where, f"{label}: expected '<class> <x> <y> <z> [score]', got "
                        f"{' '.join(map(str, fields))!r}", log)
        name = lookup.get(str(fields[0]).upper())
        if name is None:
            raise _fail(where, f"{label}: unknown class {fields[0]!r} (this run's classes: "
                        f"{', '.join(allowed_classes)}, or their SHREC ids)", log)
        try:
            coords = [float(v) for v in fields[1:4]]
            score = float(fields[4]) if len(fields) > 4 else math.nan
        except (TypeError, ValueError):
            raise _fail(where, f"{label}: coordinates or score are not numbers: "
                        f"{' '.join(map(str, fields))!r}", log) from None
        for axis, value in zip("xyz", coords, strict=True):
            if not math.isfinite(value):
                raise _fail(where, f"{label}: non-finite {axis} coordinate {value}", log)
            if not -0.5 <= value < limits[axis] - 0.5:
                raise _fail(where, f"{label}: {axis} = {value:g} is outside the volume "
                            f"(0..{limits[axis] - 1} voxels; shape z, y, x = {nz}, {ny}, {nx})",
                            log)
        out.append([name, *coords, score])
    if not out and particles_exist:
        raise _fail(where, "no picks, but the tomogram holds particles", log)
    return pd.DataFrame(out, columns=["class_name", "x", "y", "z", "score"])


def text_pick_rows(path: str | os.PathLike, where: str, log: str | None = None):
    """``(path:line, fields)`` of a SHREC picks text file (``#`` comments and blank lines
    skipped); a missing or binary file is a :class:`PickError`."""
    path = Path(path)
    if not path.is_file():
        raise _fail(where, f"{path}: picks file not found", log)
    rows = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _fail(where, f"{path}:{number}: not UTF-8 text", log) from None
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                rows.append((f"{path}:{number}", fields))
    return rows


def star_pick_rows(path: str | os.PathLike, geometry, where: str, log: str | None = None):
    """``(path: particle k, fields)`` of a RELION 4/5 particle STAR file, coordinates
    converted to tomogram voxels (:func:`tomobench.formats.relion.read_particle_star`)."""
    from tomobench.formats.relion import read_particle_star

    path = Path(path)
    if not path.is_file():
        raise _fail(where, f"{path}: picks file not found", log)
    try:
        picks = read_particle_star(path, geometry.shape_zyx, geometry.voxel_size_nm)
    except InputError as error:
        raise _fail(where, str(error), log) from None
    return [(f"{path}: particle {k}", [row.class_name, row.x, row.y, row.z, row.score])
            for k, row in enumerate(picks.itertuples(index=False), start=1)]


def frame_rows(picks: pd.DataFrame, source: str):
    """``(source: point k, fields)`` of a picks frame (e.g. loaded from copick)."""
    return [(f"{source}: point {k}", [row.class_name, row.x, row.y, row.z, row.score])
            for k, row in enumerate(picks.itertuples(index=False), start=1)]


def job_name(method: str, i: int | str) -> str:
    """``method <M>, tomogram model_<i>``: how every message names the job."""
    return f"method {method}, tomogram model_{i}"
