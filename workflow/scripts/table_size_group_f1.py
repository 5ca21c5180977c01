"""Table 6: mean F1 per size group and over all classes, and the Spearman correlation of
per-class F1 with molecular weight, per method; and beside the paper's."""

from tomobench.paper import tables
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params, output = snakemake.params, snakemake.output
description = tables.caption_html(snakemake.params.caption)
ours = tables.size_group_f1_table(tables.combine_methods(params.evaluations, **params.bootstrap))
log.info("table 6:\n%s", ours.to_string())
tables.write_table(ours, output.csv,
                   caption="F1 per size group (SHREC 2021 Table 6), over all classes, and "
                   "Spearman(F1, MW) over the 12 proteins, tomobench", description=description)
paper = tables.versus_paper(ours, tables.published_size_group_f1(), params.paper_names)
tables.write_table(paper, output.csv_paper,
                   caption="F1 per size group: tomobench beside the published Table 6 (its mean "
                   "and Spearman computed from the published Table 4)", description=description)
