"""Precomputed picks of one test tomogram as a method's submission (rule pick_submission):
SHREC text, RELION 4/5 STAR or a copick project's points, validated like an external picker's
output and written in the SHREC format."""

import sys
from pathlib import Path

from tomobench.methods import external
from tomobench.mrc import MrcVolume
from tomobench.particles import read_particle_locations, write_picks
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, wildcards = snakemake.input, snakemake.params, snakemake.wildcards
entry = params.submission
where = external.job_name(wildcards.method, wildcards.i)
try:
    shape = MrcVolume(inputs.tomogram).shape
    if entry["format"] == "copick":
        from tomobench.formats import copick_project

        root = copick_project.open_project(inputs.copick)
        voxel_size_A = MrcVolume(inputs.tomogram).voxel_size_nm * 10.0
        run = f"model_{wildcards.i}"
        picks = copick_project.load_picks(root, run, entry["user"], entry.get("session"),
                                          voxel_size_A)
        rows = external.frame_rows(picks, f"{inputs.copick}: run {run}")
    elif entry["format"] == "star":
        from tomobench.formats.relion import geometry_from_folder

        geometry = geometry_from_folder(Path(inputs.tomogram).parent)
        rows = external.star_pick_rows(inputs.picks, geometry, where)
    else:
        rows = external.text_pick_rows(inputs.picks, where)
    picks = external.check_rows(
        rows, shape_zyx=shape, allowed_classes=params.classes, where=where,
        particles_exist=len(read_particle_locations(inputs.locations)) > 0)
except external.InputError as error:
    problem = str(error) if isinstance(error, external.PickError) else f"{where}: {error}"
    message = f"tomobench: error: {problem}"
    log.error(message)
    print(message, file=sys.__stderr__, flush=True)
    sys.exit(1)
write_picks(snakemake.output[0], picks)
log.info("%s: %d picks from %s", where, len(picks), entry["path"])
