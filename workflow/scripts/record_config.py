"""Write the resolved configuration of the run next to its outputs (results/<name>/config.yaml)."""

import yaml

from tomobench.workflow_support import script_logger

log = script_logger(snakemake)  # noqa: F821 - injected by Snakemake
with open(snakemake.output[0], "w") as handle:  # noqa: F821
    yaml.safe_dump(dict(snakemake.params.config), handle, sort_keys=True)  # noqa: F821
log.info("recorded the configuration in %s", snakemake.output[0])  # noqa: F821
