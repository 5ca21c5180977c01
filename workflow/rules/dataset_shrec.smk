# A SHREC 2021-layout folder (dataset.source: shrec): model_<i>/ read in place; derived here
# only what a folder lacks (acquisition record, scene record), spells otherwise (4V94_fixed)
# or stores in another frame (the 180-slab re-release's masks, placed in the reconstruction's
# z range as `tomobench evaluate` does).


rule shrec_slab_placement:
    input:
        locations=source_file("particle_locations"),
        occupancy=source_file("occupancy_mask"),
        reconstruction=source_file("reconstruction"),
    output:
        "results/{name}/dataset/model_{i}_slab.json",
    log:
        "results/{name}/logs/shrec_slab_placement/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/shrec_slab_placement/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("derive_from_source.py"),
        config=source_settings(),
    script:
        "../scripts/derive_from_source.py"


rule shrec_pad_slab:
    input:
        volume=source_file("{volume}"),
        placement="results/{name}/dataset/model_{i}_slab.json",
        reconstruction=source_file("reconstruction"),
    output:
        "results/{name}/data/model_{i}/{volume}.mrc",
    log:
        "results/{name}/logs/shrec_pad_slab/model_{i}_{volume}.log",
    benchmark:
        "results/{name}/benchmarks/shrec_pad_slab/model_{i}_{volume}.tsv"
    wildcard_constraints:
        volume="class_mask|occupancy_mask|grandmodel",
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        code=code("derive_from_source.py"),
    script:
        "../scripts/derive_from_source.py"


rule shrec_particle_locations:
    input:
        unpack(shrec_locations_inputs),
    output:
        derived_file("particle_locations"),
    log:
        "results/{name}/logs/shrec_particle_locations/model_{i}.log",
    benchmark:
        "results/{name}/benchmarks/shrec_particle_locations/model_{i}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=code("derive_from_source.py"),
    script:
        "../scripts/derive_from_source.py"
