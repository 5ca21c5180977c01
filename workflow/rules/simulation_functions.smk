# Helper functions of simulation.smk (kept apart from the rules, as the linter asks).


def _simulation_config():
    """The config sections the simulation reads (a change elsewhere does not rerun it)."""
    return {
        key: config.get(key) or {}
        for key in ("tomograms", "scene", "microscope", "tilt_series", "faithful")
    }


def _simulation_mem_mb(wildcards, attempt):
    """Memory for one tomogram: complex model, spline coefficients, masks and scratch (MB)."""
    t = config["tomograms"]
    voxels = (
        (t["binning"] ** 3)
        * t["size_xy_voxels"] ** 2
        * int(round(config["scene"]["ice_thickness_nm"] / t["voxel_size_nm"]))
    )
    return int(1000 + 16 * voxels / 1e6 * attempt)


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


def _reconstruction_mem_mb(wildcards, attempt):
    """Memory for one WBP (MB): the unbinned projection stack plus the volume and scratch."""
    t = config["tomograms"]
    pixels = (t["binning"] * t["size_xy_voxels"]) ** 2 * config["tilt_series"][
        "tilt_count"
    ]
    voxels = t["size_xy_voxels"] ** 2 * t["size_z_voxels"]
    return int(1000 + 16e-6 * (pixels + voxels) * attempt)
