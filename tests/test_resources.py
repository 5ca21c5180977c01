"""The memory model of the workflow's jobs (tomobench.resources): the sizes it derives from the
config, the bytes-per-voxel arithmetic and how requests grow with a retry and the volume."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate as fill_schema_defaults

from tomobench import resources
from tomobench.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SIZE_ONLY = [resources.protein_potential_mb, resources.table1_mb, resources.gold_mb,
             resources.scene_mb, resources.tilt_series_mb, resources.reconstruction_mb,
             resources.tomogram_mb, resources.dog_calibration_mb,
             resources.template_matching_mb, resources.tm_picks_mb]


@pytest.fixture(scope="module")
def test_config() -> dict:
    """config/test.yaml with the schema's defaults filled in (what the rules see)."""
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    fill_schema_defaults(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def _with(config: dict, section: str, **values) -> dict:
    changed = copy.deepcopy(config)
    changed[section].update(values)
    return changed


def test_megabytes_rounds_up_and_a_retry_doubles_the_variable_part():
    assert resources.megabytes(300, 2e6) == 302
    assert resources.megabytes(300, 2e6, attempt=2) == 304
    assert resources.megabytes(1, 1) == 2  # one byte more is one MB more


def test_run_geometry_of_the_test_config(test_config):
    """64 x 64 x 40 voxels of 1 nm, simulated at binning 2 in a 24 nm ice slab, 21 tilts,
    template matching at 2 nm."""
    assert resources.final_voxels(test_config) == 64 * 64 * 40
    assert resources.simulation_voxels(test_config) == (2 * 24) * (2 * 64) ** 2
    assert resources.projection_pixels(test_config) == (2 * 64) ** 2 * 21
    assert resources.search_voxels(test_config) == 64 * 64 * 40 // 2**3


def test_tomogram_request_in_closed_form(test_config):
    assert resources.tomogram_mb(test_config) == 300 + 8  # 48 B x 163840 voxels = 7.9 MB
    # 16 B x 163840 tomogram voxels + 76 B x 20480 search voxels = 4.2 MB
    assert resources.template_matching_mb(test_config) == 500 + 5


def test_search_grid_that_is_no_integer_binning_names_the_key(test_config):
    bad = _with(test_config, "template_matching", search_voxel_size_nm=1.5)
    with pytest.raises(InputError, match="template_matching.search_voxel_size_nm"):
        resources.search_voxels(bad)


@pytest.mark.parametrize("model", SIZE_ONLY, ids=lambda f: f.__name__)
def test_a_retry_asks_for_the_variable_part_twice(test_config, model):
    first, second = model(test_config, 1), model(test_config, 2)
    base = model(test_config, 0)
    assert second > first >= base
    assert abs((second - base) - 2 * (first - base)) <= 1  # whole-MB rounding


def test_volume_requests_grow_with_the_tomogram(test_config):
    """Twice the edge in x and y: four times the final voxels and the slab's."""
    large = _with(test_config, "tomograms", size_xy_voxels=128)
    for model in (resources.tomogram_mb, resources.scene_mb, resources.reconstruction_mb):
        small_part = model(test_config) - model(test_config, 0)
        large_part = model(large) - model(large, 0)
        assert abs(large_part - 4 * small_part) <= 4, model.__name__


def test_learning_requests_in_closed_form(test_config):
    """DeepFinder with 2 patches of 16^3 and widths [8, 16]: activations 2 x 4096 x (8 + 16/8)
    channels at 64 B, plus 24 B per voxel of the two annotated tomograms."""
    method = {"kind": "deepfinder",
              "training": {"widths": [8, 16], "batch_size": 2, "patch_voxels": 16},
              "inference": {"batch_size": 1, "patch_voxels": [16, 32, 32]}}
    voxels = 64 * 64 * 40
    training = 24 * 2 * voxels + 64 * 2 * 16**3 * 10
    assert resources.training_mb(test_config, method) == 800 + -(-training // 10**6)
    window = 1 * 16 * 32 * 32 * 10
    inference = 32 * voxels + 32 * window
    assert resources.inference_mb(test_config, method) == 800 + -(-inference // 10**6)


def test_u_clstm_holds_a_map_per_class(test_config):
    """U-CLSTM's per-class heat maps cost 4 B per class (+ 8) per voxel of each annotated
    tomogram more than DeepFinder's with the same network and batch."""
    params = {"training": {"widths": [8, 16], "batch_size": 2, "patch_voxels": 16}}
    deepfinder = resources.training_mb(test_config, {"kind": "deepfinder", **params})
    u_clstm = resources.training_mb(test_config, {"kind": "u_clstm", **params})
    classes = len(test_config["structures"]["classes"])
    extra_mb = (4 * classes + 8) * 2 * 64 * 64 * 40 / 1e6
    assert abs((u_clstm - deepfinder) - extra_mb) <= 1
