"""The paper outputs a dataset cannot fill and why (rule skipped_paper_outputs)."""

from tomobench.atomic import write_text_atomic
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
skipped = dict(snakemake.params.skipped)
lines = ["| output | why it is skipped |", "| --- | --- |"]
lines += [f"| {output} | {why} |" for output, why in skipped.items()]
write_text_atomic(snakemake.output[0], "\n".join(lines) + "\n")
log.info("skipped: %s", ", ".join(skipped))
