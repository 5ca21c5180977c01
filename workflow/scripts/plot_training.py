"""Training curves of one learned method (rule plot_training): training.png."""

from tomobench.io import read_json
from tomobench.paper.figures import save_figure, training_curves_figure
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
report = read_json(snakemake.input[0], "training report")
log.info("%s: %d validation intervals, best step %d", snakemake.wildcards.method,
         len(report["history"]), report["best_step"])
save_figure(training_curves_figure(report, snakemake.wildcards.method),
            snakemake.output[0], pdf=False)
