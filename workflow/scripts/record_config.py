"""Write the resolved configuration of the run next to its outputs (results/<name>/config.yaml)."""

import yaml

from tomobench.atomic import write_text_atomic
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
config = dict(snakemake.params.config)
write_text_atomic(snakemake.output[0], yaml.safe_dump(config, sort_keys=True))
log.info("recorded the configuration in %s", snakemake.output[0])
