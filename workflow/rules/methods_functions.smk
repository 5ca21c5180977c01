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
    calibrations = [
        f"results/{name}/models/{method}/dog_calibration.json"
        for method, params in METHODS.items()
        if params["kind"] == "dog"
        and params.get("calibration", "training") == "training"
    ]
    return picks + searches + models + calibrations
