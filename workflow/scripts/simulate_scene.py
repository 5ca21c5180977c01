"""Snakemake script: one scene (grand model, masks, particle list) — rule simulate_scene."""

from pathlib import Path

import numpy as np

from tomobench.config import scene_geometry, scene_parameters, vesicle_library
from tomobench.errors import InputError
from tomobench.io import write_json
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import write_particle_locations
from tomobench.simulation.scene import (
    add_ice,
    build_scene,
    final_grandmodel,
    final_locations,
    final_masks,
)
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
config = snakemake.params.config
model_id = int(snakemake.wildcards.i)
seed = int(snakemake.params.seed)
geometry = scene_geometry(config)
parameters = scene_parameters(config)


def load(path):
    data, voxel_size_nm = read_mrc(path)
    if data.ndim != 3 or len(set(data.shape)) != 1:
        raise InputError(f"{path}: potential must be a cube, got shape {data.shape}")
    if abs(voxel_size_nm - geometry.simulation_voxel_nm) > 1e-3 * geometry.simulation_voxel_nm:
        raise InputError(
            f"{path}: voxel size {voxel_size_nm} nm differs from the simulation voxel "
            f"{geometry.simulation_voxel_nm} nm (tomograms.voxel_size_nm / tomograms.binning)"
        )
    return data.astype(np.complex64, copy=False)


inputs = snakemake.input
threads = snakemake.threads
proteins = {Path(p).stem: load(p) for p in inputs.proteins}
gold = [load(p) for p in inputs.gold]
vesicles = vesicle_library(config, seed)
log.info("loaded %d protein and %d gold potentials; %d vesicle shapes", len(proteins), len(gold),
         len(vesicles))

scene = build_scene(geometry, parameters, proteins, vesicles, gold, seed, model_id, threads)
log.info("scene summary: %s", scene.summary)
out = snakemake.output
# the final volumes one at a time: the scene itself is most of the memory
write_mrc(out.grandmodel, final_grandmodel(scene, geometry, threads), geometry.voxel_size_nm)
log.info("wrote %s", out.grandmodel)
for path, mask in zip((out.class_mask, out.occupancy_mask), final_masks(scene, geometry),
                      strict=True):
    write_mrc(path, mask, geometry.voxel_size_nm)
    log.info("wrote %s", path)
    del mask
write_particle_locations(out.locations, final_locations(scene, geometry))
log.info("wrote the ground truth; adding ice and writing the unbinned model")
add_ice(scene.potential, parameters.voltage_kv, parameters.ice_imaginary_only)
write_mrc(out.unbinned, scene.potential, geometry.simulation_voxel_nm)
write_json(
    out.parameters,
    {
        "seed": seed,
        "model_id": model_id,
        **scene.summary,
        "ice_thickness_nm": geometry.ice_thickness_nm,
        "ice_voxels": geometry.ice_voxels,
        "z_offset": geometry.z_offset,
        "final_shape_zyx": list(geometry.final_shape),
        "simulation_shape_zyx": list(geometry.simulation_shape),
        "simulation_voxel_size_nm": geometry.simulation_voxel_nm,
        "voxel_size_nm": geometry.voxel_size_nm,
        "orientation_sampling": parameters.orientation_sampling,
        "threshold_rotated_potentials": parameters.threshold_rotated_potentials,
        "ice_imaginary_only": parameters.ice_imaginary_only,
        "vesicle_library": [vesicle.as_dict() for vesicle in vesicles],
    },
)
log.info("wrote scene of model %d", model_id)
