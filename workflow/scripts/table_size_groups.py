"""Table 5: size groups with our structures' molecular weights, and beside the paper's."""

from tomobench.paper import tables
from tomobench.paper.figures import read_molecular_weights
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
output = snakemake.output
description = tables.caption_html(snakemake.params.caption)
weights_kda = read_molecular_weights(snakemake.input.potentials)
log.info("molecular weights (kDa): %s", weights_kda)
ours = tables.size_group_table(weights_kda)
tables.write_table(ours, output.csv, caption="Size groups by molecular weight (kDa), tomobench",
                   description=description)
paper = ours.join(tables.published_size_groups(), lsuffix=" (tomobench)", rsuffix=" (paper)")
tables.write_table(paper, output.csv_paper,
                   caption="Size groups: tomobench beside the published Table 5",
                   description=description)
