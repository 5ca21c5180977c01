"""Snakemake script: weighted back-projection of one tilt series — rule reconstruct."""

from tomobench.config import scene_geometry
from tomobench.mrc import read_mrc, write_mrc
from tomobench.reconstruction.wbp import ReconstructionGeometry, weighted_backprojection
from tomobench.simulation.alignment import read_alignment
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
config = snakemake.params.config
geometry = scene_geometry(config)
projections, pixel_size_nm = read_mrc(snakemake.input.projections)
angles_deg, shifts_px = read_alignment(snakemake.input.alignment)
if len(angles_deg) != projections.shape[0]:
    raise ValueError(
        f"{snakemake.input.alignment}: {len(angles_deg)} rows for "
        f"{projections.shape[0]} projections"
    )
recon_geometry = ReconstructionGeometry(
    final_shape=geometry.final_shape,
    binning=geometry.binning,
    z_offset=geometry.z_offset,
    unbinned_nz=geometry.simulation_shape[0],
)
faithful = config.get("faithful") or {}
volume = weighted_backprojection(
    projections,
    angles_deg,
    shifts_px,
    recon_geometry,
    cutoff_fraction=float(config["reconstruction"]["lowpass_cutoff_fraction"]),
    edge_fraction=float(config["reconstruction"]["lowpass_edge_fraction"]),
    round_angles=bool(faithful.get("round_wbp_angles", False)),
)
write_mrc(snakemake.output.reconstruction, volume, geometry.voxel_size_nm)
log.info("wrote reconstruction %s", volume.shape)
