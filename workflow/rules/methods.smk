# ---------------------------------------------------------------------------------------------
# Learning-based pickers (train_learning -> pick_learning); package tomobench.methods.learning.
# Training and picking are separate rules: each gets only its own sub-dict of the method's
# config (methods.<M>.training / methods.<M>.inference), so changing an inference parameter
# re-picks without retraining. A new learning kind registers itself in the package and is
# added to LEARNING_KINDS.
# ---------------------------------------------------------------------------------------------
LEARNING_KINDS = ("deepfinder", "mc_ds_net")
LEARNING_FILES = {
    "reconstruction": "reconstruction.mrc",
    "class_mask": "class_mask.mrc",
    "occupancy_mask": "occupancy_mask.mrc",
    "grandmodel": "grandmodel.mrc",
    "particle_locations": "particle_locations.txt",
}


rule train_learning:
    input:
        **{
            key: expand(
                "results/{{name}}/data/model_{i}/{file}",
                i=TRAINING_IDS + VALIDATION_IDS,
                file=file_name,
            )
            for key, file_name in LEARNING_FILES.items()
        },
        code=code("train_learning.py"),
    output:
        checkpoint="results/{name}/models/{method}/checkpoint.pt",
        report="results/{name}/models/{method}/training.json",
    log:
        "results/{name}/logs/train_learning/{method}.log",
    benchmark:
        "results/{name}/benchmarks/train_learning/{method}.tsv"
    wildcard_constraints:
        method=methods_regex(*LEARNING_KINDS),
    params:
        kind=lambda wildcards: METHODS[wildcards.method]["kind"],
        training=lambda wildcards: dict(METHODS[wildcards.method].get("training") or {}),
        seed=SEED,
        device=DEVICE,
        training_ids=TRAINING_IDS,
        validation_ids=VALIDATION_IDS,
    threads: 2
    resources:
        mem_mb=4000,
        gpu=1,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/train_learning.py"


rule pick_learning:
    input:
        checkpoint="results/{name}/models/{method}/checkpoint.pt",
        reconstruction="results/{name}/data/model_{i}/reconstruction.mrc",
        code=code("pick_learning.py"),
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/pick_learning/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_learning/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex(*LEARNING_KINDS),
    params:
        kind=lambda wildcards: METHODS[wildcards.method]["kind"],
        inference=lambda wildcards: dict(METHODS[wildcards.method].get("inference") or {}),
        device=DEVICE,
    threads: 2
    resources:
        mem_mb=4000,
        gpu=1,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/pick_learning.py"
