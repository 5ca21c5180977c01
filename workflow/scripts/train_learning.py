"""Train one learning picker (rule train_learning): checkpoint.pt + training.json.

Inputs are lists over the training then the validation tomograms
(``params.training_ids + params.validation_ids``), one list per file kind.
"""

from pathlib import Path

from tomobench.backend import torch_device
from tomobench.io import TRAINING_FILES, write_json
from tomobench.methods.learning import load_tomogram, save_checkpoint, train
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
params = snakemake.params
ids = list(params.training_ids) + list(params.validation_ids)
tomograms = []
for index, tomogram_id in enumerate(ids):
    paths = {key: snakemake.input[key][index] for key in TRAINING_FILES}
    tomograms.append(load_tomogram(paths, name=f"model_{tomogram_id}"))
    log.info("loaded model_%s %s", tomogram_id, tomograms[-1].shape)
n_training = len(params.training_ids)
device = torch_device(params.device)
checkpoint_path = Path(snakemake.output.checkpoint)
checkpoint, report = train(
    params.kind,
    dict(params.training),
    tomograms[:n_training],
    tomograms[n_training:],
    seed=int(params.seed),
    device=device,
    threads=snakemake.threads,
    state_path=checkpoint_path.with_name("training_state.pt"),
)
save_checkpoint(checkpoint_path, checkpoint)
write_json(snakemake.output.report, report)
log.info("best step %d; wrote %s", report["best_step"], checkpoint_path)
