"""Table 1 of the SHREC 2021 paper (Gubins et al. 2021), typed in from the publication."""

from __future__ import annotations

#: columns of Table 1 (units in the names)
TABLE1_COLUMNS = (
    "molecular_weight_kda",
    "volume_nm3",
    "area_nm2",
    "sphericity",
    "effective_radius_nm",
)

#: PDB id -> (name, molecular weight kDa, volume nm³, area nm², sphericity, eff. radius nm)
TABLE1 = {
    "1S3X": ("Hsp70 ATPase", 42.75, 90.82, 109.8, 0.89, 2.481),
    "3QM1": ("LJ0536 S106A", 62.62, 127.9, 137.6, 0.892, 2.789),
    "3GL1": ("Ssb1, Hsp70", 84.61, 196.5, 191.2, 0.855, 3.083),
    "3H84": ("GET3", 158.08, 347.0, 370.9, 0.644, 2.807),
    "2CG9": ("Hsp90-Sba1", 188.73, 401.2, 358.4, 0.734, 3.358),
    "3D2F": ("Sse1p, Hsp70", 236.11, 516.0, 459.6, 0.677, 3.368),
    "1U6G": ("Cand1-Cul1-Roc1", 238.82, 499.3, 450.2, 0.676, 3.327),
    "3CF3": ("P97/vcp", 541.74, 1136.0, 745.2, 0.707, 4.573),
    "1BXN": ("Rubisco", 559.96, 1021.0, 583.4, 0.84, 5.25),
    "1QVR": ("ClpB", 593.36, 1354.0, 1063.0, 0.557, 3.821),
    "4CR2": ("26S proteasome", 1309.28, 2675.0, 1846.0, 0.505, 4.347),
    "5MRC": ("Yeast mito ribosome", 3325.59, 6372.0, 3161.0, 0.526, 6.047),
}


def paper_row(pdb_id: str) -> dict:
    """The paper's Table 1 row of ``pdb_id`` as a dict (``name`` + ``TABLE1_COLUMNS``)."""
    name, *values = TABLE1[pdb_id.upper()]
    return {"name": name, **dict(zip(TABLE1_COLUMNS, values, strict=True))}
