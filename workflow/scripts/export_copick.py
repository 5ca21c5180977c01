"""Snakemake script: the run's tomograms, ground truth and picks as a copick project."""

from pathlib import Path

from tomobench.formats.copick_project import write_project
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
folders = [Path(path).parent for path in inputs.reconstructions]
picks = {method: {Path(path).stem: path for path in paths}
         for method, paths in params.picks.items()}
config = write_project(output[0], folders, picks, params.radii_nm)
log.info("copick project %s: %d runs, picks of %s", config, len(folders), sorted(picks))
