# A copick project (dataset.source: copick): tomogram id i is run dataset.copick.runs[i]. Each
# run's OME-Zarr tomogram is converted to MRC (the pickers read MRC) and its ground truth to the
# SHREC files under results/<name>/data/model_<i>/; the project itself is only read.


rule import_copick_run:
    input:
        source_run_files,
    output:
        reconstruction=derived_file("reconstruction"),
        class_mask=derived_file("class_mask"),
        occupancy_mask=derived_file("occupancy_mask"),
        grandmodel=derived_file("grandmodel"),
        locations=derived_file("particle_locations"),
    log:
        "results/{name}/logs/import_copick_run/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/import_copick_run/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("derive_from_source.py"),
        config=source_settings(),
        run=copick_run_name,
    script:
        "../scripts/derive_from_source.py"
