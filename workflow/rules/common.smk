# Configuration loading and validation, derived lists, wildcard constraints and input functions
# shared by every stage. Rules stay declarative: their Python lives here and in the
# <stage>_functions.smk file each stage includes (cluster_functions.smk: resources).
import os
import re
import sys
from pathlib import Path

import yaml
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config, validate

from tomobench.config_checks import (
    check_config,
    check_writable,
    dataset_layout,
    one_line_errors,
    validate_config,
)
from tomobench.evaluation.controls import CONTROLS as CONTROL_NAMES
from tomobench.io import MODEL_FILES, TRAINING_FILES
from tomobench.project_classes import class_table as project_class_table
from tomobench.project_classes import czii_weights as project_czii_weights
from tomobench.project_classes import project_objects, skipped_outputs
from tomobench.project_classes import radii_nm as project_radii_nm
from tomobench.methods.kinds import (
    LEARNING_KINDS,
    METHOD_KINDS,
    PAPER_NAME_BY_KIND,
    TEMPLATE_MATCHING_KINDS,
)
from tomobench.structures.sources import resolve_structure_source
from tomobench.workflow_support import code_hash

REPO_ROOT = Path(workflow.basedir)
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"
SCHEMA = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _import_package_from_checkout():
    """Put this checkout's src/ on PYTHONPATH, so jobs import tomobench from it in any
    software environment: the .venv of `make install`, or a conda env built from
    envs/tomobench.yaml (--sdm conda) wherever Snakemake copied that file. Jobs inherit the
    variable (SLURM: sbatch --export=ALL)."""
    source = str(REPO_ROOT / "src")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if source not in paths:
        os.environ.update(PYTHONPATH=os.pathsep.join([source, *paths]))


_import_package_from_checkout()


# A configuration given on the command line (--configfile) *replaces* the default one: the
# default is only loaded when no --configfile was given (--config key=value still applies).
if not workflow.config_settings.configfiles:
    _defaults = load_configfile(str(DEFAULT_CONFIG))
    update_config(_defaults, dict(config))
    config.clear()
    config.update(_defaults)

# One line naming the key for a bad value (integral floats such as 3.0 become ints first),
# then snakemake fills in the schema defaults.
with one_line_errors():
    validate_config(
        config,
        yaml.safe_load(SCHEMA.read_text()),
        overrides=workflow.config_settings.config,
    )
validate(config, schema=str(SCHEMA))


def _sorted_keys(node):
    """Mappings with sorted keys, recursively: params compare by repr, so key order must not matter."""
    if isinstance(node, dict):
        return {key: _sorted_keys(node[key]) for key in sorted(node)}
    if isinstance(node, list):
        return [_sorted_keys(item) for item in node]
    return node


_canonical = _sorted_keys(dict(config))
config.clear()
config.update(_canonical)

RUN_NAME = config["name"]
SEED = config["seed"]
DEVICE = config["device"]

TOMOGRAM_IDS = list(range(config["tomograms"]["count"]))
TRAINING_IDS = list(config["tomograms"]["training"])
VALIDATION_IDS = list(config["tomograms"]["validation"])
TEST_IDS = list(config["tomograms"]["test"])
FINAL_VOXEL_NM = float(config["tomograms"]["voxel_size_nm"])
SIMULATION_VOXEL_NM = FINAL_VOXEL_NM / config["tomograms"]["binning"]

PROTEIN_CLASSES = list(config["structures"]["classes"])
GOLD_IDS = list(range(config["potential"]["gold_library_size"]))

METHODS = config["methods"]
#: Control submissions evaluated beside the methods (tomobench.evaluation.controls).
CONTROLS = list(CONTROL_NAMES)


# The config as a whole (ranges, sizes, files, GPU) before any job starts, once, in the main
# process (cluster jobs re-read this file). The GPU is only looked for where jobs run locally,
# not when --jobs sends them to a cluster.
if workflow.is_main_process:
    with one_line_errors():
        for warning in check_config(
            config, check_device=workflow.resource_settings.nodes is None
        ):
            print(f"tomobench: warning: {warning}", file=sys.stderr)


