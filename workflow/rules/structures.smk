# Structures and potentials: download cache, protein and gold potentials, Table 1. (Vesicles
# are made in place by the scene: tomobench.structures.membranes.)


include: "structures_functions.smk"


rule fetch_structure:
    output:
        STRUCTURE_CACHE_PATTERN,
    log:
        "resources/logs/fetch_structure/{pdb_id}.log",
    benchmark:
        "resources/benchmarks/fetch_structure/{pdb_id}.tsv"
    retries: 2
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=code("fetch_structure.py"),
    script:
        "../scripts/fetch_structure.py"


rule compute_potential:
    input:
        structure=structure_source,
    output:
        mrc="results/{name}/potentials/{pdb_id}.mrc",
        json="results/{name}/potentials/{pdb_id}.json",
    log:
        "results/{name}/logs/compute_potential/{pdb_id}.log",
    benchmark:
        "results/{name}/benchmarks/compute_potential/{pdb_id}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=protein_potential_mem_mb,
        gpu=GPU_REQUEST,
    params:
        code=code("compute_potential.py"),
        options=_potential_options(),
        device=DEVICE,
    script:
        "../scripts/compute_potential.py"


rule compute_gold_potential:
    output:
        "results/{name}/potentials/gold_{k}.mrc",
    log:
        "results/{name}/logs/compute_gold_potential/{k}.log",
    benchmark:
        "results/{name}/benchmarks/compute_gold_potential/{k}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=gold_mem_mb,
    params:
        code=code("compute_gold_potential.py"),
        seed=SEED,
        voxel_size_nm=SIMULATION_VOXEL_NM,
        diameter_nm=list(config["potential"]["gold_diameter_nm"]),
        voltage_kv=float(config["microscope"]["voltage_kv"]),
        oversampling=int(config["potential"]["oversampling"]),
        absorption=bool(config["potential"]["absorption"]),
    script:
        "../scripts/compute_gold_potential.py"
