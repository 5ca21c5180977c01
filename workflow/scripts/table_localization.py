"""Table 3: localization per method (summed over the test tomograms), and beside the paper's."""

from tomobench.paper import tables
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params, output = snakemake.params, snakemake.output
description = tables.caption_html(snakemake.params.caption)
combined = tables.combine_methods(params.evaluations, **params.bootstrap)
ours = tables.localization_table(combined)
log.info("table 3:\n%s", ours.to_string())
tables.write_table(ours, output.csv, caption="Localization (SHREC 2021 Table 3), tomobench",
                   description=description)
paper = tables.versus_paper(ours, tables.published_localization(), params.paper_names)
tables.write_table(paper, output.csv_paper,
                   caption="Localization: tomobench beside the published Table 3",
                   description=description)
