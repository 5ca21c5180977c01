# ---------------------------------------------------------------------------------------------
# Reference-free and template-matching pickers; packages tomobench.methods.dog,
# tomobench.methods.template_matching, tomobench.methods.log_fiducials.
# match_templates searches one class (one rotation chunk) in one tomogram with the shared
# template_matching config section only, so TM and TM-F reuse it and changing an extraction
# parameter of a method (methods.<M>) re-runs pick_template_matching alone.
# ---------------------------------------------------------------------------------------------
include: "methods_functions.smk"


rule calibrate_dog:
    input:
        reconstructions=model_files(["reconstruction"], TRAINING_IDS + VALIDATION_IDS),
        locations=model_files(["particle_locations"], TRAINING_IDS + VALIDATION_IDS),
        occupancies=model_files(["occupancy_mask"], TRAINING_IDS + VALIDATION_IDS),
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
        tomogram=model_file("reconstruction"),
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
        tomogram=model_file("reconstruction"),
        acquisition=model_file("acquisition"),
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
    # One thread: classes and chunks run side by side. A job given more threads
    # (`--set-threads match_templates=2`) deals its rotations to them (same maps).
    threads: 1
    resources:
        mem_mb=template_matching_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("match_templates.py"),
        settings=config["template_matching"],
        class_name=class_name,
        chunk=rotation_chunk,
        device=DEVICE,
        fallback=acquisition_fallback(),
    script:
        "../scripts/match_templates.py"


rule pick_template_matching:
    input:
        tomogram=model_file("reconstruction"),
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
        method=methods_regex(*TEMPLATE_MATCHING_KINDS),
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
# listed in tomobench.methods.kinds (LEARNING_KINDS).
# ---------------------------------------------------------------------------------------------


rule train_learning:
    input:
        **{
            key: model_files([key], TRAINING_IDS + VALIDATION_IDS)
            for key in TRAINING_FILES
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
    # The longest jobs of a run: started as soon as their tomograms exist, so the short
    # jobs (template matching, picking, tables) fill the other cores instead of delaying them.
    priority: training_priority
    conda:
        "../../envs/tomobench.yaml"
    # One torch thread: the learned weights are then the same for any --cores, and on a
    # few cores the trainings run side by side (--set-threads for more, other weights).
    threads: 1
    resources:
        mem_mb=training_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("train_learning.py"),
        kind=method_kind,
        training=learning_section("training"),
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
        reconstruction=model_file("reconstruction"),
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
    threads: 1
    resources:
        mem_mb=inference_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("pick_learning.py"),
        kind=method_kind,
        inference=learning_section("inference"),
        device=DEVICE,
    script:
        "../scripts/pick_learning.py"


# ---------------------------------------------------------------------------------------------
# External pickers (kind: command) and precomputed picks (kind: submission); contract in
# docs/EXTERNAL_PICKERS.md, logic in tomobench.methods.external. A command method runs its
# own shell commands in its own software environment (conda:/container: of its entry, used
# with --sdm conda / --sdm apptainer): command_manifest writes the JSON job manifest,
# train_command (optional) fills the model folder, pick_command writes raw picks per test
# tomogram, and check_command_picks validates them in tomobench's environment before they
# become the method's submission. The command template and the content of the local files
# it names are params, so editing them reruns that method only.
# ---------------------------------------------------------------------------------------------


rule command_manifest:
    input:
        unpack(command_manifest_inputs),
    output:
        "results/{name}/work/{method}/{job}.json",
    log:
        "results/{name}/logs/command_manifest/{method}_{job}.log",
    benchmark:
        "results/{name}/benchmarks/command_manifest/{method}_{job}.tsv"
    wildcard_constraints:
        method=methods_regex("command"),
        job=r"train|model_\d+",
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=code("command_manifest.py"),
        manifest=command_manifest_params,
    script:
        "../scripts/command_manifest.py"


rule train_command:
    input:
        manifest="results/{name}/work/{method}/train.json",
        data=command_data_inputs,
    output:
        directory("results/{name}/models/{method}/model"),
    log:
        "results/{name}/logs/train_command/{method}.log",
    benchmark:
        "results/{name}/benchmarks/train_command/{method}.tsv"
    wildcard_constraints:
        method=methods_regex("command"),
    conda:
        command_conda
    container:
        command_container
    threads: command_threads
    resources:
        mem_mb=command_mem_mb,
        gpu=command_gpu,
    params:
        command=command_fingerprint_params("train"),
        script=command_script("train"),
    shell:
        "{params.script}"


rule pick_command:
    input:
        unpack(command_pick_inputs),
    output:
        temp("results/{name}/work/{method}/model_{i}.picks"),
    log:
        "results/{name}/logs/pick_command/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_command/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex("command"),
    conda:
        command_conda
    container:
        command_container
    threads: command_threads
    resources:
        mem_mb=command_mem_mb,
        gpu=command_gpu,
    params:
        command=command_fingerprint_params("pick"),
        script=command_script("pick"),
    shell:
        "{params.script}"


rule check_command_picks:
    input:
        picks=command_raw_picks,
        tomogram=model_file("reconstruction"),
        locations=model_file("particle_locations"),
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/check_command_picks/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/check_command_picks/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex("command"),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        code=code("check_command_picks.py"),
        classes=scored_classes_of_run(),
        output_format=command_output_format,
        command_log=command_pick_log,
    script:
        "../scripts/check_command_picks.py"


rule pick_submission:
    input:
        unpack(submission_inputs),
        tomogram=model_file("reconstruction"),
        locations=model_file("particle_locations"),
    output:
        "results/{name}/picks/{method}/model_{i}.txt",
    log:
        "results/{name}/logs/pick_submission/{method}_model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/pick_submission/{method}_model_{i}.tsv"
    wildcard_constraints:
        method=methods_regex("submission"),
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        code=code("pick_submission.py"),
        submission=method_params,
        classes=scored_classes_of_run(),
    script:
        "../scripts/pick_submission.py"
