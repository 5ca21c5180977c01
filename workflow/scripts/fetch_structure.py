"""Snakemake script: download one mmCIF from the RCSB into the structure cache."""

from tomobench.structures.sources import download_structure
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
pdb_id = snakemake.wildcards.pdb_id
log.info("downloading %s -> %s", pdb_id, snakemake.output[0])
download_structure(pdb_id, snakemake.output[0])
log.info("done")
