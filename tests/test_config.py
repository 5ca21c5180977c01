"""One source of truth per default and per kind: the schema, the settings classes, the method
parameter tables, the kind list and the learning registry agree (a divergence fails here)."""

import dataclasses
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate as fill_schema_defaults

from tomobench.config import microscope, scene_parameters, tilt_series_settings
from tomobench.errors import InputError
from tomobench.methods.dog import DOG_DEFAULTS, dog_options
from tomobench.methods.external import COMMAND_DEFAULTS, SUBMISSION_DEFAULTS, command_settings
from tomobench.methods.kinds import (
    ENTRY_KEYS,
    FAMILIES,
    LEARNING_KINDS,
    METHOD_KINDS,
    PAPER_NAME_BY_KIND,
    TEMPLATE_MATCHING_KINDS,
    kinds_of,
)
from tomobench.methods.template_matching import (
    EXTRACTION_DEFAULTS,
    SEARCH_DEFAULTS,
    extraction_settings,
)
from tomobench.paper.published import PAPER_METHODS
from tomobench.simulation.ctf import Microscope
from tomobench.simulation.scene import SceneParameters
from tomobench.simulation.tilt_series import TiltSeriesSettings

from .conftest import planned_jobs, snakemake

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


@pytest.fixture(scope="module")
def schema_defaults() -> dict:
    """A minimal config with every section filled in by the schema's defaults."""
    config = {"name": "x", "seed": 0, "methods": {"DoG": {"kind": "dog"}},
              "tomograms": {"count": 1, "training": [], "validation": [], "test": [0]}}
    fill_schema_defaults(config, str(SCHEMA_PATH))
    return config


def _field_defaults(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}


def test_settings_classes_default_to_the_schema(schema_defaults):
    """A settings object built without arguments is the one the schema's defaults give."""
    assert microscope(schema_defaults["microscope"]) == Microscope()
    assert tilt_series_settings(schema_defaults) == TiltSeriesSettings()
    from_schema = scene_parameters(schema_defaults)
    for name, default in _field_defaults(SceneParameters).items():
        assert getattr(from_schema, name) == default, f"scene: {name}"


def test_template_matching_search_defaults_are_the_schema_defaults(schema_defaults):
    assert SEARCH_DEFAULTS == schema_defaults["template_matching"]


def _parameter_keys(definition: str) -> set[str]:
    return set(SCHEMA["$defs"][definition]["properties"]) - set(ENTRY_KEYS)


def test_method_parameter_tables_list_the_schema_keys():
    """Method entries have their defaults in the package; the schema lists the same keys."""
    assert set(DOG_DEFAULTS) == _parameter_keys("dog")
    assert set(EXTRACTION_DEFAULTS) == _parameter_keys("template_matching_extraction")
    assert set(COMMAND_DEFAULTS) == _parameter_keys("command")
    assert set(SUBMISSION_DEFAULTS) == _parameter_keys("submission")


#: Per family with a parser of its entries: the schema definition, the parser (entry -> its
#: settings) and the parameter table whose keys it accepts.
ENTRY_PARSERS = {
    "dog": ("dog", dog_options, DOG_DEFAULTS),
    "tm": ("template_matching_extraction", lambda e: extraction_settings("tm", e),
           EXTRACTION_DEFAULTS),
    "tm_f": ("template_matching_extraction", lambda e: extraction_settings("tm_f", e),
             EXTRACTION_DEFAULTS),
    "command": ("command", command_settings, COMMAND_DEFAULTS),
}


@pytest.mark.parametrize("kind", list(ENTRY_PARSERS))
def test_method_parsers_accept_exactly_the_schema_keys(kind):
    """An entry with every key its schema definition allows (kind and paper_name included)
    parses; a key outside the schema is refused by name. (The schema once accepted a
    ``paper_name`` on a ``tm`` entry that the extraction then rejected.)"""
    definition, parse, table = ENTRY_PARSERS[kind]
    schema_keys = set(SCHEMA["$defs"][definition]["properties"])
    assert schema_keys == set(table) | set(ENTRY_KEYS)
    entry = {**table, "kind": kind, "paper_name": "My picker"}
    assert set(entry) == schema_keys
    settings = parse(entry)
    assert settings == table  # the entry keys are no parameters
    with pytest.raises(InputError, match="not_a_key"):
        parse({**entry, "not_a_key": 1})


@pytest.mark.parametrize("kind", LEARNING_KINDS)
def test_learning_entries_parse_with_every_key_of_their_kind(kind):
    """A learning entry's own parser (run by the config checks before any job) accepts its
    kind's every training and inference key, all of them schema keys, and refuses others."""
    from tomobench.methods.learning import get_kind
    from tomobench.methods.learning.training import check_method_parameters

    registered = get_kind(kind)
    training, inference = registered.training_params(None), registered.inference_params(None)
    learning = SCHEMA["$defs"]["learning"]["properties"]
    assert set(learning) == set(ENTRY_KEYS) | {"training", "inference"}
    assert set(training) <= set(learning["training"]["properties"])
    assert set(inference) <= set(learning["inference"]["properties"])
    check_method_parameters(kind, training, inference, "methods.x")
    with pytest.raises(InputError, match="methods.x.training: unknown keys"):
        check_method_parameters(kind, {**training, "not_a_key": 1}, inference, "methods.x")