#: Where the tomograms come from (dataset.source): simulated, or read in place from a SHREC
#: folder or a copick project; then {tomogram id: its files (tomobench.dataset_source)} of the
#: tomograms the roles use, and those are the run's tomograms.
DATASET_SOURCE = config["dataset"]["source"]
with one_line_errors():
    DATASET_MODELS = dataset_layout(config)
if DATASET_SOURCE != "simulate":
    TOMOGRAM_IDS = sorted(DATASET_MODELS)
#: A copick project's own classes (tomobench.project_classes; () for SHREC classes): they are
#: the run's classes, and the paper outputs they lack facts for are skipped (SKIPPED_OUTPUTS).
with one_line_errors():
    PROJECT_OBJECTS = project_objects(config)
SKIPPED_OUTPUTS = skipped_outputs(PROJECT_OBJECTS)
if PROJECT_OBJECTS:
    PROTEIN_CLASSES = [o.name for o in PROJECT_OBJECTS]


def _regex_alternatives(names):
    """Regex matching exactly one of ``names`` (an unmatchable regex when empty)."""
    if not names:
        return "(?!x)x"
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def methods_regex(*kinds):
    """Regex of the configured method names whose ``kind`` is one of ``kinds``."""
    return _regex_alternatives([m for m, p in METHODS.items() if p["kind"] in kinds])


wildcard_constraints:
    name=re.escape(RUN_NAME),
    i=r"\d+",
    pdb_id=r"[0-9][A-Za-z0-9]{3}",
    k=r"\d+",
    method=_regex_alternatives(list(METHODS) + CONTROLS),


def code(script_name):
    """Content hash of the script and every tomobench module it imports, for ``params``:
    an edit there reruns the rule, moving the project or the results does not."""
    return code_hash(REPO_ROOT / "workflow" / "scripts" / script_name)


def model_file(key, i="{i}", name="{name}"):
    """Path of file ``key`` of tomogram ``i`` in run ``name``: the SHREC folder layout of
    ``tomobench.io.MODEL_FILES`` (wildcards by default); for a dataset that is not simulated,
    the source's file or the derived one (``source_model_file``, dataset_functions.smk).
    """
    if DATASET_SOURCE != "simulate":
        return source_model_file(key, i, name)
    return f"results/{name}/data/model_{i}/{MODEL_FILES[key]}"


def model_files(keys, ids, name="{name}"):
    """``model_file`` of each key for each tomogram id, key-major."""
    return [model_file(key, i, name) for key in keys for i in ids]


def method_params(wildcards):
    """The parameter dict of one method only (a change reruns that method alone); DoG on a
    copick project's own classes takes each object's radius unless radii_nm says otherwise.
    """
    params = dict(METHODS[wildcards.method])
    if PROJECT_OBJECTS and params["kind"] == "dog":
        params["radii_nm"] = {
            **project_radii_nm(PROJECT_OBJECTS),
            **(params.get("radii_nm") or {}),
        }
    return params


def dog_calibration(wildcards):
    """{"calibration": JSON} of a DoG method calibrated on the training tomograms, else {}."""
    if METHODS[wildcards.method].get("calibration", "training") != "training":
        return {}
    path = f"results/{wildcards.name}/models/{wildcards.method}/dog_calibration.json"
    return {"calibration": path}


def structures_local_dir():
    """Local structure folder: $TOMOBENCH_STRUCTURES, else config structures.local_dir."""
    return os.environ.get("TOMOBENCH_STRUCTURES") or config["structures"]["local_dir"]


def structure_source(wildcards):
    """The structure file for ``{pdb_id}``: local file, else the RCSB download cache path."""
    return str(
        resolve_structure_source(
            wildcards.pdb_id,
            structures_local_dir(),
            config["structures"]["cache_dir"],
            config["structures"]["prefer"],
        )
    )


def potential_files(wildcards):
    """Potential maps of the run, grouped for ``unpack``: proteins, gold (vesicles are made
    in place by the scene)."""
    return potential_paths(wildcards.name)


def potential_paths(name):
    """Potential maps of run ``name``: {"proteins": [...], "gold": [...]}."""
    base = f"results/{name}/potentials"
    return {
        "proteins": [f"{base}/{pdb}.mrc" for pdb in PROTEIN_CLASSES],
        "gold": [f"{base}/gold_{k}.mrc" for k in GOLD_IDS],
    }


include: "cluster_functions.smk"
