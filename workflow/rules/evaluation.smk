# ---------------------------------------------------------------------------------------------
# SHREC 2021 scoring of every method's picks on every test tomogram (tomobench.evaluation).
# evaluation.mode: published (the organisers' numbers) | corrected; the CZII metric and 95 %
# bootstrap intervals are reported beside them. One job per (method, tomogram); the paper rules
# read the JSONs. Two controls are scored like methods: oracle (the ground truth as picks; its
# evaluation fails unless it is perfect) and random (chance level).
# ---------------------------------------------------------------------------------------------


include: "evaluation_functions.smk"


rule pick_control:
    input:
        locations=model_file("particle_locations"),
        occupancy=model_file("occupancy_mask"),
        scene=model_file("scene_parameters"),
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/pick_control/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_control/{method}_model_{i}.tsv"
    wildcard_constraints:
        method="|".join(CONTROLS),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("pick_control.py"),
        seed=SEED,
    script:
        "../scripts/pick_control.py"


rule evaluate_picks:
    input:
        occupancy=model_file("occupancy_mask"),
        locations=model_file("particle_locations"),
        picks="results/{name}/picks/{method}/model_{i}.txt",
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
        code=code("evaluate.py"),
        evaluation=evaluation_params,
    script:
        "../scripts/evaluate.py"
