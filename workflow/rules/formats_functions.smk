# Input/param functions of formats.smk (kept apart from the rules, as snakemake --lint asks).
from tomobench.evaluation.czii import PARTICLE_RADIUS_NM as CZII_RADII_NM

#: The files of a tomogram folder that the copick export reads.
COPICK_DATA_FILES = (
    "reconstruction.mrc",
    "particle_locations.txt",
    "class_mask.mrc",
    "occupancy_mask.mrc",
)


def copick_picks(wildcards):
    """{method: [picks of each test tomogram]} exported to copick."""
    return {
        method: [
            f"results/{wildcards.name}/picks/{method}/model_{i}.txt" for i in TEST_IDS
        ]
        for method in METHODS
    }


def copick_inputs(wildcards):
    """Every tomogram folder's files (reconstructions listed apart) and every method's picks."""
    folders = [f"results/{wildcards.name}/data/model_{i}" for i in TOMOGRAM_IDS]
    return {
        "reconstructions": [f"{folder}/reconstruction.mrc" for folder in folders],
        "truth": [
            f"{folder}/{name}"
            for folder in folders
            for name in COPICK_DATA_FILES
            if name != "reconstruction.mrc"
        ],
        "picks": [path for paths in copick_picks(wildcards).values() for path in paths],
    }
