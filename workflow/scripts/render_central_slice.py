"""Snakemake script: central z slice of a reconstruction with ground-truth outlines."""

from tomobench.mrc import read_mrc
from tomobench.paper.figures import class_mask_slice_figure, save_figure
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
volume, voxel_size_nm = read_mrc(snakemake.input.reconstruction)
classes, _ = read_mrc(snakemake.input.class_mask)
z = volume.shape[0] // 2
name, i = snakemake.wildcards.name, snakemake.wildcards.i
figure = class_mask_slice_figure(volume[z], classes[z].astype(int), voxel_size_nm=voxel_size_nm,
                                 title=f"{name} model_{i}: z = {z}")
save_figure(figure, snakemake.output[0], pdf=False)
log.info("rendered slice z=%d of model_%s", z, i)
