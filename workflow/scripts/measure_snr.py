"""Snakemake script: measured SNR of one tomogram (paper's definition) — rule measure_snr."""

from tomobench.config import scene_geometry
from tomobench.io import write_json
from tomobench.mrc import read_mrc
from tomobench.reconstruction.snr import DEFINITION, noise_reconstruction, snr_by_region
from tomobench.reconstruction.wbp import ReconstructionGeometry
from tomobench.simulation.alignment import read_alignment
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
config = snakemake.params.config
inputs = snakemake.input
geometry = scene_geometry(config)
projections, _ = read_mrc(inputs.projections)
noise_free, _ = read_mrc(inputs.noisefree_projections)
angles_deg, shifts_px = read_alignment(inputs.alignment)
faithful = config.get("faithful") or {}
noise = noise_reconstruction(
    projections,
    noise_free,
    angles_deg,
    shifts_px,
    ReconstructionGeometry(
        final_shape=geometry.final_shape,
        binning=geometry.binning,
        z_offset=geometry.z_offset,
        unbinned_nz=geometry.simulation_shape[0],
    ),
    cutoff_fraction=float(config["reconstruction"]["lowpass_cutoff_fraction"]),
    edge_fraction=float(config["reconstruction"]["lowpass_edge_fraction"]),
    round_angles=bool(faithful.get("round_wbp_angles", False)),
    workers=snakemake.threads,
)
del projections, noise_free
reconstruction, _ = read_mrc(inputs.reconstruction)
occupancy, _ = read_mrc(inputs.occupancy)
ice = slice(geometry.z_offset, geometry.z_offset + geometry.ice_voxels)
regions = snr_by_region(reconstruction, noise, ice_planes=ice, occupancy=occupancy)
write_json(
    snakemake.output.snr,
    {
        "model_id": int(snakemake.wildcards.i),
        "snr": regions["whole_tomogram"]["snr"],
        "definition": DEFINITION,
        "regions": {
            "whole_tomogram": "every voxel of reconstruction.mrc",
            "ice_slab": f"z planes {ice.start}..{ice.stop - 1} of reconstruction.mrc",
            "particle_voxels": "voxels with occupancy_mask.mrc > 0 (proteins, vesicles, gold)",
        },
        **regions,
    },
)
log.info("model %s: SNR %s", snakemake.wildcards.i,
         {region: values["snr"] for region, values in regions.items()})
