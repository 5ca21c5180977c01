# tomobench: the SHREC 2021 cryo-ET picking benchmark as one Snakemake DAG.
#
#   structures -> potentials -> scenes -> tilt series -> WBP -> pickers -> evaluation -> paper
#
# Run:  snakemake --cores all                          (default benchmark, config/config.yaml)
#       snakemake --cores all --configfile config/test.yaml   (replaces the default config)
# Targets: all (default), datasets, evaluate, paper, copick (the run as a copick project).
# record_config writes the resolved configuration beside the outputs.
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/structures.smk"


# A dataset that is not simulated (dataset.source: shrec | copick) is read in place instead.
if DATASET_SOURCE == "simulate":

    include: "workflow/rules/simulation.smk"
    include: "workflow/rules/reconstruction.smk"

else:

    include: "workflow/rules/dataset.smk"


include: "workflow/rules/methods.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/formats.smk"


report: "workflow/report/workflow.rst"


# Quick rules that read only small files (JSONs, benchmark TSVs): on a cluster they run on the
# submitting node instead of waiting in the queue.
localrules:
    record_config,
    table_particle_counts,
    table_localization,
    table_class_f1,
    table_size_groups,
    table_size_group_f1,
    table_timings,
    figure_cumulative_f1,
    figure_f1_vs_weight,
    figure_confusion_matrices,
    plot_training,
    command_manifest,
    check_command_picks,
    pick_submission,


# Before the first job of a real run (not a dry run): a read-only output folder is one line
# naming it instead of a traceback from the job that first writes there; on a SLURM run, stop
# before the first submission when a job could never start.
onstart:
    with one_line_errors():
        check_writable(f"results/{RUN_NAME}")
    check_slurm_jobs()


# `all` lists every kept output, intermediates included: a deleted pick file, potential or
# model is rebuilt (with what depends on it) instead of "Nothing to be done".
rule all:
    default_target: True
    input:
        f"results/{RUN_NAME}/config.yaml",
        structure_outputs(RUN_NAME),
        dataset_outputs(RUN_NAME),
        method_outputs(RUN_NAME),
        evaluation_outputs(RUN_NAME),
        paper_outputs(RUN_NAME),


rule datasets:
    input:
        f"results/{RUN_NAME}/config.yaml",
        dataset_outputs(RUN_NAME),


rule evaluate:
    input:
        evaluation_outputs(RUN_NAME),


rule record_config:
    output:
        "results/{name}/config.yaml",
    log:
        "results/{name}/logs/record_config/record_config.log",
    benchmark:
        "results/{name}/benchmarks/record_config/record_config.tsv"
    conda:
        "envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=code("record_config.py"),
        config=config,
    script:
        "workflow/scripts/record_config.py"
