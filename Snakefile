# tomobench: the SHREC 2021 cryo-ET picking benchmark as one Snakemake DAG.
#
#   structures -> potentials -> scenes -> tilt series -> WBP -> pickers -> evaluation -> paper
#
# Run:  snakemake --cores all                          (default benchmark, config/config.yaml)
#       snakemake --cores all --configfile config/test.yaml   (replaces the default config)
# Targets: all (default), datasets, evaluate, paper.
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/structures.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/reconstruction.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/paper.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        f"results/{RUN_NAME}/config.yaml",
        dataset_outputs(RUN_NAME),
        evaluation_outputs(RUN_NAME),
        paper_outputs(RUN_NAME),


rule datasets:
    input:
        f"results/{RUN_NAME}/config.yaml",
        dataset_outputs(RUN_NAME),
