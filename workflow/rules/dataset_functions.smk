# Input functions of dataset.smk (kept apart from the rules, as the linter asks): which file of
# a tomogram is read in place from the source and which is derived under results/<name>/data.
from tomobench.dataset_source import copick_radii_nm

#: The CZII radius (nm) of each pickable object of a copick source ({} otherwise).
COPICK_RADII_NM = copick_radii_nm(config) if DATASET_SOURCE == "copick" else {}


def source_model_file(key, i, name):
    """``model_file`` of a dataset that is not simulated: the source's own file where the
    pickers can read it as is, else the derived file under results/<name>/data (an input
    function of the wildcards when ``i`` is the wildcard ``{i}``)."""
    if i == "{i}":
        return lambda wildcards: source_model_file(key, wildcards.i, wildcards.name)
    model = DATASET_MODELS[int(i)]
    if key in model.derived:
        return f"results/{name}/data/model_{i}/{MODEL_FILES[key]}"
    return str(model.files[key])


def derived_file(key):
    """Output pattern of file ``key`` of tomogram ``{i}`` derived under results/{name}/data."""
    return f"results/{{name}}/data/model_{{i}}/{MODEL_FILES[key]}"


def source_file(key):
    """Input function: file ``key`` of tomogram ``{i}`` as the source has it (``{volume}``:
    the wildcard's)."""

    def path(wildcards):
        resolved = wildcards.volume if key == "{volume}" else key
        return str(DATASET_MODELS[int(wildcards.i)].files[resolved])

    return path


def source_input_files(wildcards):
    """Every file of the source that the run reads (recorded in inputs.json)."""
    return sorted(
        {str(p) for model in DATASET_MODELS.values() for p in model.files.values()}
    )


def source_description():
    """The dataset config block and what is derived per tomogram (for inputs.json)."""
    return {
        "dataset": config["dataset"],
        "tomograms": {
            f"model_{i}": {
                "folder": str(model.folder),
                "release": model.release,
                "derived": dict(model.notes),
            }
            for i, model in DATASET_MODELS.items()
        },
    }


def source_settings():
    """The config sections a derivation reads."""
    return {
        key: config[key]
        for key in ("dataset", "tomograms", "microscope", "tilt_series", "structures")
    }


def acquisition_inputs(wildcards):
    """The reconstruction (header) and, when the source has one, the alignment file."""
    files = DATASET_MODELS[int(wildcards.i)].files
    inputs = {
        "reconstruction": model_file("reconstruction", wildcards.i, wildcards.name)
    }
    if "alignment" in files:
        inputs["alignment"] = str(files["alignment"])
    return inputs


def shrec_locations_inputs(wildcards):
    """The source's particle list, and the slab placement for the 180-slab re-release."""
    model = DATASET_MODELS[int(wildcards.i)]
    inputs = {"locations": str(model.files["particle_locations"])}
    if model.release == "slab":
        inputs["placement"] = (
            f"results/{wildcards.name}/dataset/model_{wildcards.i}_slab.json"
        )
    return inputs


def dataset_outputs(name):
    """What the run derives from its source, the input record and the central slices."""
    derived = [
        f"results/{name}/data/model_{i}/{MODEL_FILES[key]}"
        for i, model in DATASET_MODELS.items()
        for key in model.derived
    ]
    figures = [
        f"results/{name}/figures/model_{i}_central_slice.png" for i in DATASET_MODELS
    ]
    return [f"results/{name}/inputs.json"] + derived + figures


def source_run_files(wildcards):
    """Every file of copick run ``{i}`` (and the project configuration)."""
    return sorted(str(p) for p in DATASET_MODELS[int(wildcards.i)].files.values())


def copick_run_name(wildcards):
    """The copick run of tomogram ``{i}``."""
    return DATASET_MODELS[int(wildcards.i)].run
