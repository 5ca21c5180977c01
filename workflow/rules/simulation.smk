# Simulation: scenes (grand models and ground truth) and tilt series, one job per tomogram.


def _simulation_config():
    """The config sections the simulation reads (a change elsewhere does not rerun it)."""
    return {
        key: config.get(key) or {}
        for key in ("tomograms", "scene", "microscope", "tilt_series", "faithful")
    }


def _simulation_mem_mb(wildcards, attempt):
    """Memory for one tomogram: complex model, spline coefficients, masks and scratch (MB)."""
    t = config["tomograms"]
    voxels = (t["binning"] ** 3) * t["size_xy_voxels"] ** 2 * int(
        round(config["scene"]["ice_thickness_nm"] / t["voxel_size_nm"])
    )
    return int(1000 + 16 * voxels / 1e6 * attempt)


def dataset_outputs(name):
    """Every SHREC-layout file of every tomogram of run ``name``."""
    files = (
        "reconstruction.mrc",
        "grandmodel.mrc",
        "class_mask.mrc",
        "occupancy_mask.mrc",
        "particle_locations.txt",
        "scene_parameters.json",
        "projections.mrc",
        "alignment_simulated.txt",
        "acquisition_parameters.json",
    )
    data = [f"results/{name}/data/model_{i}/{f}" for i in TOMOGRAM_IDS for f in files]
    figures = [f"results/{name}/figures/model_{i}_central_slice.png" for i in TOMOGRAM_IDS]
    return data + figures


rule simulate_scene:
    input:
        unpack(potential_files),
        code=code("simulate_scene.py"),
    output:
        grandmodel="results/{name}/data/model_{i}/grandmodel.mrc",
        class_mask="results/{name}/data/model_{i}/class_mask.mrc",
        occupancy_mask="results/{name}/data/model_{i}/occupancy_mask.mrc",
        locations="results/{name}/data/model_{i}/particle_locations.txt",
        parameters="results/{name}/data/model_{i}/scene_parameters.json",
        unbinned=temp("results/{name}/work/model_{i}/grandmodel_unbinned.mrc"),
    log:
        "results/{name}/logs/simulate_scene/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/simulate_scene/model_{i}.tsv"
    params:
        config=_simulation_config(),
        seed=SEED,
    threads: 1
    resources:
        mem_mb=_simulation_mem_mb,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/simulate_scene.py"


rule simulate_tilt_series:
    input:
        unbinned="results/{name}/work/model_{i}/grandmodel_unbinned.mrc",
        code=code("simulate_tilt_series.py"),
    output:
        projections="results/{name}/data/model_{i}/projections.mrc",
        alignment="results/{name}/data/model_{i}/alignment_simulated.txt",
        acquisition="results/{name}/data/model_{i}/acquisition_parameters.json",
    log:
        "results/{name}/logs/simulate_tilt_series/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/simulate_tilt_series/model_{i}.tsv"
    params:
        config=_simulation_config(),
        seed=SEED,
        device=DEVICE,
    threads: 1
    resources:
        mem_mb=_simulation_mem_mb,
        gpu=0 if DEVICE == "cpu" else 1,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/simulate_tilt_series.py"