def test_learning_parameters_are_the_schema_keys():
    """Every training/inference key of a registered kind is in the schema, and every schema
    key is understood by at least one kind."""
    from tomobench.methods.learning import KINDS

    learning = SCHEMA["$defs"]["learning"]["properties"]
    for stage in ("training", "inference"):
        known = set().union(*(getattr(kind, f"{stage}_params")(None) for kind in KINDS.values()))
        assert known == set(learning[stage]["properties"]), stage


def test_kind_lists_agree_with_the_registry_and_the_schema():
    from tomobench.methods.learning import KINDS

    assert set(LEARNING_KINDS) == set(KINDS)
    method = SCHEMA["properties"]["methods"]["additionalProperties"]
    assert method["properties"]["kind"]["enum"] == list(METHOD_KINDS)
    kinds_by_definition = {}
    for condition in method["allOf"]:
        kind = condition["if"]["properties"]["kind"]
        kinds = kind.get("enum", [kind.get("const")])
        kinds_by_definition[condition["then"]["$ref"].rsplit("/", 1)[-1]] = kinds
    assert kinds_by_definition == {"dog": list(kinds_of("dog")),
                                   "template_matching_extraction": list(TEMPLATE_MATCHING_KINDS),
                                   "learning": list(LEARNING_KINDS),
                                   "command": ["command"], "submission": ["submission"]}
    for definition, kinds in kinds_by_definition.items():
        kind = SCHEMA["$defs"][definition]["properties"]["kind"]
        assert kind.get("enum", [kind.get("const")]) == kinds
    assert {kind.family for kind in METHOD_KINDS.values()} == set(FAMILIES)
    assert set(PAPER_NAME_BY_KIND.values()) <= set(PAPER_METHODS)


# --- nested --config overrides (Snakemake passes their scalars as strings) -------------------


def _test_config() -> dict:
    return yaml.safe_load((SCHEMA_PATH.parents[2] / "config" / "test.yaml").read_text())


def test_nested_config_override_strings_are_read_as_yaml():
    from tomobench.config_checks import parse_config_overrides, validate_config

    config = _test_config()
    # what `--config "tomograms={'count': 4, 'test': [2, 3]}"` leaves in config, and a string
    # override the schema accepts as one
    overrides = {"tomograms": {"count": "4", "test": ["2", "3"]}, "name": "007"}
    config["tomograms"].update(overrides["tomograms"])
    config["name"] = "007"
    changed = parse_config_overrides(config, SCHEMA, overrides)
    assert sorted(changed) == ["tomograms.count", "tomograms.test.0", "tomograms.test.1"]
    assert config["tomograms"]["count"] == 4 and config["tomograms"]["test"] == [2, 3]
    assert config["name"] == "007"  # a string the schema accepts stays a string
    validate_config(config, SCHEMA, overrides)


def test_nested_config_override_is_validated_like_a_file_value():
    from tomobench.config_checks import validate_config
    from tomobench.errors import InputError

    config = _test_config()
    config["tomograms"]["count"] = "-3"
    with pytest.raises(InputError, match=r"^config key tomograms.count: -3 is less than the "
                                         r"minimum of 1 \("):
        validate_config(config, SCHEMA, {"tomograms": {"count": "-3"}})
    config["tomograms"]["count"] = "many"
    with pytest.raises(InputError, match="pass --configfile"):
        validate_config(config, SCHEMA, {"tomograms": {"count": "many"}})
    # the same string from a config file is not reinterpreted
    config["tomograms"]["count"] = "3"
    with pytest.raises(InputError, match="'3' is not of type 'integer'") as error:
        validate_config(config, SCHEMA, {})
    assert "--configfile" not in str(error.value)


def test_nested_config_override_through_snakemake_dry_run(tmp_path):
    test_yaml = SCHEMA_PATH.parents[2] / "config" / "test.yaml"
    bad = snakemake(tmp_path, "-n", "--config", "tomograms={'count': -3}",
                    configfile=test_yaml, check=False)
    lines = [line for line in (bad.stdout + bad.stderr).splitlines() if "error" in line]
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert lines == ["tomobench: error: config key tomograms.count: -3 is less than the minimum "
                     "of 1 (Number of tomograms model_0 .. model_<count-1>.)"]
    good = snakemake(tmp_path, "-n", "--config", "tomograms={'count': 4, 'test': [2, 3]}",
                     configfile=test_yaml)
    assert planned_jobs(good)["reconstruct"] == 4
    assert not any(tmp_path.rglob("*.mrc"))  # a dry run


def test_one_default_evaluation_mode(schema_defaults):
    """The package's scoring functions, the CLI and the workflow's schema score alike."""
    import inspect

    from tomobench.cli import build_parser
    from tomobench.evaluation.shrec import (
        DEFAULT_MODE,
        evaluate_picks,
        evaluate_submission,
        score_picks,
    )

    assert schema_defaults["evaluation"]["mode"] == DEFAULT_MODE == "corrected"
    for function in (score_picks, evaluate_picks, evaluate_submission):
        assert inspect.signature(function).parameters["mode"].default == DEFAULT_MODE
    arguments = build_parser().parse_args(["evaluate", "--truth", "t", "--picks", "p",
                                           "--out", "o"])
    assert arguments.mode == DEFAULT_MODE
