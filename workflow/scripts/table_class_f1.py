"""Table 4: per-class F1 per method (summed confusion matrices), and beside the paper's."""

from tomobench.paper import tables
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params, output = snakemake.params, snakemake.output
description = tables.caption_html(snakemake.params.caption)
ours = tables.class_f1_table(tables.combine_methods(params.evaluations, **params.bootstrap))
log.info("table 4:\n%s", ours.to_string())
tables.write_table(ours, output.csv, caption="Per-class F1 (SHREC 2021 Table 4), tomobench",
                   description=description)
paper = tables.versus_paper(ours, tables.published_class_f1(), params.paper_names)
tables.write_table(paper, output.csv_paper,
                   caption="Per-class F1: tomobench beside the published Table 4",
                   description=description)
