"""Figure 9: cumulative per-class F1 of each method."""

from tomobench.paper import tables
from tomobench.paper.figures import cumulative_f1_figure, save_figure, write_figure_page
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params, output = snakemake.params, snakemake.output
class_f1 = tables.class_f1_table(tables.combine_methods(params.evaluations))
log.info("cumulative F1: %s", class_f1.fillna(0).sum(axis=1).to_dict())
save_figure(cumulative_f1_figure(class_f1), output.png, output.pdf)
write_figure_page(snakemake.output.png, snakemake.output.html, snakemake.params.caption,
                  title="Figure 9: cumulative F1")
