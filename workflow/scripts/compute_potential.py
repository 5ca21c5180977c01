"""Snakemake script: complex potential (V) of one protein class at the simulation voxel size."""

from tomobench.io import write_json
from tomobench.mrc import write_mrc
from tomobench.structures.compute import structure_potential
from tomobench.structures.potential import PotentialOptions
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params = snakemake.params
options = PotentialOptions(**params.options)
pdb_id = snakemake.wildcards.pdb_id
log.info("potential of %s from %s with %s", pdb_id, snakemake.input.structure, options)
potential, info = structure_potential(
    snakemake.input.structure,
    pdb_id,
    options,
    device=params.device,
)
log.info("shape %s, MW %.2f kDa", info["shape"], info["molecular_weight_kda"])
write_mrc(snakemake.output.mrc, potential, options.voxel_size_nm)
write_json(snakemake.output.json, info)
log.info("done")
