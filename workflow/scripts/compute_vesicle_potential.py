"""Snakemake script: one vesicle of the library (complex potential in volts)."""

from tomobench.mrc import write_mrc
from tomobench.structures.membranes import vesicle_potential
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
p = snakemake.params
k = int(snakemake.wildcards.k)
potential, info = vesicle_potential(
    p.seed,
    k,
    p.voxel_size_nm,
    tuple(p.diameter_nm),
    p.thickness_nm,
    voltage_kv=p.voltage_kv,
    oversampling=p.oversampling,
    absorption=p.absorption,
)
log.info("vesicle %d: %s", k, info)
write_mrc(snakemake.output[0], potential, p.voxel_size_nm)
