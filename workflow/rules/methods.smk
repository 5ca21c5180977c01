# ---------------------------------------------------------------------------------------------
# Reference-free and template-matching pickers; packages tomobench.methods.dog,
# tomobench.methods.template_matching, tomobench.methods.log_fiducials.
# match_templates searches one class (one rotation chunk) in one tomogram with the shared
# template_matching config section only, so TM and TM-F reuse it and changing an extraction
# parameter of a method (methods.<M>) re-runs pick_template_matching alone.
# ---------------------------------------------------------------------------------------------
include: "methods_functions.smk"


TM_CHUNKS = list(range(config["template_matching"]["rotation_chunks"]))


rule calibrate_dog:
    input:
        reconstructions=expand(
            "results/{{name}}/data/model_{i}/reconstruction.mrc",
            i=TRAINING_IDS + VALIDATION_IDS,
        ),
        locations=expand(
            "results/{{name}}/data/model_{i}/particle_locations.txt",
            i=TRAINING_IDS + VALIDATION_IDS,
        ),
        occupancies=expand(
            "results/{{name}}/data/model_{i}/occupancy_mask.mrc",
            i=TRAINING_IDS + VALIDATION_IDS,
        ),
    output:
        "results/{name}/models/{method}/dog_calibration.json",
    log:
        "results/{name}/logs/calibrate_dog/{method}.log",
    benchmark:
        "results/{name}/benchmarks/calibrate_dog/{method}.tsv"
    wildcard_constraints:
        method=methods_regex("dog"),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=dog_calibration_mem_mb,
    params:
        code=code("calibrate_dog.py"),
        method=method_params,
        classes=PROTEIN_CLASSES,
    script:
        "../scripts/calibrate_dog.py"


rule pick_dog:
    input:
        unpack(dog_calibration),
        tomogram="results/{name}/data/model_{i}/reconstruction.mrc",
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/pick_dog/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_dog/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex("dog"),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("pick_dog.py"),
        method=method_params,
        classes=PROTEIN_CLASSES,
    script:
        "../scripts/pick_dog.py"


rule match_templates:
    input:
        tomogram="results/{name}/data/model_{i}/reconstruction.mrc",
        acquisition="results/{name}/data/model_{i}/acquisition_parameters.json",
        potential="results/{name}/potentials/{pdb_id}.mrc",
    output:
        scores="results/{name}/template_matching/model_{i}/{pdb_id}_chunk{chunk}_scores.mrc",
        angles="results/{name}/template_matching/model_{i}/{pdb_id}_chunk{chunk}_angles.mrc",
        search="results/{name}/template_matching/model_{i}/{pdb_id}_chunk{chunk}.json",
    log:
        "results/{name}/logs/match_templates/model_{i}_{pdb_id}_chunk{chunk}.log",
    benchmark:
        "results/{name}/benchmarks/match_templates/model_{i}_{pdb_id}_chunk{chunk}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../../envs/tomobench.yaml"
    # Small FFTs gain nothing from a second thread: classes run side by side instead.
    threads: 1
    resources:
        mem_mb=template_matching_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("match_templates.py"),
        settings=config["template_matching"],
        class_name=lambda wildcards: wildcards.pdb_id,
        chunk=lambda wildcards: int(wildcards.chunk),
        device=DEVICE,
        fallback={
            "voltage_kv": config["microscope"]["voltage_kv"],
            "spherical_aberration_mm": config["microscope"]["spherical_aberration_mm"],
            "tilt_range_deg": config["tilt_series"]["tilt_range_deg"],
        },
    script:
        "../scripts/match_templates.py"


rule pick_template_matching:
    input:
        tomogram="results/{name}/data/model_{i}/reconstruction.mrc",
        # every class and rotation chunk of tomogram {i}, class-major
        searches=expand(
            "results/{{name}}/template_matching/model_{{i}}/{pdb_id}_chunk{chunk}.json",
            pdb_id=PROTEIN_CLASSES,
            chunk=TM_CHUNKS,
        ),
        scores=expand(
            "results/{{name}}/template_matching/model_{{i}}/{pdb_id}_chunk{chunk}_scores.mrc",
            pdb_id=PROTEIN_CLASSES,
            chunk=TM_CHUNKS,
        ),
        angles=expand(
            "results/{{name}}/template_matching/model_{{i}}/{pdb_id}_chunk{chunk}_angles.mrc",
            pdb_id=PROTEIN_CLASSES,
            chunk=TM_CHUNKS,
        ),
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/pick_template_matching/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_template_matching/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex("tm", "tm_f"),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tm_picks_mem_mb,
    params:
        code=code("pick_template_matching.py"),
        method=method_params,
        classes=PROTEIN_CLASSES,
        rotation_chunks=len(TM_CHUNKS),
    script:
        "../scripts/pick_template_matching.py"


# ---------------------------------------------------------------------------------------------
# Learning-based pickers (train_learning -> pick_learning); package tomobench.methods.learning.
# Training and picking are separate rules: each gets only its own sub-dict of the method's
# config (methods.<M>.training / methods.<M>.inference), so changing an inference parameter
# re-picks without retraining. A new learning kind registers itself in the package and is
# added to LEARNING_KINDS.
# ---------------------------------------------------------------------------------------------
LEARNING_KINDS = ("deepfinder", "mc_ds_net", "urfinder", "u_clstm")
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
    output:
        checkpoint="results/{name}/models/{method}/checkpoint.pt",
        report="results/{name}/models/{method}/training.json",
    log:
        "results/{name}/logs/train_learning/{method}.log",
    benchmark:
        "results/{name}/benchmarks/train_learning/{method}.tsv"
    wildcard_constraints:
        method=methods_regex(*LEARNING_KINDS),
    conda:
        "../../envs/tomobench.yaml"
    threads: 2
    resources:
        mem_mb=training_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("train_learning.py"),
        kind=lambda wildcards: METHODS[wildcards.method]["kind"],
        training=lambda wildcards: dict(METHODS[wildcards.method].get("training") or {}),
        seed=SEED,
        device=DEVICE,
        training_ids=TRAINING_IDS,
        validation_ids=VALIDATION_IDS,
    script:
        "../scripts/train_learning.py"


rule plot_training:
    input:
        "results/{name}/models/{method}/training.json",
    output:
        report(
            "results/{name}/models/{method}/training.png",
            category="Training",
            caption="../report/training.rst",
            labels={"method": "{method}"},
        ),
    log:
        "results/{name}/logs/plot_training/{method}.log",
    benchmark:
        "results/{name}/benchmarks/plot_training/{method}.tsv"
    wildcard_constraints:
        method=methods_regex(*LEARNING_KINDS),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        code=code("plot_training.py"),
    script:
        "../scripts/plot_training.py"


rule pick_learning:
    input:
        checkpoint="results/{name}/models/{method}/checkpoint.pt",
        reconstruction="results/{name}/data/model_{i}/reconstruction.mrc",
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/pick_learning/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_learning/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex(*LEARNING_KINDS),
    conda:
        "../../envs/tomobench.yaml"
    threads: 2
    resources:
        mem_mb=inference_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("pick_learning.py"),
        kind=lambda wildcards: METHODS[wildcards.method]["kind"],
        inference=lambda wildcards: dict(
            METHODS[wildcards.method].get("inference") or {}
        ),
        device=DEVICE,
    script:
        "../scripts/pick_learning.py"
