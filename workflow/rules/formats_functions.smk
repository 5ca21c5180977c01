# Input/param functions of formats.smk (kept apart from the rules, as snakemake --lint asks).
from tomobench.evaluation.czii import PARTICLE_RADIUS_NM as CZII_RADII_NM
from tomobench.formats.copick_project import COPICK_FILES


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
    return {
        "reconstructions": model_files(
            ["reconstruction"], TOMOGRAM_IDS, wildcards.name
        ),
        "truth": model_files(
            [key for key in COPICK_FILES if key != "reconstruction"],
            TOMOGRAM_IDS,
            wildcards.name,
        ),
        "picks": [path for paths in copick_picks(wildcards).values() for path in paths],
    }
