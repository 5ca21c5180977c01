"""The SHREC 2021 class table: fixed ids, names, size groups and published molecular weights."""

from __future__ import annotations

# Index = class id in class_mask.mrc and in the official evaluation script.
SHREC_CLASS_NAMES: tuple[str, ...] = (
    "background",
    "4V94",
    "4CR2",
    "1QVR",
    "1BXN",
    "3CF3",
    "1U6G",
    "3D2F",
    "2CG9",
    "3H84",
    "3GL1",
    "3QM1",
    "1S3X",
    "5MRC",
    "vesicle",
    "fiducial",
)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(SHREC_CLASS_NAMES)}

PROTEIN_CLASSES: tuple[str, ...] = SHREC_CLASS_NAMES[1:14]
#: The twelve proteins the SHREC 2021 paper scores (4V94 was broken and excluded).
SCORED_PROTEINS: tuple[str, ...] = tuple(c for c in PROTEIN_CLASSES if c != "4V94")
#: Smallest to largest molecular weight: the paper's plotting order.
SIZE_ORDER: tuple[str, ...] = (
    "1S3X", "3QM1", "3GL1", "3H84", "2CG9", "3D2F", "1U6G", "3CF3", "1BXN", "1QVR", "4CR2", "5MRC",
)
#: Table 5 of the paper: size groups by molecular weight (kDa).
SIZE_GROUPS: dict[str, tuple[str, ...]] = {
    "small": ("1S3X", "3QM1", "3GL1", "3H84", "2CG9"),
    "medium": ("3D2F", "1U6G", "3CF3", "1BXN", "1QVR"),
    "large": ("4CR2", "5MRC"),
}


def class_id(name: str) -> int:
    """Return the SHREC class id of ``name`` (exact, case-sensitive as in the dataset)."""
    try:
        return CLASS_ID[name]
    except KeyError:
        known = ", ".join(SHREC_CLASS_NAMES)
        raise KeyError(f"unknown SHREC class {name!r}; known: {known}") from None
