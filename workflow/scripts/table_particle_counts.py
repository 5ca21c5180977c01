"""Table 2: particles per class in the test tomogram(s) and their measured SNR, and beside the
paper's counts and SNRs."""

from pathlib import Path

from tomobench.io import read_json
from tomobench.paper import tables
from tomobench.particles import read_particle_locations
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
description = tables.caption_html(params.caption)
locations = {name: read_particle_locations(inputs[name]) for name in params.tomograms}
snr = {Path(path).parent.name: read_json(path) for path in inputs.snr}
ours = tables.particle_count_table(locations, snr)
log.info("table 2:\n%s", ours.to_string())
tables.write_table(ours, output.csv, caption="Particles per class in the test tomogram(s) "
                   "(SHREC 2021 Table 2) and their SNR (var(signal) / var(noise), "
                   "var(signal) = var(noisy) - var(noise); whole tomogram and particle voxels), "
                   "tomobench", description=description)
tables.write_table(tables.particle_counts_versus_paper(ours, snr), output.csv_paper,
                   caption="Particles per class: tomobench beside the published Table 2; "
                   "SNR (whole tomogram) of the test tomogram(s) and the range over all "
                   "tomograms beside the paper's (section 2.1)",
                   description=description)
