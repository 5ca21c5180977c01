# Input/param functions of evaluation.smk (kept apart from the rules, as snakemake --lint asks).
def evaluation_outputs(name):
    """Evaluation files (JSON, text report, confusion CSV) of every configured method and
    control on every test tomogram of run ``name`` (all three, so a deleted one is rebuilt).
    """
    return expand(
        "results/{name}/evaluation/{method}/model_{i}{suffix}",
        name=name,
        method=list(METHODS) + CONTROLS,
        i=TEST_IDS,
        suffix=(".json", ".txt", "_confusion.csv"),
    )


def evaluation_params(wildcards):
    """Scoring settings (the evaluation config block, the run's gold bead radius and seed)."""
    gold_diameter_nm = config["potential"]["gold_diameter_nm"]
    params = {
        **config["evaluation"],
        "fiducial_radius_nm": (gold_diameter_nm[0] + gold_diameter_nm[1]) / 4.0,
        "seed": SEED,
    }
    if DATASET_SOURCE == "copick":
        params["radii_nm"] = COPICK_RADII_NM
    if PROJECT_OBJECTS:  # a copick project's own classes (tomobench.project_classes)
        params["class_table"] = list(project_class_table(PROJECT_OBJECTS))
        params["czii_weights"] = project_czii_weights(PROJECT_OBJECTS)
    return params
