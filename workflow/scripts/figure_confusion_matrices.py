"""Figure 11: confusion matrix of each method, classes ordered by molecular weight."""

from tomobench.paper import tables
from tomobench.paper.figures import (
    confusion_matrices_figure,
    read_molecular_weights,
    save_figure,
    write_figure_page,
)
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
combined = tables.combine_methods(params.evaluations)
weights_kda = read_molecular_weights(inputs.potentials)
confusions = {method: c["confusion"] for method, c in combined.items()}
log.info("confusion matrices of %s", list(confusions))
save_figure(confusion_matrices_figure(confusions, weights_kda), output.png, output.pdf)
write_figure_page(snakemake.output.png, snakemake.output.html, snakemake.params.caption,
                  title="Figure 11: confusion matrices")
