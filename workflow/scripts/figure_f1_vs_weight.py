"""Figure 10: per-class F1 of each method against molecular weight."""

from tomobench.paper import tables
from tomobench.paper.figures import (
    f1_vs_weight_figure,
    read_molecular_weights,
    save_figure,
    write_figure_page,
)
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
class_f1 = tables.class_f1_table(tables.combine_methods(params.evaluations, **params.bootstrap))
weights_kda = read_molecular_weights(inputs.potentials)
log.info("molecular weights (kDa): %s", weights_kda)
save_figure(f1_vs_weight_figure(class_f1, weights_kda), output.png, output.pdf)
write_figure_page(snakemake.output.png, snakemake.output.html, snakemake.params.caption,
                  title="Figure 10: F1 against molecular weight")
