# Structures and potentials: download cache, protein/vesicle/gold potentials, Table 1.


include: "structures_functions.smk"


rule fetch_structure:
    input:
        code=code("fetch_structure.py"),
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
    script:
        "../scripts/fetch_structure.py"


rule compute_potential:
    input:
        code=code("compute_potential.py"),
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
        options=_potential_options(),
        device=DEVICE,
    script:
        "../scripts/compute_potential.py"


rule compute_vesicle_potential:
    input:
        code=code("compute_vesicle_potential.py"),
    output:
        "results/{name}/potentials/vesicle_{k}.mrc",
    log:
        "results/{name}/logs/compute_vesicle_potential/{k}.log",
    benchmark:
        "results/{name}/benchmarks/compute_vesicle_potential/{k}.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=vesicle_mem_mb,
    params:
        seed=SEED,
        voxel_size_nm=SIMULATION_VOXEL_NM,
        diameter_nm=list(config["potential"]["vesicle_diameter_nm"]),
        thickness_nm=float(config["potential"]["membrane_thickness_nm"]),
        voltage_kv=float(config["microscope"]["voltage_kv"]),
        oversampling=int(config["potential"]["oversampling"]),
        absorption=bool(config["potential"]["absorption"]),
    script:
        "../scripts/compute_vesicle_potential.py"


rule compute_gold_potential:
    input:
        code=code("compute_gold_potential.py"),
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
        seed=SEED,
        voxel_size_nm=SIMULATION_VOXEL_NM,
        diameter_nm=list(config["potential"]["gold_diameter_nm"]),
        voltage_kv=float(config["microscope"]["voltage_kv"]),
        oversampling=int(config["potential"]["oversampling"]),
        absorption=bool(config["potential"]["absorption"]),
    script:
        "../scripts/compute_gold_potential.py"


rule table1_structures:
    input:
        code=code("table1_structures.py"),
        structures=_all_structure_sources,
    output:
        csv=report(
            "results/{name}/paper/table1_structures.csv",
            caption="../report/table1.rst",
            category="Tables",
        ),
        md="results/{name}/paper/table1_structures.md",
        tex="results/{name}/paper/table1_structures.tex",
    log:
        "results/{name}/logs/table1_structures/table1_structures.log",
    benchmark:
        "results/{name}/benchmarks/table1_structures/table1_structures.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=table1_mem_mb,
    params:
        classes=PROTEIN_CLASSES,
        options=_potential_options(),
        table1={"voxel_size_nm": 0.5, "blur_sigma_nm": 0.6, "threshold_v": 0.75},
    script:
        "../scripts/table1_structures.py"
