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

LOCATION_COLUMNS = ["class_name", "x", "y", "z", "a1", "a2", "a3"]
PICK_COLUMNS = ["class_name", "x", "y", "z", "score"]


def _text_lines(path: Path):
    """``(line number, line)`` of a UTF-8 text file; ``InputError`` naming file and line when
    the bytes are not text (a binary file given by mistake)."""
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                yield line_number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(
                    f"{path}:{line_number}: not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                    f"column {error.start + 1}); expected a whitespace-separated text file"
                ) from None


def read_particle_locations(path: str | os.PathLike) -> pd.DataFrame:
    """Read a SHREC ``particle_locations.txt``; row k (0-based) is occupancy id k+1.

    Returns a DataFrame with columns ``class_name, x, y, z, a1, a2, a3``
    (int coordinates, float angles, NaN for vesicles and fiducials).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: particle list not found")
    rows = []
    for line_number, line in _text_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (4, 7):
            raise InputError(
                f"{path}:{line_number}: expected '<class> x y z [a1 a2 a3]', "
                f"got {line.rstrip()!r}"
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
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: picks file not found")
    rows = []
    for line_number, line in _text_lines(path):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 4:
            raise InputError(
                f"{path}:{line_number}: expected '<class> <x> <y> <z> [score]', "
                f"got {line.rstrip()!r}"
            )
        try:
            x, y, z = (float(v) for v in fields[1:4])
            score = float(fields[4]) if score_column and len(fields) > 4 else math.nan
        except ValueError as error:
            raise InputError(f"{path}:{line_number}: {error}") from error
        if not all(math.isfinite(v) for v in (x, y, z)):
            raise InputError(
                f"{path}:{line_number}: non-finite coordinate in {line.rstrip()!r}"
            )
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
