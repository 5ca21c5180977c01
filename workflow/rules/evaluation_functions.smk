# Input/param functions of evaluation.smk (kept apart from the rules, as snakemake --lint asks).
def evaluation_outputs(name):
    """Evaluation JSONs of every configured method on every test tomogram of run ``name``."""
    return expand(
        "results/{name}/evaluation/{method}/model_{i}.json",
        name=name,
        method=list(METHODS),
        i=TEST_IDS,
    )


def evaluation_params(wildcards):
    """Scoring settings (the evaluation config block plus the run's gold bead radius)."""
    gold_diameter_nm = config["potential"]["gold_diameter_nm"]
    return {
        **config["evaluation"],
        "fiducial_radius_nm": (gold_diameter_nm[0] + gold_diameter_nm[1]) / 4.0,
    }
