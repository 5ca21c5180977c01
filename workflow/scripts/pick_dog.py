"""Reference-free DoG picks of one tomogram (rule pick_dog)."""

from tomobench.io import read_json
from tomobench.methods.dog import ScaleClassifier, pick
from tomobench.mrc import read_mrc
from tomobench.particles import write_picks
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params = snakemake.params
tomogram, voxel_size_nm = read_mrc(snakemake.input.tomogram)
options = dict(params.method)
log.info("DoG on %s %s at %.3g nm, classes %s, options %s", snakemake.input.tomogram,
         tomogram.shape, voxel_size_nm, list(params.classes), options)
classifier = None
if "calibration" in snakemake.input.keys():
    classifier = ScaleClassifier.from_json(
        read_json(snakemake.input.calibration, "DoG calibration"))
picks = pick(tomogram, voxel_size_nm, list(params.classes), options, classifier)
write_picks(snakemake.output[0], picks)
log.info("%d picks: %s", len(picks), picks.class_name.value_counts().to_dict())
