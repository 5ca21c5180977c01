# ---------------------------------------------------------------------------------------------
# Tomograms the workflow did not simulate (dataset.source: shrec | copick; tomobench.dataset_source):
# included instead of simulation.smk and reconstruction.smk. The source is read in place and
# never written; what the pickers need that it lacks is derived into results/<name>/data/, and
# results/<name>/inputs.json records the size and SHA-256 of every input file (Snakemake reruns
# what depends on a file whose modification time changes).
# ---------------------------------------------------------------------------------------------


include: "dataset_functions.smk"


rule record_inputs:
    input:
        source_input_files,
    output:
        "results/{name}/inputs.json",
    log:
        "results/{name}/logs/record_inputs/record_inputs.log",
    benchmark:
        "results/{name}/benchmarks/record_inputs/record_inputs.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=code("derive_from_source.py"),
        source=source_description(),
    script:
        "../scripts/derive_from_source.py"


rule derive_scene_parameters:
    input:
        occupancy=model_file("occupancy_mask"),
    output:
        derived_file("scene_parameters"),
    log:
        "results/{name}/logs/derive_scene_parameters/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/derive_scene_parameters/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("derive_from_source.py"),
    script:
        "../scripts/derive_from_source.py"


rule derive_acquisition:
    input:
        unpack(acquisition_inputs),
    output:
        derived_file("acquisition"),
    log:
        "results/{name}/logs/derive_acquisition/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/derive_acquisition/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=code("derive_from_source.py"),
        config=source_settings(),
    script:
        "../scripts/derive_from_source.py"


rule render_central_slice:
    input:
        reconstruction=model_file("reconstruction"),
        class_mask=model_file("class_mask"),
    output:
        report(
            "results/{name}/figures/model_{i}_central_slice.png",
            category="Tomograms",
            caption="../report/central_slice.rst",
            labels={"tomogram": "model_{i}", "slice": "central z"},
        ),
    log:
        "results/{name}/logs/render_central_slice/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/render_central_slice/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("render_central_slice.py"),
    script:
        "../scripts/render_central_slice.py"


if DATASET_SOURCE == "shrec":

    include: "dataset_shrec.smk"


if DATASET_SOURCE == "copick":

    include: "dataset_copick.smk"
