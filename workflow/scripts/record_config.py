"""Write the resolved configuration of the run next to its outputs (results/<name>/config.yaml)."""

import yaml

from tomobench.atomic import write_text_atomic
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)  # noqa: F821 - injected by Snakemake
config = dict(snakemake.params.config)  # noqa: F821
write_text_atomic(snakemake.output[0], yaml.safe_dump(config, sort_keys=True))  # noqa: F821
log.info("recorded the configuration in %s", snakemake.output[0])  # noqa: F821
