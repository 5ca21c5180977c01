"""Table 2: particles per class in the test tomogram(s), and beside the paper's counts."""

from tomobench.paper import tables
from tomobench.particles import read_particle_locations
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
description = tables.read_caption(inputs.caption)
locations = {name: read_particle_locations(inputs[name]) for name in params.tomograms}
ours = tables.particle_count_table(locations)
log.info("table 2:\n%s", ours.to_string())
tables.write_table(ours, output.csv, caption="Particles per class in the test tomogram(s) "
                   "(SHREC 2021 Table 2), tomobench", description=description)
tables.write_table(tables.particle_counts_versus_paper(ours), output.csv_paper,
                   caption="Particles per class: tomobench beside the published Table 2",
                   description=description)
