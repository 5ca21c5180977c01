"""Snakemake script: central z slice of a reconstruction with ground-truth outlines."""

from tomobench.mrc import read_mrc
from tomobench.paper.figures import class_mask_slice_figure, save_figure
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)  # noqa: F821 - injected by Snakemake
volume, voxel_size_nm = read_mrc(snakemake.input.reconstruction)  # noqa: F821
classes, _ = read_mrc(snakemake.input.class_mask)  # noqa: F821
z = volume.shape[0] // 2
name, i = snakemake.wildcards.name, snakemake.wildcards.i  # noqa: F821
figure = class_mask_slice_figure(volume[z], classes[z].astype(int), voxel_size_nm=voxel_size_nm,
                                 title=f"{name} model_{i}: z = {z}")
save_figure(figure, snakemake.output[0], pdf=False)  # noqa: F821
log.info("rendered slice z=%d of model_%s", z, i)
