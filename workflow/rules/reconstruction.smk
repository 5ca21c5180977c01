# Reconstruction: weighted back-projection per tomogram and a central-slice figure.


include: "reconstruction_functions.smk"


rule reconstruct:
    input:
        projections=rules.simulate_tilt_series.output.projections,
        alignment=rules.simulate_tilt_series.output.alignment,
    output:
        reconstruction=model_file("reconstruction"),
    log:
        "results/{name}/logs/reconstruct/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/reconstruct/model_{i}.tsv"
    # tomograms before template matching, so the trainings (priority 10) start early
    priority: 5
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


# The tomogram's SNR (paper's definition): one more back-projection, of the noise alone.
rule measure_snr:
    input:
        projections=rules.simulate_tilt_series.output.projections,
        noisefree_projections=rules.simulate_tilt_series.output.noisefree_projections,
        alignment=rules.simulate_tilt_series.output.alignment,
        reconstruction=model_file("reconstruction"),
        occupancy=model_file("occupancy_mask"),
    output:
        snr=model_file("snr"),
    log:
        "results/{name}/logs/measure_snr/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/measure_snr/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    # two threads fill alternate blocks of planes
    threads: 2
    resources:
        mem_mb=snr_mem_mb,
    params:
        code=code("measure_snr.py"),
        config=_reconstruction_config(),
    script:
        "../scripts/measure_snr.py"


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
