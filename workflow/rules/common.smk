# Configuration loading and validation, derived lists, wildcard constraints and input functions
# shared by every stage. All Python of the workflow lives here (rules stay declarative).
import os
import re
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config, validate

from tomobench.evaluation.controls import CONTROLS as CONTROL_NAMES
from tomobench.structures.sources import resolve_structure_source
from tomobench.workflow_support import code_dependencies

REPO_ROOT = Path(workflow.basedir)
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"


# A configuration given on the command line (--configfile) *replaces* the default one: the
# default is only loaded when no --configfile was given (--config key=value still applies).
if not workflow.config_settings.configfiles:
    _defaults = load_configfile(str(DEFAULT_CONFIG))
    update_config(_defaults, dict(config))
    config.clear()
    config.update(_defaults)

validate(config, schema="../schemas/config.schema.yaml")


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


def _check_tomogram_roles():
    """Fail early, naming the key, when the train/validation/test split is inconsistent."""
    for key in ("training", "validation", "test"):
        for i in config["tomograms"][key]:
            if i not in TOMOGRAM_IDS:
                raise ValueError(
                    f"config key tomograms.{key}: tomogram {i} does not exist "
                    f"(tomograms.count = {len(TOMOGRAM_IDS)})"
                )
    reserved = sorted(set(METHODS) & set(CONTROLS))
    if reserved:
        raise ValueError(
            f"config key methods: {reserved} are reserved for the benchmark's control "
            "submissions; rename the method"
        )
    overlap = set(TEST_IDS) & (set(TRAINING_IDS) | set(VALIDATION_IDS))
    if overlap:
        raise ValueError(
            f"config key tomograms.test: tomograms {sorted(overlap)} are also used for training/validation"
        )


_check_tomogram_roles()


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
    """The script plus every tomobench module it imports (edits there rerun the rule)."""
    script = REPO_ROOT / "workflow" / "scripts" / script_name
    return [str(script), *code_dependencies(script)]


def method_params(wildcards):
    """The parameter dict of one method only (a change reruns that method alone)."""
    return dict(METHODS[wildcards.method])


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
    base = f"results/{wildcards.name}/potentials"
    return {
        "proteins": [f"{base}/{pdb}.mrc" for pdb in PROTEIN_CLASSES],
        "gold": [f"{base}/gold_{k}.mrc" for k in GOLD_IDS],
    }
