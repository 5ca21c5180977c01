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


# --------------------------------------------------------------------------- reading picks

#: Decimals (voxels) kept of coordinates read from a STAR file: the %.6f text of Å or pixels
#: carries float noise (19.9999999) that could move a pick at a tie of the scorer's rounding.
STAR_VOXEL_DECIMALS = 4


def _star_blocks(path: Path) -> dict[str, pd.DataFrame]:
    try:
        blocks = starfile.read(path, always_dict=True)
    except Exception as error:  # starfile raises many kinds on a malformed file
        raise InputError(f"{path}: not a readable STAR file ({type(error).__name__}: "
                         f"{' '.join(str(error).split())})") from None
    return {name: block for name, block in blocks.items() if isinstance(block, pd.DataFrame)}


def _star_binning(path: Path, blocks: dict[str, pd.DataFrame], particles: pd.DataFrame,
                  voxel_size_nm: float) -> np.ndarray:
    """Tilt-series pixels per voxel of each particle (RELION 4), from the optics block's
    ``rlnTomoTiltSeriesPixelSize`` of the particle's optics group."""
    optics = blocks.get("optics")
    if optics is None or "rlnTomoTiltSeriesPixelSize" not in optics.columns:
        raise InputError(f"{path}: RELION 4 coordinates (rlnCoordinateX, unbinned tilt-series "
                         "pixels) need rlnTomoTiltSeriesPixelSize in a data_optics block")
    sizes = optics["rlnTomoTiltSeriesPixelSize"].to_numpy(dtype=float)
    if "rlnOpticsGroup" in particles.columns and "rlnOpticsGroup" in optics.columns:
        by_group = dict(zip(optics["rlnOpticsGroup"].astype(int), sizes, strict=True))
        groups = particles["rlnOpticsGroup"].astype(int)
        missing = sorted(set(groups) - set(by_group))
        if missing:
            raise InputError(f"{path}: optics groups {missing} of data_particles are not in "
                             "data_optics")
        sizes = groups.map(by_group).to_numpy(dtype=float)
    elif len(sizes) != 1:
        raise InputError(f"{path}: {len(sizes)} optics groups but particles without "
                         "rlnOpticsGroup")
    if not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise InputError(f"{path}: rlnTomoTiltSeriesPixelSize must be positive")
    return voxel_size_nm * 10.0 / np.broadcast_to(sizes, (len(particles),))


def read_particle_star(path: str | os.PathLike, shape_zyx: tuple[int, int, int],
                       voxel_size_nm: float) -> pd.DataFrame:
    """Picks of one tomogram from a RELION 5 or RELION 4 particle STAR file, the inverse of
    :func:`write_particle_star`.

    RELION 5 ``rlnCenteredCoordinate{X,Y,Z}Angst`` become ``Å / (10 · voxel_size_nm) + n/2``
    (``shape_zyx``: the tomogram's shape); RELION 4 ``rlnCoordinate{X,Y,Z}`` (unbinned
    tilt-series pixels) are divided by the binning ``10 · voxel_size_nm /
    rlnTomoTiltSeriesPixelSize`` of the optics block. Classes come from ``rlnClassNumber``
    (the SHREC class id; an id outside the table reads as ``class_<id>``), scores from
    ``rlnAutopickFigureOfMerit`` (NaN when absent). Coordinates are rounded to
    ``STAR_VOXEL_DECIMALS`` decimals of a voxel.

    Returns a DataFrame ``class_name, x, y, z, score`` in file order (x fastest, 0-based voxels).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: STAR file not found")
    blocks = _star_blocks(path)
    particles = blocks.get("particles")
    if particles is None:
        tables = list(blocks.values())
        if len(tables) != 1:
            raise InputError(f"{path}: no data_particles block (blocks: "
                             f"{', '.join(blocks) or 'none'})")
        particles = tables[0]
    columns = set(particles.columns)
    centred = [f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]
    pixels = [f"rlnCoordinate{a}" for a in "XYZ"]
    if "rlnClassNumber" not in columns:
        raise InputError(f"{path}: no rlnClassNumber column (the SHREC class id of each pick)")
    if "rlnTomoName" in columns and particles["rlnTomoName"].nunique() > 1:
        names = sorted(map(str, particles["rlnTomoName"].unique()))
        raise InputError(f"{path}: picks of {len(names)} tomograms ({', '.join(names[:4])}"
                         f"{', ...' if len(names) > 4 else ''}); give one tomogram per file")
    try:
        if set(centred) <= columns:
            angstrom = particles[centred].to_numpy(dtype=float).reshape(-1, 3)
            centre = np.array(shape_zyx[::-1], dtype=float) / 2.0
            xyz = angstrom / (voxel_size_nm * 10.0) + centre
        elif set(pixels) <= columns:
            binning = _star_binning(path, blocks, particles, voxel_size_nm)
            xyz = particles[pixels].to_numpy(dtype=float).reshape(-1, 3) / binning[:, None]
        else:
            raise InputError(f"{path}: no coordinates (RELION 5 rlnCenteredCoordinate"
                             "{X,Y,Z}Angst or RELION 4 rlnCoordinate{X,Y,Z})")
        numbers = particles["rlnClassNumber"].to_numpy(dtype=float)
    except ValueError as error:
        raise InputError(f"{path}: non-numeric coordinate or class ({error})") from None
    integral = np.isfinite(numbers) & (numbers == np.round(numbers))
    bad = ~(np.all(np.isfinite(xyz), axis=1) & integral)
    if bad.any():
        raise InputError(f"{path}: particle {int(np.flatnonzero(bad)[0]) + 1} has a non-finite "
                         "coordinate or a non-integer rlnClassNumber")
    by_id = {i: name for name, i in CLASS_ID.items()}
    score = (particles["rlnAutopickFigureOfMerit"].to_numpy(dtype=float)
             if "rlnAutopickFigureOfMerit" in columns else np.full(len(particles), np.nan))
    xyz = np.round(xyz, STAR_VOXEL_DECIMALS)
    return pd.DataFrame({
        "class_name": [by_id.get(int(n), f"class_{int(n)}") for n in numbers],
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "score": score,
    })
