"""Table 7: training and inference time per method from the benchmark TSVs, beside the paper's."""

from tomobench.paper import tables, timings
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params, output = snakemake.params, snakemake.output
description = tables.caption_html(snakemake.params.caption)
stages = params.benchmarks
ours = timings.timing_table(stages["training"], stages["inference"])
log.info("table 7:\n%s", ours.to_string())
tables.write_table(ours, output.csv, caption="Training and inference wall time, CPU time and "
                   "peak memory, tomobench", description=description)
paper = tables.versus_paper(ours, timings.published_timings(), params.paper_names)
tables.write_table(paper, output.csv_paper,
                   caption="Timings: tomobench beside the published Table 7",
                   description=description)
