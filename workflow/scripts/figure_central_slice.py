"""Figure 4-like: central slice of the first test tomogram with ground truth and picks."""

from tomobench.mrc import read_mrc
from tomobench.paper.figures import central_slice_figure, save_figure, write_figure_page
from tomobench.particles import read_particle_locations, read_picks
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
tomogram, voxel_size_nm = read_mrc(inputs.reconstruction, mmap=True)
truth = read_particle_locations(inputs.locations)
picks = {method: read_picks(inputs[method]) for method in params.methods}
log.info("%s %s: %d particles; picks %s", params.tomogram, tomogram.shape, len(truth),
         {m: len(p) for m, p in picks.items()})
figure = central_slice_figure(tomogram, truth, picks, voxel_size_nm=voxel_size_nm,
                              radii_nm=dict(params.radii_nm),
                              title=f"{params.tomogram}: central slice, circles ground truth, "
                                    "crosses picks")
save_figure(figure, output.png, output.pdf)
write_figure_page(snakemake.output.png, snakemake.output.html, snakemake.params.caption,
                  title="Figure 4: central slice with picks")
