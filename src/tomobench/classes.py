"""The SHREC 2021 class table: one record per particle type, read by every module.

Each :class:`ShrecClass` holds the fixed id, the SHREC name, and for the proteins the row of
Table 1 of the paper (Gubins et al. 2021: name, molecular weight, volume, area, sphericity,
effective radius) and the per-class pick counts §3.7 reports for TM and TM-F; what follows from
those numbers (sphere radius, size group, plotting order, TM-F filtering order) is derived here,
never typed again — as copick's ``PickableObject`` is the single description of a particle type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Table 5 of the paper: size groups by molecular weight, ``[low, high)`` kDa.
SIZE_GROUP_BOUNDS_KDA: dict[str, tuple[float, float]] = {
    "small": (0.0, 200.0),
    "medium": (200.0, 600.0),
    "large": (600.0, math.inf),
}


@dataclass(frozen=True)
class ShrecClass:
    """One SHREC 2021 particle type.

    Attributes
    ----------
    id : class id in ``class_mask.mrc`` and in the official evaluation script.
    name : the SHREC name (upper-case PDB id, or ``vesicle``/``fiducial``/``background``).
    kind : ``background``, ``protein``, ``vesicle`` or ``fiducial``.
    scored : whether the paper's evaluation scores it (4V94 was broken and excluded, vesicles
        are never scored).
    description : the paper's Table 1 name of a protein.
    molecular_weight_kda, volume_nm3, area_nm2, sphericity, effective_radius_nm : the paper's
        Table 1 row (volume of the density thresholded at 0.5; ``effective_radius = 3V/A``).
    paper_tm_picks, paper_tm_f_picks : particles of the class that the paper's TM and TM-F
        kept on the test tomogram (§3.7: "This resulted in 9 fiducials and 122, 107, ... particles
        of each class ..., from largest to smallest"; largest = heaviest, Table 1's order).
    """

    id: int
    name: str
    kind: str = "protein"
    scored: bool = True
    description: str = ""
    molecular_weight_kda: float | None = None
    volume_nm3: float | None = None
    area_nm2: float | None = None
    sphericity: float | None = None
    effective_radius_nm: float | None = None
    paper_tm_picks: int | None = None
    paper_tm_f_picks: int | None = None

    @property
    def sphere_radius_nm(self) -> float | None:
        """Radius of the sphere with the paper's volume, ``(3V / 4π)^(1/3)`` (None without)."""
        if self.volume_nm3 is None:
            return None
        return volume_equivalent_radius_nm(self.volume_nm3)

    @property
    def tm_f_retention(self) -> float | None:
        """Fraction of the paper's TM picks its TM-F overlap filter kept (None without counts)."""
        if not self.paper_tm_picks:
            return None
        return self.paper_tm_f_picks / self.paper_tm_picks

    @property
    def size_group(self) -> str | None:
        """Table 5 size group of the molecular weight (None without one)."""
        if self.molecular_weight_kda is None:
            return None
        return next(group for group, (low, high) in SIZE_GROUP_BOUNDS_KDA.items()
                    if low <= self.molecular_weight_kda < high)

    def table1_row(self) -> dict:
        """The paper's Table 1 row: ``name`` (the description) and ``TABLE1_COLUMNS``."""
        if self.volume_nm3 is None:
            raise KeyError(f"class {self.name!r} has no row in the paper's Table 1")
        return {"name": self.description, **{c: getattr(self, c) for c in TABLE1_COLUMNS}}


def volume_equivalent_radius_nm(volume_nm3: float) -> float:
    """Radius (nm) of the sphere with volume ``volume_nm3``."""
    return (3.0 * volume_nm3 / (4.0 * math.pi)) ** (1.0 / 3.0)


def _protein(id_, name, description, weight, volume, area, sphericity, radius, tm, tm_f):
    return ShrecClass(id_, name, description=description, molecular_weight_kda=weight,
                      volume_nm3=volume, area_nm2=area, sphericity=sphericity,
                      effective_radius_nm=radius, paper_tm_picks=tm, paper_tm_f_picks=tm_f)


#: Index = class id. Numbers: Table 1 of the paper (MW kDa, V nm³, A nm², Ψ, r_eff nm), then
#: the TM and TM-F picks of §3.7.
CLASSES: tuple[ShrecClass, ...] = (
    ShrecClass(0, "background", kind="background", scored=False),
    ShrecClass(1, "4V94", scored=False),
    _protein(2, "4CR2", "26S proteasome", 1309.28, 2675.0, 1846.0, 0.505, 4.347, 107, 81),
    _protein(3, "1QVR", "ClpB", 593.36, 1354.0, 1063.0, 0.557, 3.821, 318, 79),
    _protein(4, "1BXN", "Rubisco", 559.96, 1021.0, 583.4, 0.84, 5.25, 314, 127),
    _protein(5, "3CF3", "P97/vcp", 541.74, 1136.0, 745.2, 0.707, 4.573, 924, 624),
    _protein(6, "1U6G", "Cand1-Cul1-Roc1", 238.82, 499.3, 450.2, 0.676, 3.327, 708, 212),
    _protein(7, "3D2F", "Sse1p, Hsp70", 236.11, 516.0, 459.6, 0.677, 3.368, 211, 37),
    _protein(8, "2CG9", "Hsp90-Sba1", 188.73, 401.2, 358.4, 0.734, 3.358, 329, 71),
    _protein(9, "3H84", "GET3", 158.08, 347.0, 370.9, 0.644, 2.807, 127, 125),
    _protein(10, "3GL1", "Ssb1, Hsp70", 84.61, 196.5, 191.2, 0.855, 3.083, 399, 85),
    _protein(11, "3QM1", "LJ0536 S106A", 62.62, 127.9, 137.6, 0.892, 2.789, 149, 32),
    _protein(12, "1S3X", "Hsp70 ATPase", 42.75, 90.82, 109.8, 0.89, 2.481, 301, 65),
    _protein(13, "5MRC", "Yeast mito ribosome", 3325.59, 6372.0, 3161.0, 0.526, 6.047, 122, 122),
    ShrecClass(14, "vesicle", kind="vesicle", scored=False),
    ShrecClass(15, "fiducial", kind="fiducial"),
)

#: Columns of the paper's Table 1 (units in the names).
TABLE1_COLUMNS = ("molecular_weight_kda", "volume_nm3", "area_nm2", "sphericity",
                  "effective_radius_nm")

SHREC_CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
CLASS_ID: dict[str, int] = {c.name: c.id for c in CLASSES}
BY_NAME: dict[str, ShrecClass] = {c.name: c for c in CLASSES}

PROTEIN_CLASSES: tuple[str, ...] = tuple(c.name for c in CLASSES if c.kind == "protein")
#: The twelve proteins the SHREC 2021 paper scores.
SCORED_PROTEINS: tuple[str, ...] = tuple(c for c in PROTEIN_CLASSES if BY_NAME[c].scored)
#: Classes the evaluation scores: the twelve proteins and the fiducials.
SCORED_CLASSES: tuple[str, ...] = tuple(c.name for c in CLASSES if c.scored)
#: Particle classes present in a tomogram but never scored (4V94, vesicle).
EXCLUDED_CLASSES: tuple[str, ...] = tuple(c.name for c in CLASSES
                                          if c.kind != "background" and not c.scored)
#: Proteins with a Table 1 row, by name.
TABLE1: dict[str, ShrecClass] = {c.name: c for c in CLASSES if c.volume_nm3 is not None}
#: Smallest to largest molecular weight: the paper's plotting order.
SIZE_ORDER: tuple[str, ...] = tuple(sorted(TABLE1, key=lambda n: TABLE1[n].molecular_weight_kda))
#: Table 4's columns: the proteins by molecular weight, then the gold fiducials.
TABLE4_CLASSES: tuple[str, ...] = (*SIZE_ORDER, "fiducial")
#: Table 5 of the paper: size group -> its proteins, light to heavy.
SIZE_GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(n for n in SIZE_ORDER if TABLE1[n].size_group == group)
    for group in SIZE_GROUP_BOUNDS_KDA
}
#: The paper's TM-F fiducials (§3.7: "9 fiducials"), identical in TM.
PAPER_TM_FIDUCIALS = 9
#: Default class order of the TM-F overlap filter (fiducials go before all of them). §3.7 says
#: only "The candidates for round and symmetrical particles were filtered before asymmetrical
#: and elongated particles"; its counts say which classes those were: a class filtered early
#: loses few candidates (the first one, none), a late one loses most, because the candidates of
#: every class sit on the same particles. So: decreasing fraction of TM picks that TM-F kept
#: (5MRC 1.00, 3H84 0.98, 4CR2 0.76, 3CF3 0.68, 1BXN 0.40, then 0.30-0.18 for the rest, whose
#: order the counts barely fix), 4V94 (not searched by the paper) last.
TM_F_ORDER: tuple[str, ...] = (
    *sorted((n for n, c in TABLE1.items() if c.tm_f_retention is not None),
            key=lambda n: -TABLE1[n].tm_f_retention),
    "4V94",
)
#: Radius (nm) of the sphere with the paper's volume, per protein of Table 1.
SPHERE_RADIUS_NM: dict[str, float] = {n: c.sphere_radius_nm for n, c in TABLE1.items()}


def size_group_label(group: str) -> str:
    """The paper's weight label of a size group (``<200``, ``200-600``, ``600+``)."""
    low, high = SIZE_GROUP_BOUNDS_KDA[group]
    if low == 0:
        return f"<{high:.0f}"
    return f"{low:.0f}+" if math.isinf(high) else f"{low:.0f}-{high:.0f}"


def class_id(name: str) -> int:
    """Return the SHREC class id of ``name`` (exact, case-sensitive as in the dataset)."""
    try:
        return CLASS_ID[name]
    except KeyError:
        known = ", ".join(SHREC_CLASS_NAMES)
        raise KeyError(f"unknown SHREC class {name!r}; known: {known}") from None
