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


def _simulation_voxels():
    """Voxels of the unbinned ice slab (the simulation grid) and of the final volume."""
    t = config["tomograms"]
    ice_voxels = int(round(config["scene"]["ice_thickness_nm"] / t["voxel_size_nm"]))
    final = t["size_xy_voxels"] ** 2 * t["size_z_voxels"]
    return t["binning"] ** 3 * t["size_xy_voxels"] ** 2 * ice_voxels, final


def _scene_mem_mb(wildcards, attempt):
    """Memory of simulate_scene (MB): the complex model (8 B/voxel), the occupancy (2 B),
    the binning intermediate (1 B) and one final float32 volume, plus 700 MB of libraries
    and interpreter (measured at paper size: see benchmarks/simulation.py)."""
    voxels, final = _simulation_voxels()
    return int((700 + (11 * voxels + 4 * final) / 1e6) * attempt)


def _tilt_series_mem_mb(wildcards, attempt):
    """Memory of simulate_tilt_series (MB): the padded spline coefficients (8 B/voxel), the
    projection stack, per-tilt slab matrices and scratch (500 MB) and 500 MB of interpreter.
    """
    voxels, _ = _simulation_voxels()
    t = config["tomograms"]
    pixels = (t["binning"] * t["size_xy_voxels"]) ** 2 * config["tilt_series"][
        "tilt_count"
    ]
    return int((1000 + (8.5 * voxels + 4 * pixels) / 1e6) * attempt)


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
