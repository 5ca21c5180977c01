"""Validate an external picker's picks of one test tomogram and write them as the method's
SHREC submission (rule check_command_picks). A problem is one line on the console naming the
method, the tomogram, the offending line and the command's log; the raw picks are removed so
that nothing of the failed job is left behind."""

import sys
from pathlib import Path

from tomobench.methods import external
from tomobench.mrc import MrcVolume
from tomobench.particles import read_particle_locations, write_picks
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params, wildcards = snakemake.input, snakemake.params, snakemake.wildcards
where = external.job_name(wildcards.method, wildcards.i)
raw = Path(inputs.picks)
try:
    shape = MrcVolume(inputs.tomogram).shape
    if params.output_format == "star":
        from tomobench.formats.relion import geometry_from_folder

        geometry = geometry_from_folder(Path(inputs.tomogram).parent)
        rows = external.star_pick_rows(raw, geometry, where, params.command_log)
    else:
        rows = external.text_pick_rows(raw, where, params.command_log)
    picks = external.check_rows(
        rows, shape_zyx=shape, allowed_classes=params.classes, where=where,
        log=params.command_log,
        particles_exist=len(read_particle_locations(inputs.locations)) > 0)
except external.PickError as error:
    message = f"tomobench: error: {error}"
    log.error(message)
    print(message, file=sys.__stderr__, flush=True)
    raw.unlink(missing_ok=True)
    sys.exit(1)
write_picks(snakemake.output[0], picks)
log.info("%s: %d valid picks", where, len(picks))
