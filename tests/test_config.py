"""One source of truth per default and per kind: the schema, the settings classes, the method
parameter tables, the kind list and the learning registry agree (a divergence fails here)."""

import dataclasses
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate as fill_schema_defaults

from tomobench.config import microscope, scene_parameters, tilt_series_settings
from tomobench.methods.dog import DOG_DEFAULTS
from tomobench.methods.external import COMMAND_DEFAULTS, SUBMISSION_DEFAULTS
from tomobench.methods.kinds import (
    FAMILIES,
    LEARNING_KINDS,
    METHOD_KINDS,
    PAPER_NAME_BY_KIND,
    TEMPLATE_MATCHING_KINDS,
    kinds_of,
)
from tomobench.methods.template_matching import EXTRACTION_DEFAULTS, SEARCH_DEFAULTS
from tomobench.paper.published import PAPER_METHODS
from tomobench.simulation.ctf import Microscope
from tomobench.simulation.scene import SceneParameters
from tomobench.simulation.tilt_series import TiltSeriesSettings

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
#: Keys of a method entry that are not parameters of its kind.
ENTRY_KEYS = {"kind", "paper_name"}


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
    return set(SCHEMA["$defs"][definition]["properties"]) - ENTRY_KEYS


def test_method_parameter_tables_list_the_schema_keys():
    """Method entries have their defaults in the package; the schema lists the same keys."""
    assert set(DOG_DEFAULTS) == _parameter_keys("dog")
    assert set(EXTRACTION_DEFAULTS) == _parameter_keys("template_matching_extraction")
    assert set(COMMAND_DEFAULTS) == _parameter_keys("command")
    assert set(SUBMISSION_DEFAULTS) == _parameter_keys("submission")


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
