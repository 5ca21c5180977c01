# Reconstruction: weighted back-projection per tomogram and a central-slice figure.


rule reconstruct:
    input:
        projections="results/{name}/data/model_{i}/projections.mrc",
        alignment="results/{name}/data/model_{i}/alignment_simulated.txt",
    output:
        reconstruction="results/{name}/data/model_{i}/reconstruction.mrc",
    log:
        "results/{name}/logs/reconstruct/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/reconstruct/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    # two threads fill alternate blocks of planes
    threads: 2
    resources:
        mem_mb=reconstruction_mem_mb,
    params:
        code=code("reconstruct.py"),
        config=_reconstruction_config(),
    script:
        "../scripts/reconstruct.py"


rule render_central_slice:
    input:
        reconstruction="results/{name}/data/model_{i}/reconstruction.mrc",
        class_mask="results/{name}/data/model_{i}/class_mask.mrc",
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
