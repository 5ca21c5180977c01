"""Snakemake script: central z slice of a reconstruction with ground-truth outlines."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tomobench.classes import SHREC_CLASS_NAMES  # noqa: E402
from tomobench.mrc import read_mrc  # noqa: E402
from tomobench.workflow_support import script_logger  # noqa: E402

log = script_logger(snakemake)  # noqa: F821
volume, voxel_size_nm = read_mrc(snakemake.input.reconstruction)  # noqa: F821
classes, _ = read_mrc(snakemake.input.class_mask)  # noqa: F821
z = volume.shape[0] // 2
image = volume[z]
labels = classes[z].astype(int)
low, high = np.percentile(image, [1, 99])
fig, ax = plt.subplots(figsize=(7, 7), dpi=120)
ax.imshow(image, cmap="gray", vmin=low, vmax=high, origin="lower")
cmap = plt.get_cmap("tab20")
present = [c for c in np.unique(labels) if c > 0]
for c in present:
    ax.contour((labels == c).astype(float), levels=[0.5], colors=[cmap(c % 20)], linewidths=0.8)
handles = [plt.Line2D([], [], color=cmap(c % 20), label=SHREC_CLASS_NAMES[c]) for c in present]
if handles:
    ax.legend(handles=handles, loc="upper right", fontsize=6, framealpha=0.7)
ax.set_title(f"{snakemake.wildcards.name} model_{snakemake.wildcards.i}: z = {z}")  # noqa: F821
ax.set_xlabel(f"x (voxels of {voxel_size_nm:g} nm)")
ax.set_ylabel("y (voxels)")
fig.tight_layout()
fig.savefig(snakemake.output[0])  # noqa: F821
log.info("rendered slice z=%d with %d classes outlined", z, len(present))
