# Helpers of methods.smk (kept apart from the rules, as the linter asks).


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
    if kinds & {"tm", "tm_f"}:
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
