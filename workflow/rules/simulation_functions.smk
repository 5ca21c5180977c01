# Helper functions of simulation.smk (kept apart from the rules, as the linter asks).


def _simulation_config():
    """The config sections the simulation reads (a change elsewhere does not rerun it)."""
    return {
        key: config.get(key) or {}
        for key in ("tomograms", "scene", "microscope", "tilt_series", "faithful")
    }


def dataset_outputs(name):
    """Every SHREC-layout file of every tomogram of run ``name``."""
    data = model_files(MODEL_FILES, TOMOGRAM_IDS, name)
    figures = [
        f"results/{name}/figures/model_{i}_central_slice.png" for i in TOMOGRAM_IDS
    ]
    return data + figures
