# Helpers of methods.smk (kept apart from the rules, as the linter asks).

TM_CHUNKS = list(range(config["template_matching"]["rotation_chunks"]))


def class_name(wildcards):
    """The class searched by a match_templates job (its PDB id)."""
    return wildcards.pdb_id


def rotation_chunk(wildcards):
    """The rotation chunk of a match_templates job."""
    return int(wildcards.chunk)


def acquisition_fallback():
    """Microscope and tilt values template matching uses where a tomogram's
    acquisition_parameters.json lacks them (tomobench.io.read_acquisition)."""
    return {
        "voltage_kv": config["microscope"]["voltage_kv"],
        "spherical_aberration_mm": config["microscope"]["spherical_aberration_mm"],
        "tilt_range_deg": config["tilt_series"]["tilt_range_deg"],
    }


def method_kind(wildcards):
    """The kind of the job's method."""
    return METHODS[wildcards.method]["kind"]


# Learning kinds by their measured training time on the default data, slowest first (one
# thread, quiet machine: MC DS Net 18 min, DeepFinder 9, CFN and YOPO 2-3; URFinder ~27 and
# U-CLSTM ~15 in the overlay, estimated from shorter or two-thread runs).
TRAINING_ORDER = ["mc_ds_net", "urfinder", "u_clstm", "deepfinder", "cfn", "yopo"]


def training_priority(wildcards):
    """Trainings are the longest jobs: they outrank everything else (priority 10 and up), the
    slowest kind first, so the short ones fill in beside it (list scheduling)."""
    kind = method_kind(wildcards)
    rank = TRAINING_ORDER.index(kind) if kind in TRAINING_ORDER else len(TRAINING_ORDER)
    return 10 + len(TRAINING_ORDER) - rank


def learning_section(section):
    """Param function: only the ``training`` or ``inference`` sub-dict of a learning method
    (a change of the other one does not rerun the rule)."""

    def params(wildcards):
        return dict(METHODS[wildcards.method].get(section) or {})

    return params


def method_outputs(name):
    """Every pick file (controls included), template-matching map, trained model and DoG
    calibration of run ``name``: the intermediates the evaluation and the tables rest on, so
    that ``all`` rebuilds one that was deleted instead of reporting nothing to do."""
    picks = expand(
        "results/{name}/picks/{method}/model_{i}.txt",
        name=name,
        method=list(METHODS) + CONTROLS,
        i=TEST_IDS,
    )
    kinds = {params["kind"] for params in METHODS.values()}
    searches = []
    if kinds & set(TEMPLATE_MATCHING_KINDS):
        searches = expand(
            "results/{name}/template_matching/model_{i}/{pdb_id}_chunk{chunk}{suffix}",
            name=name,
            i=TEST_IDS,
            pdb_id=PROTEIN_CLASSES,
            chunk=TM_CHUNKS,
            suffix=("_scores.mrc", "_angles.mrc", ".json"),
        )
    models = expand(
        "results/{name}/models/{method}/{file}",
        name=name,
        method=[m for m, p in METHODS.items() if p["kind"] in LEARNING_KINDS],
        file=("checkpoint.pt", "training.json", "training.png"),
    )
    command_models = [
        command_model_dir(name, method)
        for method, params in METHODS.items()
        if params["kind"] == "command" and command_has_training(method)
    ]
    calibrations = [
        f"results/{name}/models/{method}/dog_calibration.json"
        for method, params in METHODS.items()
        if params["kind"] == "dog"
        and params.get("calibration", "training") == "training"
    ]
    return picks + searches + models + command_models + calibrations


# --- external pickers (kind: command) and precomputed picks (kind: submission) ------------
# The contract is docs/EXTERNAL_PICKERS.md; the logic is tomobench.methods.external.
from tomobench.methods.external import (
    SUBMISSION_DEFAULTS,
    command_fingerprint,
    command_settings,
    copick_point_files,
    render_command,
    submission_file,
    wrapper_script,
)


def command_entry(wildcards):
    """A command method's entry with the defaults filled in."""
    return command_settings(METHODS[wildcards.method])


def command_threads(wildcards):
    return command_entry(wildcards)["threads"]


def command_mem_mb(wildcards):
    return command_entry(wildcards)["mem_mb"]


def command_gpu(wildcards):
    return int(bool(command_entry(wildcards)["gpu"]))


def command_conda(wildcards):
    """The method's conda env file (absolute: relative paths are the working directory's),
    an env name, or None; used only with --sdm conda."""
    env = command_entry(wildcards)["conda"]
    if env and env.endswith((".yaml", ".yml")):
        return str(Path(env).resolve())
    return env or None


def command_container(wildcards):
    """The method's container image (used only with --sdm apptainer), or None."""
    return command_entry(wildcards)["container"] or None


def command_model_dir(name, method):
    return f"results/{name}/models/{method}/model"


def command_has_training(method):
    return bool(command_settings(METHODS[method])["train"])


def command_output(wildcards, i=None):
    """Where the pick command writes (SHREC text or STAR, as output_format says): a scratch
    file removed once validated."""
    i = wildcards.i if i is None else i
    return f"results/{wildcards.name}/work/{wildcards.method}/model_{i}.picks"


