"""Export picks as RELION/Warp STAR files (written with ``starfile``).

Without a voxel size the file has one ``data_particles`` block (RELION 3.0/Warp style):
``rlnMicrographName``, ``rlnTomoName``, ``rlnCoordinateX/Y/Z`` (voxels of the tomogram),
``rlnClassNumber`` (SHREC class id, 0 for unknown labels), ``rlnTomoParticleName``
(``<tomogram>/<k>``) and ``rlnAutopickFigureOfMerit`` when the picks have scores.
With ``voxel_size_nm`` a ``data_optics`` block (RELION ≥ 3.1) gives ``rlnImagePixelSize`` in Å and
the particles carry ``rlnOpticsGroup``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from tomobench.atomic import atomic_path
from tomobench.classes import CLASS_ID
from tomobench.errors import InputError


def picks_to_star_blocks(
    picks: pd.DataFrame, *, tomogram_name: str, voxel_size_nm: float | None = None
) -> dict[str, pd.DataFrame]:
    """STAR data blocks of a pick list.

    Parameters
    ----------
    picks : DataFrame
        Columns ``class_name, x, y, z`` and optional ``score`` (voxels).
    tomogram_name : str
        Written to ``rlnMicrographName``/``rlnTomoName``.
    voxel_size_nm : float, optional
        Adds an optics block with the pixel size in Å.

    Returns
    -------
    dict
        ``{"particles": DataFrame}`` or ``{"optics": ..., "particles": ...}``.
    """
    upper = {name.upper(): i for name, i in CLASS_ID.items()}
    particles = pd.DataFrame({
        "rlnMicrographName": tomogram_name,
        "rlnTomoName": tomogram_name,
        "rlnCoordinateX": picks["x"].to_numpy(dtype=float),
        "rlnCoordinateY": picks["y"].to_numpy(dtype=float),
        "rlnCoordinateZ": picks["z"].to_numpy(dtype=float),
        "rlnClassNumber": [upper.get(str(n).upper(), 0) for n in picks["class_name"]],
        "rlnTomoParticleName": [f"{tomogram_name}/{k}" for k in range(1, len(picks) + 1)],
    })
    if "score" in picks.columns and picks["score"].notna().any():
        particles["rlnAutopickFigureOfMerit"] = picks["score"].to_numpy(dtype=float)
    if voxel_size_nm is None:
        return {"particles": particles}
    if not np.isfinite(voxel_size_nm) or voxel_size_nm <= 0:
        raise InputError(f"voxel size must be a positive number of nm, got {voxel_size_nm}")
    particles["rlnOpticsGroup"] = 1
    optics = pd.DataFrame({
        "rlnOpticsGroup": [1],
        "rlnOpticsGroupName": ["opticsGroup1"],
        "rlnImagePixelSize": [float(voxel_size_nm) * 10.0],
        "rlnImageDimensionality": [3],
    })
    return {"optics": optics, "particles": particles}


def write_star(
    path: str | os.PathLike,
    picks: pd.DataFrame,
    *,
    tomogram_name: str,
    voxel_size_nm: float | None = None,
) -> None:
    """Write picks as a STAR file, atomically (see :func:`picks_to_star_blocks`)."""
    path = Path(path)
    blocks = picks_to_star_blocks(picks, tomogram_name=tomogram_name, voxel_size_nm=voxel_size_nm)
    with atomic_path(path) as tmp:
        starfile.write(blocks, tmp.with_suffix(".star"), float_format="%.3f", na_rep="nan")
        text = tmp.with_suffix(".star").read_text().splitlines(keepends=True)
        tmp.with_suffix(".star").unlink()
        # starfile stamps the time on its first line; drop it so the output is reproducible.
        if text and text[0].startswith("# Created by the starfile"):
            text[0] = "# Created by tomobench\n"
        tmp.write_text("".join(text))
