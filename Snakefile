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
include: "workflow/rules/simulation.smk"
include: "workflow/rules/reconstruction.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/formats.smk"


report: "workflow/report/workflow.rst"


# Before the first job of a real run (not a dry run): a read-only output folder is one line
# naming it instead of a traceback from the job that first writes there.
onstart:
    with one_line_errors():
        check_writable(f"results/{RUN_NAME}")


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
