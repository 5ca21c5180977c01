# ---------------------------------------------------------------------------------------------
# The SHREC 2021 paper's tables and figures (tomobench.paper) from the evaluation JSONs of the
# test tomograms (counts summed when there are several), the potentials' molecular weights and
# the rules' benchmark TSVs. Every table comes as CSV/Markdown/LaTeX, once with our numbers and
# once beside the paper's (methods both have); every figure as PNG and PDF. The HTML tables and
# PNG figures go into the HTML report (snakemake --report report.html), in the paper's order.
# ---------------------------------------------------------------------------------------------
include: "paper_functions.smk"


rule table1_structures:
    input:
        structures=_all_structure_sources,
    output:
        **table_outputs(1),
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
        caption=caption_text("table", 1),
        code=code("table1_structures.py"),
        classes=PROTEIN_CLASSES,
        options=_potential_options(),
        table1={"voxel_size_nm": 0.5, "blur_sigma_nm": 0.6, "threshold_v": 0.75},
    script:
        "../scripts/table1_structures.py"


rule table_particle_counts:
    input:
        unpack(test_particle_locations),
        snr=snr_files,
    output:
        **table_outputs(2),
    log:
        "results/{name}/logs/table_particle_counts/table_particle_counts.log",
    benchmark:
        "results/{name}/benchmarks/table_particle_counts/table_particle_counts.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("table", 2),
        code=code("table_particle_counts.py"),
        tomograms=[f"model_{i}" for i in TEST_IDS],
    script:
        "../scripts/table_particle_counts.py"


rule table_localization:
    input:
        evaluations=evaluation_files,
    output:
        **table_outputs(3),
    log:
        "results/{name}/logs/table_localization/table_localization.log",
    benchmark:
        "results/{name}/benchmarks/table_localization/table_localization.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("table", 3),
        code=code("table_localization.py"),
        bootstrap=bootstrap_params(),
        evaluations=method_evaluations,
        paper_names=paper_names(),
    script:
        "../scripts/table_localization.py"


rule table_class_f1:
    input:
        evaluations=evaluation_files,
    output:
        **table_outputs(4),
    log:
        "results/{name}/logs/table_class_f1/table_class_f1.log",
    benchmark:
        "results/{name}/benchmarks/table_class_f1/table_class_f1.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("table", 4),
        code=code("table_class_f1.py"),
        bootstrap=bootstrap_params(),
        evaluations=method_evaluations,
        paper_names=paper_names(),
    script:
        "../scripts/table_class_f1.py"


rule table_size_groups:
    input:
        potentials=potential_metadata,
    output:
        **table_outputs(5),
    log:
        "results/{name}/logs/table_size_groups/table_size_groups.log",
    benchmark:
        "results/{name}/benchmarks/table_size_groups/table_size_groups.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("table", 5),
        code=code("table_size_groups.py"),
    script:
        "../scripts/table_size_groups.py"


rule table_size_group_f1:
    input:
        evaluations=evaluation_files,
    output:
        **table_outputs(6),
    log:
        "results/{name}/logs/table_size_group_f1/table_size_group_f1.log",
    benchmark:
        "results/{name}/benchmarks/table_size_group_f1/table_size_group_f1.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("table", 6),
        code=code("table_size_group_f1.py"),
        bootstrap=bootstrap_params(),
        evaluations=method_evaluations,
        paper_names=paper_names(),
    script:
        "../scripts/table_size_group_f1.py"


rule table_timings:
    input:
        benchmarks=timing_files,
    output:
        **table_outputs(7),
    log:
        "results/{name}/logs/table_timings/table_timings.log",
    benchmark:
        "results/{name}/benchmarks/table_timings/table_timings.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("table", 7),
        code=code("table_timings.py"),
        benchmarks=timing_benchmarks,
        paper_names=paper_names(),
    script:
        "../scripts/table_timings.py"


rule figure_central_slice:
    input:
        unpack(central_slice_picks),
        reconstruction=model_file("reconstruction", TEST_IDS[0]),
        locations=model_file("particle_locations", TEST_IDS[0]),
    output:
        **figure_outputs(4),
    log:
        "results/{name}/logs/figure_central_slice/figure_central_slice.log",
    benchmark:
        "results/{name}/benchmarks/figure_central_slice/figure_central_slice.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=tomogram_mem_mb,
    params:
        caption=caption_text("figure", 4),
        code=code("figure_central_slice.py"),
        methods=list(METHODS),
        tomogram=f"model_{TEST_IDS[0]}",
        radii_nm=central_slice_radii_nm(),
    script:
        "../scripts/figure_central_slice.py"


rule figure_cumulative_f1:
    input:
        evaluations=evaluation_files,
    output:
        **figure_outputs(9),
    log:
        "results/{name}/logs/figure_cumulative_f1/figure_cumulative_f1.log",
    benchmark:
        "results/{name}/benchmarks/figure_cumulative_f1/figure_cumulative_f1.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("figure", 9),
        code=code("figure_cumulative_f1.py"),
        evaluations=method_evaluations,
    script:
        "../scripts/figure_cumulative_f1.py"


rule figure_f1_vs_weight:
    input:
        evaluations=evaluation_files,
        potentials=potential_metadata,
    output:
        **figure_outputs(10),
    log:
        "results/{name}/logs/figure_f1_vs_weight/figure_f1_vs_weight.log",
    benchmark:
        "results/{name}/benchmarks/figure_f1_vs_weight/figure_f1_vs_weight.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("figure", 10),
        code=code("figure_f1_vs_weight.py"),
        bootstrap=bootstrap_params(),
        evaluations=method_evaluations,
    script:
        "../scripts/figure_f1_vs_weight.py"


rule figure_confusion_matrices:
    input:
        evaluations=evaluation_files,
        potentials=potential_metadata,
    output:
        **figure_outputs(11),
    log:
        "results/{name}/logs/figure_confusion_matrices/figure_confusion_matrices.log",
    benchmark:
        "results/{name}/benchmarks/figure_confusion_matrices/figure_confusion_matrices.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        caption=caption_text("figure", 11),
        code=code("figure_confusion_matrices.py"),
        evaluations=method_evaluations,
    script:
        "../scripts/figure_confusion_matrices.py"


# A copick project of its own classes lacks facts some outputs need (SKIPPED_OUTPUTS,
# tomobench.project_classes): they are not made, and this page of the report says why.
rule skipped_paper_outputs:
    output:
        report(
            f"{PAPER}/skipped_outputs.md",
            caption="../report/skipped_outputs.rst",
            category=TABLES_CATEGORY,
            subcategory="Skipped for this dataset",
            labels={"table": "skipped", "topic": "outputs this dataset cannot fill"},
        ),
    log:
        "results/{name}/logs/skipped_paper_outputs/skipped_paper_outputs.log",
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=200,
    params:
        code=code("skipped_outputs.py"),
        skipped=SKIPPED_OUTPUTS,
    script:
        "../scripts/skipped_outputs.py"


rule paper:
    input:
        paper_outputs(RUN_NAME),
    localrule: True
