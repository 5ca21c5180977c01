"""Job manifest of an external picker's train or pick job (rule command_manifest): the JSON
the command receives (docs/EXTERNAL_PICKERS.md)."""

from tomobench.io import write_json
from tomobench.methods import external
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params = snakemake.input, snakemake.params
settings = params.manifest
tomograms = [external.tomogram_entry(i, path)
             for i, path in zip(settings["tomogram_ids"], inputs.tomograms, strict=True)]
classes = external.class_table(
    settings["classes"], potentials=dict(zip(settings["classes"], inputs.potentials, strict=True)),
    fiducial_radius_nm=settings["fiducial_radius_nm"],
    vesicle_radius_nm=settings["vesicle_radius_nm"])
manifest = external.job_manifest(
    stage=settings["stage"], method=snakemake.wildcards.method, run=snakemake.wildcards.name,
    tomograms=tomograms, training=settings["training"], validation=settings["validation"],
    classes=classes, threads=settings["threads"], device=settings["device"],
    seed=settings["seed"], model_dir=settings["model_dir"], output=settings["output"],
    output_format=settings["output_format"])
write_json(snakemake.output[0], manifest)
log.info("%s manifest of %s: %d tomogram(s), %d classes", settings["stage"],
         snakemake.wildcards.method, len(tomograms), len(classes))
