"""What a run derives from a dataset it did not simulate (rules of workflow/rules/dataset*.smk,
by rule name): the input record, acquisition and scene records, the 180-slab re-release placed
in the reconstruction frame, SHREC class names. Inputs are only read (tomobench.dataset_source).
"""

from tomobench import dataset_source as source
from tomobench.io import read_json, write_json
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import write_particle_locations
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
rule, inputs, output = snakemake.rule, snakemake.input, snakemake.output[0]

if rule == "record_inputs":
    files = [source.file_record(path) for path in inputs]
    write_json(output, {**dict(snakemake.params.source), "files": files})
    log.info("recorded %d input files (%.3g GB)", len(files),
             sum(f["size_bytes"] for f in files) / 1e9)
elif rule == "derive_acquisition":
    alignment = inputs.get("alignment")
    record = source.derived_acquisition(alignment, inputs.reconstruction,
                                        dict(snakemake.params.config))
    write_json(output, record)
    for key, origin in record["derived"].items():
        log.info("derived %s from %s", key, origin)
elif rule == "derive_scene_parameters":
    occupancy, _ = read_mrc(inputs.occupancy)
    record = source.derived_scene_parameters(occupancy)
    write_json(output, record)
    log.info("ice slab z %d + %d voxels (%s)", record["z_offset"], record["ice_voxels"],
             record["derived"]["z_offset"])
elif rule == "shrec_slab_placement":
    depth = source.mrc_header(inputs.reconstruction)[0][0]
    offset = dict(snakemake.params.config)["dataset"]["slab_offset_voxels"]
    placement = source.slab_placement(inputs.locations, inputs.occupancy, depth, offset)
    write_json(output, placement)
    log.info("slab at z offset %d (%s)", placement["z_offset"], placement["derived"])
elif rule == "shrec_pad_slab":
    placement = read_json(inputs.placement, "slab placement")
    depth = source.mrc_header(inputs.reconstruction)[0][0]
    slab, voxel_size_nm = read_mrc(inputs.volume)
    write_mrc(output, source.pad_slab(slab, placement["z_offset"], depth), voxel_size_nm)
    log.info("placed %s %s at z %d of %d sections", inputs.volume, slab.shape,
             placement["z_offset"], depth)
elif rule == "shrec_particle_locations":
    shift = 0
    if "placement" in inputs.keys():
        placement = read_json(inputs.placement, "slab placement")
        shift = placement["z_offset"] if placement["locations_frame"] == "slab" else 0
    write_particle_locations(output, source.normalised_locations(inputs.locations, shift))
    log.info("particle list %s: SHREC class names, z shifted by %d", inputs.locations, shift)
elif rule == "import_copick_run":
    config = dict(snakemake.params.config)
    volumes, locations, notes = source.import_copick_run(config, snakemake.params.run)
    voxel_size_nm = float(config["tomograms"]["voxel_size_nm"])
    for key, volume in volumes.items():
        write_mrc(getattr(snakemake.output, key), volume, voxel_size_nm)
    write_particle_locations(snakemake.output.locations, locations)
    for note in notes:
        log.info("copick run %s: %s", snakemake.params.run, note)
    log.info("copick run %s: tomogram %s, %d particles", snakemake.params.run,
             volumes["reconstruction"].shape, len(locations))
else:
    raise ValueError(f"derive_from_source.py: no derivation for rule {rule}")
