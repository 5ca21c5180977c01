"""Learn a DoG method's scale -> class map on the training tomograms (rule calibrate_dog)."""

from tomobench.errors import InputError
from tomobench.io import write_json
from tomobench.methods.dog import calibrate
from tomobench.mrc import read_mrc
from tomobench.particles import read_particle_locations
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params = snakemake.input, snakemake.params
tomograms, occupancies, voxel_sizes_nm = [], [], []
for volume_path, locations_path, occupancy_path in zip(
        inputs.reconstructions, inputs.locations, inputs.occupancies, strict=True):
    volume, voxel_size_nm = read_mrc(volume_path)
    voxel_sizes_nm.append(voxel_size_nm)
    tomograms.append((volume, read_particle_locations(locations_path)))
    occupancies.append(read_mrc(occupancy_path)[0])
    log.info("loaded %s %s at %.4g nm", volume_path, volume.shape, voxel_size_nm)
if max(voxel_sizes_nm) - min(voxel_sizes_nm) > 1e-6 * max(voxel_sizes_nm):
    raise InputError(f"{inputs.reconstructions}: voxel sizes differ ({voxel_sizes_nm} nm)")
classifier = calibrate(tomograms, voxel_size_nm, list(params.classes), dict(params.method),
                       occupancies)
for name, count, mean in zip(classifier.classes, classifier.counts, classifier.means,
                             strict=True):
    log.info("%-8s %4d particles: log sigma %.3f, log z %.3f", name, count, *mean)
write_json(snakemake.output[0], classifier.to_json())
if classifier.threshold_sigma is not None:
    log.info("threshold_sigma %.1f (localisation F1 by threshold: %s)",
             classifier.threshold_sigma, classifier.threshold_scores)
