# Reconstruction: weighted back-projection per tomogram and a central-slice figure.


def _reconstruction_config():
    return {
        key: config.get(key) or {}
        for key in ("tomograms", "scene", "reconstruction", "faithful")
    }


rule reconstruct:
    input:
        projections="results/{name}/data/model_{i}/projections.mrc",
        alignment="results/{name}/data/model_{i}/alignment_simulated.txt",
        code=code("reconstruct.py"),
    output:
        reconstruction="results/{name}/data/model_{i}/reconstruction.mrc",
    log:
        "results/{name}/logs/reconstruct/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/reconstruct/model_{i}.tsv"
    params:
        config=_reconstruction_config(),
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: int(
            1000
            + 16e-6
            * config["tomograms"]["size_xy_voxels"] ** 2
            * (config["tomograms"]["binning"] ** 2 * config["tilt_series"]["tilt_count"]
               + config["tomograms"]["size_z_voxels"])
            * attempt
        ),
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/reconstruct.py"


rule render_central_slice:
    input:
        reconstruction="results/{name}/data/model_{i}/reconstruction.mrc",
        class_mask="results/{name}/data/model_{i}/class_mask.mrc",
        code=code("render_central_slice.py"),
    output:
        report(
            "results/{name}/figures/model_{i}_central_slice.png",
            category="Tomograms",
            caption="../report/central_slice.rst",
        ),
    log:
        "results/{name}/logs/render_central_slice/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/render_central_slice/model_{i}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/render_central_slice.py"
