"""Submission files ``tomobench evaluate`` reads: SHREC text, RELION 4/5 STAR and CSV.

The kind comes from the extension (``.txt`` SHREC text, ``.star`` RELION, ``.csv``); a file
with another extension is recognised by its content: a STAR file starts (after comments) with a
``data_`` block, a CSV's header has commas and names ``x, y, z``, anything else that is text is
read as SHREC text; a binary file is refused.

- SHREC text: ``<class> <x> <y> <z> [anything]`` per line, whitespace separated, ``#`` comments
  (:func:`tomobench.particles.read_picks`; columns after z are ignored, as SHREC's script did).
- RELION: :func:`tomobench.formats.relion.read_particle_star` (what ``tomobench export-star``
  writes; needs the tomogram's shape and voxel size).
- CSV: a header naming ``class`` (or ``class_name``), ``x``, ``y``, ``z`` and optionally
  ``score`` in any order, case-insensitive (an empty score is NaN); other columns are ignored;
  blank lines and lines starting with ``#`` are skipped.

Every reader returns a DataFrame ``class_name, x, y, z, score`` (voxels of the reconstruction,
0-based, x fastest; score NaN where absent or ignored).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pandas as pd

from tomobench.errors import InputError
from tomobench.particles import PICK_COLUMNS, read_picks

#: Extension of each submission kind (the folder search of ``evaluate`` looks for these).
SUBMISSION_SUFFIXES = {".txt": "shrec", ".star": "star", ".csv": "csv"}

KINDS_TEXT = ("SHREC text (.txt: '<class> <x> <y> <z>'), RELION 4/5 STAR (.star) or CSV (.csv "
              "with a header class,x,y,z[,score])")

#: Bytes read to recognise a file of unknown extension.
_SNIFF_BYTES = 65536


def submission_kind(path: str | os.PathLike) -> str:
    """``"shrec"``, ``"star"`` or ``"csv"``: by extension, else by content (module docstring).

    ``InputError`` naming the file when it is missing, a folder or not text.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: picks file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    kind = SUBMISSION_SUFFIXES.get(path.suffix.lower())
    if kind:
        return kind
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not a multi-byte character cut at the sniff limit
            raise InputError(f"{path}: unknown submission kind (binary, not text); expected "
                             f"{KINDS_TEXT}") from None
        text = head[:error.start].decode("utf-8")
    if "\0" in text:
        raise InputError(f"{path}: unknown submission kind (binary, not text); expected "
                         f"{KINDS_TEXT}")
    lines = [line.strip() for line in text.splitlines()]
    first = next((line for line in lines if line and not line.startswith("#")), "")
    if first.startswith("data_"):
        return "star"
    header = {field.strip().lower() for field in first.split(",")}
    if "," in first and {"x", "y", "z"} <= header:
        return "csv"
    return "shrec"


def read_csv_picks(path: str | os.PathLike) -> pd.DataFrame:
    """Picks of a CSV file with a header (module docstring); bad rows name file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    rows = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        return pd.DataFrame(columns=PICK_COLUMNS)
    header_line, header_text = rows[0]
    header = [field.strip().lower() for field in next(csv.reader([header_text]))]
    names = {"class_name" if field == "class" else field: k for k, field in enumerate(header)}
    missing = [c for c in ("class_name", "x", "y", "z") if c not in names]
    if missing:
        missing = ["class" if c == "class_name" else c for c in missing]
        raise InputError(f"{path}:{header_line}: the header must name class,x,y,z[,score]; "
                         f"missing {', '.join(missing)} in {header_text.strip()!r}")
    picks = []
    for number, fields in zip((n for n, _ in rows[1:]), csv.reader(line for _, line in rows[1:]),
                              strict=True):
        if len(fields) != len(header):
            raise InputError(f"{path}:{number}: {len(fields)} fields, the header has "
                             f"{len(header)}")
        try:
            x, y, z = (float(fields[names[c]]) for c in "xyz")
            score_text = fields[names["score"]].strip() if "score" in names else ""
            score = float(score_text) if score_text else math.nan
        except ValueError as error:
            raise InputError(f"{path}:{number}: {error}") from None
        if not all(math.isfinite(v) for v in (x, y, z)):
            raise InputError(f"{path}:{number}: non-finite coordinate")
        name = fields[names["class_name"]].strip()
        if not name:
            raise InputError(f"{path}:{number}: empty class name")
        picks.append([name, x, y, z, score])
    return pd.DataFrame(picks, columns=PICK_COLUMNS)


def read_submission(path: str | os.PathLike, shape_zyx: tuple[int, int, int],
                    voxel_size_nm: float) -> pd.DataFrame:
    """Picks of a submission of any kind (:func:`submission_kind`); ``shape_zyx`` and
    ``voxel_size_nm`` (the evaluation volume) place RELION 5's centred Ångström coordinates."""
    from tomobench.formats.relion import read_particle_star

    kind = submission_kind(path)
    if kind == "star":
        return read_particle_star(path, shape_zyx, voxel_size_nm)
    if kind == "csv":
        return read_csv_picks(path)
    return read_picks(path, score_column=False)
