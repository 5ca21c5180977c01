# Simulation: scenes (grand models and ground truth) and tilt series, one job per tomogram.


include: "simulation_functions.smk"


rule simulate_scene:
    input:
        unpack(potential_files),
    output:
        grandmodel=model_file("grandmodel"),
        class_mask=model_file("class_mask"),
        occupancy_mask=model_file("occupancy_mask"),
        locations=model_file("particle_locations"),
        parameters=model_file("scene_parameters"),
        unbinned=temp("results/{name}/work/model_{i}/grandmodel_unbinned.mrc"),
    log:
        "results/{name}/logs/simulate_scene/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/simulate_scene/model_{i}.tsv"
    # tomograms before template matching, so the trainings (priority 10) start early
    priority: 5
    conda:
        "../../envs/tomobench.yaml"
    # two threads rotate the two parts of each potential side by side
    threads: 2
    resources:
        mem_mb=scene_mem_mb,
    params:
        code=code("simulate_scene.py"),
        config=_simulation_config(),
        seed=SEED,
    script:
        "../scripts/simulate_scene.py"


rule simulate_tilt_series:
    input:
        unbinned="results/{name}/work/model_{i}/grandmodel_unbinned.mrc",
    output:
        projections=model_file("projections"),
        noisefree_projections=model_file("noisefree_projections"),
        alignment=model_file("alignment"),
        acquisition=model_file("acquisition"),
    log:
        "results/{name}/logs/simulate_tilt_series/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/simulate_tilt_series/model_{i}.tsv"
    # tomograms before template matching, so the trainings (priority 10) start early
    priority: 5
    conda:
        "../../envs/tomobench.yaml"
    # two threads project and propagate alternate tilts
    threads: 2
    resources:
        mem_mb=tilt_series_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("simulate_tilt_series.py"),
        config=_simulation_config(),
        seed=SEED,
        device=DEVICE,
    script:
        "../scripts/simulate_tilt_series.py"
