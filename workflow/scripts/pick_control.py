"""Control picks of one test tomogram (rule pick_control): oracle or random."""

from tomobench.evaluation.controls import oracle_picks, random_picks
from tomobench.io import read_json
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations, write_picks
from tomobench.seeding import rng
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, wildcards = snakemake.input, snakemake.wildcards
locations = read_particle_locations(inputs.locations)
if wildcards.method == "oracle":
    picks = oracle_picks(locations)
else:
    occupancy, _ = read_mrc(inputs.occupancy)
    scene = read_json(inputs.scene, "scene parameters")
    slab = (scene["z_offset"], scene["z_offset"] + scene["ice_voxels"])
    seed = int(snakemake.params.seed)
    picks = random_picks(locations, occupancy.shape, slab,
                         rng(seed, "control", "random", int(wildcards.i)))
write_picks(snakemake.output[0], picks)
log.info("%s control: %d picks", wildcards.method, len(picks))
