"""RELION 5 and RELION 4 particle STAR files of picks or ground truth (written with ``starfile``).

Coordinates: tomobench voxels ``(x, y, z)`` are 0-based indices of the reconstruction (voxel
size ``voxel_size_nm``, ``binning`` tilt-series pixels per voxel, shape ``(nz, ny, nx)``).

- RELION 5: ``rlnCenteredCoordinate{X,Y,Z}Angst`` = offset from the tomogram centre in Å,
  ``(x − n/2) · voxel size``, which is RELION's ``(unbinned − N/2) · tilt-series pixel size``
  (``ParticleSet::getParticleCoordDecenteredPixel``, centre ``N/2`` of the unbinned size).
- RELION 4: ``rlnCoordinate{X,Y,Z}`` in unbinned tilt-series pixels, ``x · binning``.

Orientations (ground truth only: SHREC picks carry none): ``rlnAngleRot/Tilt/Psi`` (ZYZ) from the
``particle_locations.txt`` angles (:func:`tomobench.orientation.relion_angles_deg`); particles
without orientation (vesicles, fiducials) get ``nan``. Pick scores go to
``rlnAutopickFigureOfMerit``; ground truth has no figure of merit.

The ``optics`` block comes from the acquisition: voltage, Cs, amplitude contrast and the
unbinned tilt-series pixel size (``rlnTomoTiltSeriesPixelSize``). ``rlnClassNumber`` is the
SHREC class id (0 for a label outside the class table).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from tomobench.atomic import atomic_path
from tomobench.classes import CLASS_ID
from tomobench.errors import InputError
from tomobench.io import model_files, read_acquisition
from tomobench.orientation import relion_angles_deg
from tomobench.simulation.ctf import Microscope

RELION_VERSIONS = (4, 5)


@dataclass(frozen=True)
class TomogramGeometry:
    """What a STAR file needs to know about the tomogram and its acquisition.

    ``shape_zyx`` is the reconstruction's shape in voxels of ``voxel_size_nm``; ``binning`` is the
    number of tilt-series pixels per voxel (tilt-series pixel = voxel size / binning).
    """

    name: str
    shape_zyx: tuple[int, int, int]
    voxel_size_nm: float
    binning: float = 1.0
    voltage_kv: float = Microscope.voltage_kv
    spherical_aberration_mm: float = Microscope.spherical_aberration_mm
    amplitude_contrast: float = 0.07

    @property
    def tilt_series_pixel_size_A(self) -> float:
        return self.voxel_size_nm * 10.0 / self.binning


def geometry_from_folder(folder: str | os.PathLike, *, name: str | None = None,
                         amplitude_contrast: float = 0.07) -> TomogramGeometry:
    """:class:`TomogramGeometry` of a SHREC-layout tomogram folder.

    Shape and voxel size from the ``reconstruction.mrc`` header; tilt-series pixel size (hence
    binning), voltage and Cs from ``acquisition_parameters.json`` when present (tomobench's own
    data), else binning 1 and a 300 kV, 2.7 mm microscope (the SHREC 2021 release has no such
    file: its 1 nm tomograms came from 0.5 nm projections, pass ``binning`` yourself).
    """
    import mrcfile

    files = model_files(folder, ("reconstruction", "acquisition"))
    reconstruction = files["reconstruction"]
    if not reconstruction.is_file():
        raise InputError(f"{reconstruction}: reconstruction not found (needed for the tomogram "
                         "shape and voxel size)")
    try:
        with mrcfile.open(reconstruction, mode="r", header_only=True) as handle:
            header = handle.header
            shape = (int(header.nz), int(header.ny), int(header.nx))
            voxel_size_nm = float(handle.voxel_size.x) / 10.0
    except ValueError as error:
        raise InputError(f"{reconstruction}: not a valid MRC file ({error})") from error
    if not voxel_size_nm > 0:
        raise InputError(f"{reconstruction}: no voxel size in the header (give --voxel-size-nm)")
    values = {"binning": 1.0, "voltage_kv": Microscope.voltage_kv,
              "spherical_aberration_mm": Microscope.spherical_aberration_mm}
    if files["acquisition"].is_file():
        acquisition = read_acquisition(files["acquisition"], required=(
            "pixel_size_nm", "voltage_kv", "spherical_aberration_mm"))
        values = {
            "binning": voxel_size_nm / acquisition["pixel_size_nm"],
            "voltage_kv": acquisition["voltage_kv"],
            "spherical_aberration_mm": acquisition["spherical_aberration_mm"],
        }
    return TomogramGeometry(name=name or Path(folder).name, shape_zyx=shape,
                            voxel_size_nm=voxel_size_nm, amplitude_contrast=amplitude_contrast,
                            **values)


def _class_numbers(names) -> list[int]:
    upper = {name.upper(): i for name, i in CLASS_ID.items()}
    return [upper.get(str(n).upper(), 0) for n in names]


def particle_star_blocks(particles: pd.DataFrame, geometry: TomogramGeometry, *,
                         relion_version: int = 5) -> dict[str, pd.DataFrame]:
    """``{"optics", "particles"}`` STAR blocks of picks or a ground truth.

    Parameters
    ----------
    particles : DataFrame
        ``class_name, x, y, z`` in voxels; ground truth also has ``a1, a2, a3`` (Euler degrees,
        NaN without orientation), picks an optional ``score``.
    geometry : TomogramGeometry
        Tomogram and acquisition.
    relion_version : 4 or 5
        Coordinate columns (see the module docstring).
    """
    if relion_version not in RELION_VERSIONS:
        raise InputError(f"RELION version must be one of {RELION_VERSIONS}, got {relion_version}")
    if not (math.isfinite(geometry.voxel_size_nm) and geometry.voxel_size_nm > 0
            and geometry.binning > 0):
        raise InputError(f"{geometry.name}: voxel size and binning must be positive")
    xyz = particles[["x", "y", "z"]].to_numpy(dtype=float).reshape(-1, 3)
    table = {"rlnTomoName": [geometry.name] * len(particles)}
    if relion_version == 5:
        centre = np.array(geometry.shape_zyx[::-1], dtype=float) / 2.0
        centred_A = (xyz - centre) * geometry.voxel_size_nm * 10.0
        for axis, column in zip("XYZ", centred_A.T, strict=True):
            table[f"rlnCenteredCoordinate{axis}Angst"] = column
    else:
        for axis, column in zip("XYZ", (xyz * geometry.binning).T, strict=True):
            table[f"rlnCoordinate{axis}"] = column
    if {"a1", "a2", "a3"} <= set(particles.columns):
        angles = particles[["a1", "a2", "a3"]].to_numpy(dtype=float).reshape(-1, 3)
        relion = np.full_like(angles, np.nan)
        known = np.all(np.isfinite(angles), axis=1)
        if known.any():
            relion[known] = relion_angles_deg(angles[known])
        for column, values in zip(("rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"), relion.T,
                                  strict=True):
            table[column] = values
    elif "score" in particles.columns and particles["score"].notna().any():
        table["rlnAutopickFigureOfMerit"] = particles["score"].to_numpy(dtype=float)
    table["rlnClassNumber"] = _class_numbers(particles["class_name"])
    table["rlnTomoParticleName"] = [f"{geometry.name}/{k}" for k in range(1, len(particles) + 1)]
    table["rlnOpticsGroup"] = [1] * len(particles)
    optics = pd.DataFrame({
        "rlnOpticsGroup": [1],
        "rlnOpticsGroupName": ["opticsGroup1"],
        "rlnVoltage": [geometry.voltage_kv],
        "rlnSphericalAberration": [geometry.spherical_aberration_mm],
        "rlnAmplitudeContrast": [geometry.amplitude_contrast],
        "rlnTomoTiltSeriesPixelSize": [geometry.tilt_series_pixel_size_A],
    })
    return {"optics": optics, "particles": pd.DataFrame(table)}


def write_particle_star(path: str | os.PathLike, particles: pd.DataFrame,
                        geometry: TomogramGeometry, *, relion_version: int = 5) -> None:
    """Write :func:`particle_star_blocks` to ``path``, atomically and reproducibly."""
    blocks = particle_star_blocks(particles, geometry, relion_version=relion_version)
    path = Path(path)
    with atomic_path(path) as tmp:
        star = tmp.with_suffix(".star")
        starfile.write(blocks, star, float_format="%.6f", na_rep="nan")
        text = star.read_text().splitlines(keepends=True)
        star.unlink()
        # starfile stamps the time on its first line; drop it so the output is reproducible.
        if text and text[0].startswith("# Created by the starfile"):
            text[0] = "# Created by tomobench\n"
        tmp.write_text("".join(text))


def read_particle_star(path: str | os.PathLike, geometry: TomogramGeometry) -> pd.DataFrame:
    """Picks ``class_name, x, y, z, score`` (tomogram voxels) from a RELION 5 or 4 particle STAR
    file, the inverse of :func:`particle_star_blocks`.

    RELION 5 ``rlnCenteredCoordinate*Angst`` give ``x = X / voxel size (Å) + n/2``; RELION 4
    ``rlnCoordinate*`` (unbinned pixels) give ``x = X / binning``. The class is
    ``rlnClassNumber`` (a SHREC id; its name, or the number as text when it is not one), the
    score ``rlnAutopickFigureOfMerit`` (NaN when absent). Rows keep the file's order.
    """
    path = Path(path)
    try:
        blocks = starfile.read(path, always_dict=True)
    except Exception as error:  # starfile raises assorted parser errors
        raise InputError(f"{path}: not a STAR file ({error})") from error
    frames = [b for b in blocks.values() if isinstance(b, pd.DataFrame)]
    particles = blocks.get("particles", frames[-1] if frames else None)
    if particles is None or not isinstance(particles, pd.DataFrame):
        raise InputError(f"{path}: no particles table")
    centred = [f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]
    unbinned = [f"rlnCoordinate{a}" for a in "XYZ"]
    if set(centred) <= set(particles.columns):
        centre = np.array(geometry.shape_zyx[::-1], dtype=float) / 2.0
        xyz = particles[centred].to_numpy(dtype=float) / (geometry.voxel_size_nm * 10.0) + centre
    elif set(unbinned) <= set(particles.columns):
        xyz = particles[unbinned].to_numpy(dtype=float) / geometry.binning
    else:
        raise InputError(f"{path}: particles table has neither {', '.join(centred)} (RELION 5) "
                         f"nor {', '.join(unbinned)} (RELION 4)")
    if "rlnClassNumber" not in particles.columns:
        raise InputError(f"{path}: particles table has no rlnClassNumber (the SHREC class id)")
    names = {i: name for name, i in CLASS_ID.items()}
    classes = [names.get(int(n), str(n)) if float(n).is_integer() else str(n)
               for n in particles["rlnClassNumber"]]
    score = (particles["rlnAutopickFigureOfMerit"].to_numpy(dtype=float)
             if "rlnAutopickFigureOfMerit" in particles.columns
             else np.full(len(particles), np.nan))
    return pd.DataFrame({"class_name": classes, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                         "score": score})
