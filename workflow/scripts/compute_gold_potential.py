"""Snakemake script: one gold bead of the library (complex potential in volts)."""

from tomobench.mrc import write_mrc
from tomobench.structures.gold import gold_potential
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
p = snakemake.params
k = int(snakemake.wildcards.k)
potential, info = gold_potential(
    p.seed,
    k,
    p.voxel_size_nm,
    tuple(p.diameter_nm),
    voltage_kv=p.voltage_kv,
    oversampling=p.oversampling,
    absorption=p.absorption,
)
log.info("gold bead %d: %s", k, info)
write_mrc(snakemake.output[0], potential, p.voxel_size_nm)
