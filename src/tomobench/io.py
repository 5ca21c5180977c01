"""Files of a run: the SHREC tomogram folder layout, its acquisition record, JSON and
whitespace-separated text.

A tomogram folder (``results/<name>/data/model_<i>/``, the layout of the SHREC 2021 release)
holds :data:`MODEL_FILES`; every reader of such a folder (learning data, ground truth, copick
and RELION exports, the evaluation command) and the workflow's rule outputs use these names.
Readers raise ``InputError`` naming the file (and line); writers are atomic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from tomobench.atomic import write_text_atomic
from tomobench.errors import InputError

#: File of each kind in a SHREC tomogram folder (key = the rule output key).
MODEL_FILES: dict[str, str] = {
    "grandmodel": "grandmodel.mrc",
    "class_mask": "class_mask.mrc",
    "occupancy_mask": "occupancy_mask.mrc",
    "particle_locations": "particle_locations.txt",
    "scene_parameters": "scene_parameters.json",
    "projections": "projections.mrc",
    "alignment": "alignment_simulated.txt",
    "acquisition": "acquisition_parameters.json",
    "reconstruction": "reconstruction.mrc",
    # the tilt series without any noise source, and the tomogram's measured SNR
    "noisefree_projections": "noisefree_projections.mrc",
    "snr": "snr.json",
}
#: What a learning picker trains on (input, targets, particle list).
TRAINING_FILES = ("reconstruction", "class_mask", "occupancy_mask", "grandmodel",
                  "particle_locations")
#: Values of an acquisition record (:func:`read_acquisition`).
ACQUISITION_KEYS = ("defocus_um", "voltage_kv", "spherical_aberration_mm", "tilt_range_deg",
                    "pixel_size_nm")
#: What the SHREC evaluation reads.
GROUND_TRUTH_FILES = ("particle_locations", "occupancy_mask")


def model_files(folder: str | os.PathLike, keys=None) -> dict[str, Path]:
    """``{key: folder / file}`` of a tomogram folder, for ``keys`` (default: all)."""
    folder = Path(folder)
    return {key: folder / MODEL_FILES[key] for key in (keys or MODEL_FILES)}


# --------------------------------------------------------------------------- JSON


def write_json(path: str | os.PathLike, payload) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically (deterministic bytes);
    numpy scalars and arrays and paths are converted."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default)
    write_text_atomic(path, text + "\n")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def read_json(path: str | os.PathLike, what: str = "JSON file"):
    """The content of a JSON file; ``InputError`` naming it (and ``what`` it should be) when
    it is missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: cannot read the {what} ({error})") from error


def read_acquisition(path: str | os.PathLike, fallback: dict | None = None, *,
                     required=ACQUISITION_KEYS[:4]) -> dict:
    """The :data:`ACQUISITION_KEYS` of a tomogram's ``acquisition_parameters.json``: defocus
    (µm), voltage (kV), Cs (mm), tilt range (deg) and pixel size (nm).

    ``defocus_um`` is a number, or a per-tilt list whose mean is used. Voltage and Cs are read
    at the top level or under ``microscope`` (as the simulator writes them), the tilt range from
    ``tilt_angles_deg``. A value that is absent is taken from ``fallback`` (same keys); one still
    missing is None, or an ``InputError`` naming the file when it is ``required`` (by default
    what the template CTF and wedge need: all but the pixel size).
    """
    import numpy as np

    path = Path(path)
    payload = read_json(path, "acquisition parameters")
    if not isinstance(payload, dict):
        raise InputError(f"{path}: expected a JSON object of acquisition parameters")
    microscope = payload.get("microscope") or {}
    tilts = payload.get("tilt_angles_deg")
    found = {
        "defocus_um": payload.get("defocus_um"),
        "voltage_kv": payload.get("voltage_kv", microscope.get("voltage_kv")),
        "spherical_aberration_mm": payload.get("spherical_aberration_mm",
                                               microscope.get("spherical_aberration_mm")),
        "tilt_range_deg": [min(tilts), max(tilts)] if tilts else None,
        "pixel_size_nm": payload.get("pixel_size_nm"),
    }
    record = {}
    for key, value in found.items():
        value = (fallback or {}).get(key) if value is None else value
        if value is None and key in required:
            raise InputError(f"{path}: key {key!r} is missing")
        try:
            if value is None:
                record[key] = None
            elif key == "tilt_range_deg":
                record[key] = tuple(float(v) for v in value)
            else:
                record[key] = float(np.mean(value)) if isinstance(value, list) else float(value)
        except (TypeError, ValueError) as error:
            raise InputError(f"{path}: key {key!r}: {error}") from error
    return record


# --------------------------------------------------------------------------- text tables


def text_rows(path: str | os.PathLike, *, what: str = "text file",
              comment: str | None = "#") -> Iterator[tuple[int, list[str], str]]:
    """``(line number, fields, line)`` of each non-blank line of a whitespace-separated UTF-8
    text file; lines whose first field starts with ``comment`` are skipped (``None``: none).

    ``InputError`` naming the file when it is missing, and the line when it is not text (a
    binary file given by mistake).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(
                    f"{path}:{line_number}: not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                    f"column {error.start + 1}); expected a whitespace-separated text file"
                ) from None
            fields = line.split()
            if not fields or (comment and fields[0].startswith(comment)):
                continue
            yield line_number, fields, line.rstrip()
