"""Score one method's picks on one test tomogram as SHREC 2021 did (rule evaluate)."""

import dataclasses

from tomobench.evaluation.controls import check_oracle
from tomobench.evaluation.report import write_evaluation
from tomobench.evaluation.shrec import evaluate_submission
from tomobench.evaluation.truth import load_ground_truth
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, outputs = snakemake.input, snakemake.output
settings = dict(snakemake.params.evaluation)
table = settings.get("class_table")  # a copick project's own classes (project_classes)
truth = load_ground_truth(inputs.locations, inputs.occupancy,
                          class_table=tuple(table) if table else None)
if settings.get("radii_nm"):  # a copick source: the CZII radii of its pickable objects
    truth = dataclasses.replace(truth, radii_nm=dict(settings["radii_nm"]))
if settings.get("czii_weights"):  # the CZII challenge's per-class weights
    truth = dataclasses.replace(truth, czii_weights=dict(settings["czii_weights"]))
log.info("ground truth %s: %d particles, volume %s", inputs.locations, len(truth.class_names),
         truth.volume_shape)
result = evaluate_submission(
    truth,
    inputs.picks,
    mode=settings["mode"],
    czii_radius_fraction=settings["czii_radius_fraction"],
    czii_beta=settings["czii_beta"],
    fiducial_radius_nm=settings["fiducial_radius_nm"],
    bootstrap_resamples=settings["bootstrap_resamples"],
    seed=settings["seed"],
)
for warning in result["warnings"]:
    log.warning(warning)
loc = result["localization"]
log.info("%s: TP %d FP %d FN %d F1 %.5f", inputs.picks, loc["TP"], loc["FP"], loc["FN"], loc["F1"])
if snakemake.wildcards.method == "oracle":
    check_oracle(result, f"{inputs.locations} + {inputs.occupancy}")
write_evaluation(result, outputs.json, outputs.text, outputs.confusion, title=inputs.picks)
