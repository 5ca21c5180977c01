# ---------------------------------------------------------------------------------------------
# SHREC 2021 scoring of every method's picks on every test tomogram (tomobench.evaluation).
# evaluation.mode: published (the organisers' numbers) | corrected; the CZII metric is reported
# beside them. One job per (method, tomogram); the paper rules read the JSONs.
# ---------------------------------------------------------------------------------------------


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


rule evaluate:
    input:
        occupancy="results/{name}/data/model_{i}/occupancy_mask.mrc",
        locations="results/{name}/data/model_{i}/particle_locations.txt",
        picks="results/{name}/picks/{method}/model_{i}.txt",
        code=code("evaluate.py"),
    output:
        json="results/{name}/evaluation/{method}/model_{i}.json",
        text="results/{name}/evaluation/{method}/model_{i}.txt",
        confusion="results/{name}/evaluation/{method}/model_{i}_confusion.csv",
    log:
        "results/{name}/logs/evaluate/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/evaluate/{method}_model_{i}.tsv"
    params:
        evaluation=evaluation_params,
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/evaluate.py"
