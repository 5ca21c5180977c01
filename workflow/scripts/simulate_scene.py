"""Snakemake script: one scene (grand model, masks, particle list) — rule simulate_scene."""

from pathlib import Path

import numpy as np

from tomobench.config import scene_geometry, scene_parameters
from tomobench.errors import InputError
from tomobench.io import write_json
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import write_particle_locations
from tomobench.simulation.scene import (
    add_ice,
    build_scene,
    final_ground_truth,
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
proteins = {Path(p).stem: load(p) for p in inputs.proteins}
vesicles = [load(p) for p in inputs.vesicles]
gold = [load(p) for p in inputs.gold]
log.info(
    "loaded %d protein, %d vesicle, %d gold potentials", len(proteins), len(vesicles), len(gold)
)

scene = build_scene(geometry, parameters, proteins, vesicles, gold, seed, model_id)
log.info("scene summary: %s", scene.summary)
grandmodel, class_mask, occupancy, locations = final_ground_truth(
    scene,
    geometry,
    workers=snakemake.threads,
)
out = snakemake.output
write_mrc(out.grandmodel, grandmodel, geometry.voxel_size_nm)
write_mrc(out.class_mask, class_mask, geometry.voxel_size_nm)
write_mrc(out.occupancy_mask, occupancy, geometry.voxel_size_nm)
write_particle_locations(out.locations, locations)
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
    },
)
log.info("wrote scene of model %d", model_id)
