"""Pick particles in one tomogram with a trained learning picker (rule pick_learning)."""

from tomobench.backend import torch_device
from tomobench.errors import InputError
from tomobench.methods.learning import load_checkpoint, pick
from tomobench.methods.learning.training import inference_parameters
from tomobench.mrc import read_mrc
from tomobench.particles import write_picks
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params = snakemake.params
checkpoint = load_checkpoint(snakemake.input.checkpoint)
if checkpoint["kind"] != params.kind:
    raise InputError(f"{snakemake.input.checkpoint}: trained as {checkpoint['kind']!r}, "
                     f"the method is configured as kind {params.kind!r}")
volume, voxel_size_nm = read_mrc(snakemake.input.reconstruction)
# the config's keys override the values tuned on the validation tomograms (checkpoint)
configured = dict(params.inference)
log.info("picking %s %s with %s", snakemake.input.reconstruction, volume.shape,
         inference_parameters(checkpoint, configured))
picks = pick(checkpoint, volume, configured, device=torch_device(params.device),
             threads=snakemake.threads)
write_picks(snakemake.output[0], picks)
log.info("%d picks: %s", len(picks), picks.class_name.value_counts().to_dict())
