"""Snakemake script: simulate the tilt series of one scene — rule simulate_tilt_series."""

import numpy as np

from tomobench.config import microscope as microscope_of
from tomobench.config import tilt_series_settings
from tomobench.io import write_json
from tomobench.mrc import MrcVolume, write_mrc
from tomobench.simulation.alignment import write_alignment
from tomobench.simulation.tilt_series import (
    draw_acquisition,
    simulate_tilt_series,
)
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
config = snakemake.params.config
model_id = int(snakemake.wildcards.i)
seed = int(snakemake.params.seed)
settings = tilt_series_settings(config)
microscope = microscope_of(config["microscope"])

# read in z-slabs: the spline coefficients are the only in-memory copy of the model
potential = MrcVolume(snakemake.input.unbinned)
voxel_size_nm = potential.voxel_size_nm
acquisition = draw_acquisition(settings, voxel_size_nm, seed, model_id)
log.info(
    "model %d: defocus %.3f um, dose %.2f e/A2, %d tilts, beam damage %s (SNR %s)",
    model_id,
    acquisition.defocus_um,
    acquisition.dose_e_per_A2,
    len(acquisition.tilt_angles_deg),
    settings.beam_damage,
    acquisition.beam_damage_snr,
)
projections, noise_free = simulate_tilt_series(
    potential,
    voxel_size_nm,
    acquisition,
    settings,
    microscope,
    device=snakemake.params.device,
    workers=snakemake.threads,
    with_noise_free=True,
)
del potential
out = snakemake.output
write_mrc(out.projections, projections, voxel_size_nm, image_stack=True)
write_mrc(out.noisefree_projections, noise_free, voxel_size_nm, image_stack=True)
shifts_px = np.asarray(acquisition.shifts_nm) / voxel_size_nm
write_alignment(out.alignment, acquisition.tilt_angles_deg, shifts_px)
write_json(out.acquisition, acquisition.to_json(microscope, settings))
log.info("wrote tilt series of model %d", model_id)
