# ---------------------------------------------------------------------------------------------
# SHREC 2021 scoring of every method's picks on every test tomogram (tomobench.evaluation).
# evaluation.mode: published (the organisers' numbers) | corrected; the CZII metric is reported
# beside them. One job per (method, tomogram); the paper rules read the JSONs.
# ---------------------------------------------------------------------------------------------


include: "evaluation_functions.smk"


rule evaluate_picks:
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
        "results/{name}/logs/evaluate_picks/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/evaluate_picks/{method}_model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        evaluation=evaluation_params,
    script:
        "../scripts/evaluate.py"
