"""Where a structure comes from: local folder, download cache, or the RCSB (downloaded once).

Resolution order for a PDB id (case-insensitive):

1. the local folder (config ``structures.local_dir``, overridden by the environment variable
   ``TOMOBENCH_STRUCTURES``): ``atomic/<id>.pdb`` / ``atomic/<id>.cif`` (also ``.ent``, ``.mmcif``,
   gzipped) and ``maps_*/<id>.mrc``; ``prefer`` (``atomic`` | ``map``) picks the kind when both
   exist, and among map folders the finest voxel size wins;
2. the download cache ``<cache_dir>/<ID>.cif`` (ID upper case), produced by ``fetch_structure``.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import gemmi

from tomobench.atomic import write_text_atomic
from tomobench.errors import InputError

logger = logging.getLogger(__name__)

RCSB_URL = "https://files.rcsb.org/download/{pdb_id}.cif"
ENV_LOCAL_DIR = "TOMOBENCH_STRUCTURES"
ATOMIC_SUFFIXES = (".cif", ".pdb", ".ent", ".mmcif", ".cif.gz", ".pdb.gz", ".ent.gz")
PREFER_CHOICES = ("atomic", "map")
_PDB_ID = re.compile(r"^[0-9][A-Za-z0-9]{3}$")
_MAP_FOLDER = re.compile(r"^maps_(?P<value>[0-9]+(?:\.[0-9]+)?)(?P<unit>A|nm)?$", re.IGNORECASE)


def check_pdb_id(pdb_id: str) -> str:
    """Return ``pdb_id`` upper case, or raise ``InputError`` when it is not a 4-character id."""
    if not isinstance(pdb_id, str) or not _PDB_ID.match(pdb_id):
        raise InputError(f"structures.classes: {pdb_id!r} is not a 4-character PDB id")
    return pdb_id.upper()


def effective_local_dir(local_dir: str | os.PathLike | None) -> Path | None:
    """The local structure folder: ``$TOMOBENCH_STRUCTURES`` if set, else ``local_dir``."""
    env = os.environ.get(ENV_LOCAL_DIR)
    if env:
        return Path(env)
    return Path(local_dir) if local_dir else None


def _find_ci(folder: Path, names: list[str]) -> Path | None:
    """First file in ``folder`` whose name equals one of ``names`` ignoring case."""
    if not folder.is_dir():
        return None
    by_lower = {p.name.lower(): p for p in sorted(folder.iterdir()) if p.is_file()}
    for name in names:
        if name.lower() in by_lower:
            return by_lower[name.lower()]
    return None


def map_folder_voxel_size_angstrom(folder: Path) -> float:
    """Voxel size in Å encoded in a ``maps_<n>A`` / ``maps_<n>nm`` folder name (inf if none)."""
    match = _MAP_FOLDER.match(folder.name)
    if not match:
        return float("inf")
    value = float(match["value"])
    return value * 10.0 if (match["unit"] or "A").lower() == "nm" else value


def find_local_atomic(pdb_id: str, local_dir: Path) -> Path | None:
    """``atomic/<id>.{cif,pdb,...}`` in ``local_dir`` (mmCIF first), or None."""
    return _find_ci(local_dir / "atomic", [pdb_id + s for s in ATOMIC_SUFFIXES])


def find_local_map(pdb_id: str, local_dir: Path) -> Path | None:
    """``maps_*/<id>.mrc`` in ``local_dir`` with the finest voxel size, or None."""
    if not local_dir.is_dir():
        return None
    folders = [p for p in local_dir.iterdir() if p.is_dir() and p.name.lower().startswith("maps")]
    folders.sort(key=lambda p: (map_folder_voxel_size_angstrom(p), p.name))
    for folder in folders:
        found = _find_ci(folder, [pdb_id + ".mrc", pdb_id + ".map"])
        if found is not None:
            return found
    return None


def cache_path(pdb_id: str, cache_dir: str | os.PathLike) -> Path:
    """The download-cache path ``<cache_dir>/<ID>.cif``."""
    return Path(cache_dir) / f"{check_pdb_id(pdb_id)}.cif"


def resolve_structure_source(
    pdb_id: str, local_dir: str | None, cache_dir: str, prefer: str
) -> Path:
    """Return the structure file to use for ``pdb_id``.

    The local file when the local folder (``$TOMOBENCH_STRUCTURES`` overrides ``local_dir``)
    has one (``prefer`` = ``atomic`` | ``map`` decides when it has both), else the cache path
    ``<cache_dir>/<ID>.cif`` (which may not exist yet: the ``fetch_structure`` rule downloads it).
    """
    pdb_upper = check_pdb_id(pdb_id)
    if prefer not in PREFER_CHOICES:
        raise InputError(f"structures.prefer: must be one of {PREFER_CHOICES}, got {prefer!r}")
    folder = effective_local_dir(local_dir)
    if folder is not None and folder.is_dir():
        atomic = find_local_atomic(pdb_upper, folder)
        density = find_local_map(pdb_upper, folder)
        ordered = (atomic, density) if prefer == "atomic" else (density, atomic)
        for candidate in ordered:
            if candidate is not None:
                return candidate
    return cache_path(pdb_upper, cache_dir)


def source_kind(path: str | os.PathLike) -> str:
    """``map`` for density maps (``.mrc``/``.map``), ``atomic`` otherwise."""
    return "map" if Path(path).suffix.lower() in (".mrc", ".map") else "atomic"


def check_mmcif_text(text: str, origin: str) -> None:
    """Raise ``InputError`` unless ``text`` is a complete mmCIF file with atom sites."""
    if not text.lstrip().startswith("data_"):
        raise InputError(f"{origin}: not an mmCIF file (no leading data_ block)")
    try:
        block = gemmi.cif.read_string(text).sole_block()
    except (RuntimeError, ValueError) as error:
        raise InputError(f"{origin}: malformed mmCIF ({error})") from error
    if len(block.find_values("_atom_site.Cartn_x")) == 0:
        raise InputError(f"{origin}: mmCIF has no _atom_site coordinates (truncated?)")


def download_structure(
    pdb_id: str,
    destination: str | os.PathLike,
    *,
    url_template: str = RCSB_URL,
    timeout_s: float = 60.0,
    opener=urllib.request.urlopen,
) -> Path:
    """Download the mmCIF of ``pdb_id`` to ``destination`` (atomic write, content-checked).

    An existing destination that passes the content check is kept (the cache).
    Network failure raises ``InputError`` with one line saying how to use a local folder.
    """
    pdb_upper = check_pdb_id(pdb_id)
    destination = Path(destination)
    if destination.is_file():
        try:
            check_mmcif_text(destination.read_text(errors="replace"), str(destination))
            return destination
        except InputError:
            logger.warning(
                "%s: cached file fails the content check, downloading again", destination
            )
    url = url_template.format(pdb_id=pdb_upper)
    try:
        with opener(url, timeout=timeout_s) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise InputError(
            f"{destination}: cannot download {pdb_upper} from {url} ({error}); offline, put "
            f"atomic/{pdb_upper.lower()}.pdb|cif or maps_*/{pdb_upper.lower()}.mrc in a folder "
            f"and point config structures.local_dir or env {ENV_LOCAL_DIR} at it"
        ) from None
    if payload[:2] == b"\x1f\x8b":
        payload = gzip.decompress(payload)
    text = payload.decode("utf-8", errors="replace")
    check_mmcif_text(text, f"{url} (for {destination})")
    write_text_atomic(destination, text)
    return destination
