# Input functions and derived values of workflow/rules/structures.smk (kept apart from the
# rules, as the linter asks). Included by structures.smk.
import os

#: download-cache file of one structure, produced by rule fetch_structure
STRUCTURE_CACHE_PATTERN = os.path.join(
    config["structures"]["cache_dir"], "{pdb_id}.cif"
)


def _potential_options():
    p = config["potential"]
    return {
        "voxel_size_nm": SIMULATION_VOXEL_NM,
        "oversampling": int(p["oversampling"]),
        "binning_method": p["binning_method"],
        "solvent_exclusion": p["solvent_exclusion"],
        "absorption": bool(p["absorption"]),
        "implicit_hydrogens": bool(p["implicit_hydrogens"]),
        "voltage_kv": float(config["microscope"]["voltage_kv"]),
        "assembly": config["structures"]["assembly"],
    }


def _all_structure_sources(wildcards):
    return [structure_source(type("W", (), {"pdb_id": pdb})) for pdb in PROTEIN_CLASSES]


def structure_outputs(name):
    """Every potential file and the Table 1 files of run ``name`` (none for a copick project's
    own classes: nothing is simulated and no template is built)."""
    if PROJECT_OBJECTS:
        return []
    maps = potential_paths(name)
    metadata = [path.replace(".mrc", ".json") for path in maps["proteins"]]
    tables = [
        f"results/{name}/paper/table1_structures.{ext}" for ext in ("csv", "md", "tex")
    ]
    return [path for paths in maps.values() for path in paths] + metadata + tables
