"""Particle lists: SHREC ``particle_locations.txt`` and submission (picks) files.

Both are whitespace-separated text. Ground truth lines are
``<class> <x> <y> <z> <a1> <a2> <a3>`` (integers, ZXZ Euler degrees, ``NaN`` for
vesicles/fiducials). Submissions are ``<class> <x> <y> <z> [score ...]``.
Coordinates are voxel indices with x the fastest MRC axis.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench.atomic import write_text_atomic
from tomobench.errors import InputError
from tomobench.io import text_rows

LOCATION_COLUMNS = ["class_name", "x", "y", "z", "a1", "a2", "a3"]
PICK_COLUMNS = ["class_name", "x", "y", "z", "score"]


def read_particle_locations(path: str | os.PathLike) -> pd.DataFrame:
    """Read a SHREC ``particle_locations.txt``; row k (0-based) is occupancy id k+1.

    Returns a DataFrame with columns ``class_name, x, y, z, a1, a2, a3``
    (int coordinates, float angles, NaN for vesicles and fiducials).
    """
    rows = []
    for line_number, fields, line in text_rows(path, what="particle list", comment=None):
        if len(fields) not in (4, 7):
            raise InputError(
                f"{path}:{line_number}: expected '<class> x y z [a1 a2 a3]', got {line!r}"
            )
        try:
            x, y, z = (int(v) for v in fields[1:4])
            angles = [float(v) for v in fields[4:7]] or [math.nan] * 3
        except ValueError as error:
            raise InputError(f"{path}:{line_number}: {error}") from error
        rows.append([fields[0], x, y, z, *angles])
    frame = pd.DataFrame(rows, columns=LOCATION_COLUMNS)
    return frame.astype({"x": int, "y": int, "z": int, "a1": float, "a2": float, "a3": float})


def write_particle_locations(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write ``frame`` (columns ``LOCATION_COLUMNS``) in the SHREC text format, atomically."""
    lines = []
    for row in frame.itertuples(index=False):
        angles = " ".join("NaN" if np.isnan(a) else f"{a:.4f}" for a in (row.a1, row.a2, row.a3))
        lines.append(f"{row.class_name} {int(row.x)} {int(row.y)} {int(row.z)} {angles}\n")
    write_text_atomic(Path(path), "".join(lines))


def read_picks(path: str | os.PathLike, *, score_column: bool = True) -> pd.DataFrame:
    """Read a submission ``<class> <x> <y> <z> [score ...]``; malformed lines name file:line.

    Returns a DataFrame with columns ``class_name, x, y, z, score`` (float coordinates,
    score NaN when absent), in file order. With ``score_column=False`` every column after z is
    ignored (score NaN), as the SHREC 2021 evaluation script does.
    """
    rows = []
    for line_number, fields, line in text_rows(path, what="picks file"):
        if len(fields) < 4:
            raise InputError(
                f"{path}:{line_number}: expected '<class> <x> <y> <z> [score]', got {line!r}"
            )
        try:
            x, y, z = (float(v) for v in fields[1:4])
            score = float(fields[4]) if score_column and len(fields) > 4 else math.nan
        except ValueError as error:
            raise InputError(f"{path}:{line_number}: {error}") from error
        if not all(math.isfinite(v) for v in (x, y, z)):
            raise InputError(f"{path}:{line_number}: non-finite coordinate in {line!r}")
        rows.append([fields[0], x, y, z, score])
    return pd.DataFrame(rows, columns=PICK_COLUMNS)


def write_picks(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write picks (columns ``class_name, x, y, z`` and optional ``score``) atomically.

    Coordinates are written as integers (the official scorer parses them with ``int``).
    """
    lines = []
    has_score = "score" in frame.columns
    for row in frame.itertuples(index=False):
        line = f"{row.class_name} {int(round(row.x))} {int(round(row.y))} {int(round(row.z))}"
        if has_score and not np.isnan(row.score):
            line += f" {row.score:.6g}"
        lines.append(line + "\n")
    write_text_atomic(Path(path), "".join(lines))
