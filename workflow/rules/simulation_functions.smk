# Helper functions of simulation.smk (kept apart from the rules, as the linter asks).


def _simulation_config():
    """The config sections the simulation reads (a change elsewhere does not rerun it)."""
    return {
        key: config.get(key) or {}
        for key in (
            "tomograms",
            "scene",
            "microscope",
            "tilt_series",
            "faithful",
            "potential",
        )
    }


def dataset_outputs(name):
    """Every SHREC-layout file of every tomogram of run ``name``."""
    files = (
        "reconstruction.mrc",
        "grandmodel.mrc",
        "class_mask.mrc",
        "occupancy_mask.mrc",
        "particle_locations.txt",
        "scene_parameters.json",
        "projections.mrc",
        "alignment_simulated.txt",
        "acquisition_parameters.json",
    )
    data = [f"results/{name}/data/model_{i}/{f}" for i in TOMOGRAM_IDS for f in files]
    figures = [
        f"results/{name}/figures/model_{i}_central_slice.png" for i in TOMOGRAM_IDS
    ]
    return data + figures


def _reconstruction_config():
    """The config sections the reconstruction reads."""
    return {
        key: config.get(key) or {}
        for key in ("tomograms", "scene", "reconstruction", "faithful")
    }