def command_job_log(stage, wildcards):
    """The log of the command's stdout and stderr (the rule's log)."""
    if stage == "train":
        return f"results/{wildcards.name}/logs/train_command/{wildcards.method}.log"
    return f"results/{wildcards.name}/logs/pick_command/{wildcards.method}_model_{wildcards.i}.log"


def command_manifest_inputs(wildcards):
    """The reconstructions listed by a manifest (none for training) and the potentials."""
    ids = [] if wildcards.job == "train" else [int(wildcards.job.split("_")[1])]
    return {
        "tomograms": model_files(["reconstruction"], ids, wildcards.name),
        "potentials": potential_paths(wildcards.name)["proteins"],
    }


def command_manifest_params(wildcards):
    """Everything a manifest holds besides what is read from the input files."""
    entry = command_entry(wildcards)
    name, method = wildcards.name, wildcards.method
    train = wildcards.job == "train"
    ids = [] if train else [int(wildcards.job.split("_")[1])]
    potential = config["potential"]
    return {
        "stage": "train" if train else "pick",
        "tomogram_ids": ids,
        "training": {i: model_folder(i, name) for i in TRAINING_IDS},
        "validation": {i: model_folder(i, name) for i in VALIDATION_IDS},
        "classes": PROTEIN_CLASSES,
        "fiducial_radius_nm": sum(potential["gold_diameter_nm"]) / 4.0,
        "vesicle_radius_nm": sum(potential["vesicle_diameter_nm"]) / 4.0,
        "threads": entry["threads"],
        "device": "cuda" if entry["gpu"] else "cpu",
        "seed": SEED,
        "model_dir": command_model_dir(name, method) if entry["train"] else None,
        "output": None if train else command_output(wildcards, ids[0]),
        "output_format": entry["output_format"],
    }


def model_folder(i, name):
    """The SHREC-layout folder of tomogram ``i``."""
    return str(Path(model_file("reconstruction", i, name)).parent)


def command_data_inputs(wildcards):
    """The training and validation folders' files and the potentials a manifest names."""
    return (
        model_files(TRAINING_FILES, TRAINING_IDS + VALIDATION_IDS, wildcards.name)
        + potential_paths(wildcards.name)["proteins"]
    )


def command_pick_inputs(wildcards):
    """A pick job's manifest, tomogram, data and (when the method trains) model folder."""
    inputs = {
        "manifest": f"results/{wildcards.name}/work/{wildcards.method}/model_{wildcards.i}.json",
        "tomogram": model_file("reconstruction", wildcards.i, wildcards.name),
        "data": command_data_inputs(wildcards),
    }
    if command_has_training(wildcards.method):
        inputs["model"] = command_model_dir(wildcards.name, wildcards.method)
    return inputs


def command_fingerprint_params(stage):
    """Param function: the command template and the content of every local file it names,
    plus the settings the job depends on, so an edit reruns this method only."""

    def params(wildcards):
        entry = command_entry(wildcards)
        return {
            **command_fingerprint(entry[stage]),
            "threads": entry["threads"],
            "gpu": entry["gpu"],
            "timeout_min": entry["timeout_min"],
        }

    return params


def command_script(stage):
    """Param function: the bash text of a train or pick job (external.wrapper_script)."""

    def params(wildcards):
        entry = command_entry(wildcards)
        name, method = wildcards.name, wildcards.method
        model_dir = command_model_dir(name, method) if entry["train"] else None
        if stage == "train":
            values = {
                "manifest": f"results/{name}/work/{method}/train.json",
                "model_dir": model_dir,
                "threads": entry["threads"],
            }
            what = f"method {method}"
        else:
            values = {
                "manifest": f"results/{name}/work/{method}/model_{wildcards.i}.json",
                "output": command_output(wildcards),
                "model_dir": model_dir or "",
                "threads": entry["threads"],
            }
            what = f"method {method}, tomogram model_{wildcards.i}"
        return wrapper_script(
            render_command(entry[stage], values),
            what=what,
            stage=stage,
            log=command_job_log(stage, wildcards),
            timeout_min=entry["timeout_min"],
            threads=entry["threads"],
            output=values.get("output"),
            model_dir=model_dir if stage == "train" else None,
        )

    return params


def command_raw_picks(wildcards):
    return command_output(wildcards)


def command_output_format(wildcards):
    return command_entry(wildcards)["output_format"]


def command_pick_log(wildcards):
    return command_job_log("pick", wildcards)


def submission_inputs(wildcards):
    """The submission's file for tomogram {i}, or its copick configuration and point files."""
    entry = {**SUBMISSION_DEFAULTS, **METHODS[wildcards.method]}
    if entry["format"] == "copick":
        return {
            "copick": entry["path"],
            "points": copick_point_files(entry, f"model_{wildcards.i}"),
        }
    return {"picks": submission_file(entry, wildcards.i)}


def scored_classes_of_run():
    """Classes a pick may carry: the run's proteins, vesicle and fiducial."""
    return PROTEIN_CLASSES + ["vesicle", "fiducial"]
