"""CryoET Data Portal point annotations: one ndjson file per object, one JSON object per line.

Lines are ``{"type": "point", "location": {"x", "y", "z"}}`` or, with an orientation,
``{"type": "orientedPoint", "location": ..., "xyz_rotation_matrix": [[...], [...], [...]]}``.
Locations are in voxels of the annotated tomogram (0-based, x fastest: tomobench's own voxel
coordinates), the matrix is the particle rotation ``R`` of :mod:`tomobench.orientation` acting on
``(x, y, z)`` (the portal turns RELION ``(90, 45, 180)`` into ``[[0, −0.707, 0.707], [1, 0, 0],
[0, 0.707, 0.707]]``, and so do we).

Schema check: the portal's Python package (``cryoet-data-portal``) is an API client and ships no
schema of the annotation files, so :data:`POINT_SCHEMA` encodes the fields as the portal's
ingestion writes them and its readers (the portal client, copick) read them; lines are checked
with ``jsonschema`` plus a test that each matrix is a proper rotation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd

from tomobench.atomic import write_text_atomic
from tomobench.errors import InputError
from tomobench.orientation import rotation_matrix_xyz

_NUMBER = {"type": "number"}
_ROW = {"type": "array", "items": _NUMBER, "minItems": 3, "maxItems": 3}
#: JSON schema of one annotation line (Point or OrientedPoint).
POINT_SCHEMA = {
    "type": "object",
    "required": ["type", "location"],
    "properties": {
        "type": {"enum": ["point", "orientedPoint"]},
        "location": {
            "type": "object",
            "required": ["x", "y", "z"],
            "properties": {"x": _NUMBER, "y": _NUMBER, "z": _NUMBER},
            "additionalProperties": False,
        },
        "xyz_rotation_matrix": {"type": "array", "items": _ROW, "minItems": 3, "maxItems": 3},
        "instance_id": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
    "if": {"properties": {"type": {"const": "orientedPoint"}}},
    "then": {"required": ["type", "location", "xyz_rotation_matrix"]},
    "else": {"not": {"required": ["xyz_rotation_matrix"]}},
}


def annotation_lines(particles: pd.DataFrame) -> list[dict]:
    """Portal lines of ``particles`` (``x, y, z`` voxels; optional ``a1, a2, a3`` degrees).

    A particle with finite angles becomes an ``orientedPoint``, any other a ``point``.
    """
    xyz = particles[["x", "y", "z"]].to_numpy(dtype=float).reshape(-1, 3)
    if {"a1", "a2", "a3"} <= set(particles.columns):
        angles = particles[["a1", "a2", "a3"]].to_numpy(dtype=float).reshape(-1, 3)
    else:
        angles = np.full_like(xyz, np.nan)
    lines = []
    for position, triple in zip(xyz, angles, strict=True):
        line = {"type": "point",
                "location": {axis: float(v) for axis, v in zip("xyz", position, strict=True)}}
        if np.all(np.isfinite(triple)):
            line["type"] = "orientedPoint"
            line["xyz_rotation_matrix"] = np.round(rotation_matrix_xyz(triple), 12).tolist()
        lines.append(line)
    return lines


def check_line(line: dict, where: str = "") -> None:
    """Raise :class:`InputError` (naming ``where``) unless ``line`` fits :data:`POINT_SCHEMA`
    and its matrix, if any, is a proper rotation."""
    try:
        jsonschema.validate(line, POINT_SCHEMA)
    except jsonschema.ValidationError as error:
        raise InputError(f"{where}: not a portal point annotation ({error.message})") from None
    if "xyz_rotation_matrix" in line:
        matrix = np.asarray(line["xyz_rotation_matrix"], dtype=float)
        if not (np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6)
                and np.isclose(np.linalg.det(matrix), 1.0, atol=1e-6)):
            raise InputError(f"{where}: xyz_rotation_matrix is not a rotation")


def write_annotations(folder: str | os.PathLike, particles: pd.DataFrame) -> list[Path]:
    """One ``<class>_<shape>.ndjson`` per class in ``folder`` (shape ``orientedpoint`` when
    every particle of the class has angles, else ``point``); returns the files written."""
    folder = Path(folder)
    written = []
    for name, group in particles.groupby("class_name", sort=True):
        lines = annotation_lines(group)
        shapes = {line["type"] for line in lines}
        if shapes == {"orientedPoint", "point"}:
            raise InputError(f"class {name}: some particles have angles and some do not; the "
                             "portal keeps points and oriented points in separate files")
        path = folder / f"{name}_{shapes.pop().lower()}.ndjson"
        for k, line in enumerate(lines, start=1):
            check_line(line, f"{path}:{k}")
        write_text_atomic(path, "".join(json.dumps(line) + "\n" for line in lines))
        written.append(path)
    return written


def read_annotation(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Locations ``(n, 3)`` ``(x, y, z)`` voxels and matrices ``(n, 3, 3)`` (None for points)
    of a portal ndjson file, every line checked."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: annotation file not found")
    locations, matrices = [], []
    for k, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{k}: not JSON ({error})") from None
        check_line(line, f"{path}:{k}")
        locations.append([line["location"][axis] for axis in "xyz"])
        matrices.append(line.get("xyz_rotation_matrix"))
    oriented = [m is not None for m in matrices]
    if any(oriented) != all(oriented):
        raise InputError(f"{path}: mixes points and oriented points")
    xyz = np.asarray(locations, dtype=float).reshape(-1, 3)
    return xyz, (np.asarray(matrices, dtype=float) if oriented and all(oriented) else None)
