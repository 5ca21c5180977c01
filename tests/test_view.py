"""``tomobench view``: the napari layers of a tomogram, its ground truth and picks, built and
checked as plain objects (napari itself is optional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from tomobench.classes import CLASS_ID, SPHERE_RADIUS_NM
from tomobench.cli import main
from tomobench.errors import InputError
from tomobench.mrc import write_mrc
from tomobench.paper.style import class_colour
from tomobench.particles import write_particle_locations, write_picks
from tomobench.view import NAPARI_MISSING, add_layers, build_layers

VOXEL_NM = 2.0


@pytest.fixture
def run(tmp_path):
    """A run folder with one 20×30×40 tomogram (z, y, x), its masks, truth and two methods."""
    folder = tmp_path / "results" / "r" / "data" / "model_3"
    folder.mkdir(parents=True)
    volume = np.random.default_rng(0).normal(size=(20, 30, 40)).astype(np.float32)
    write_mrc(folder / "reconstruction.mrc", volume, VOXEL_NM)
    mask = np.zeros((20, 30, 40), np.int16)
    mask[8:12, 3:7, 30:34] = CLASS_ID["1BXN"]
    mask[5:7, 20:22, 5:7] = CLASS_ID["fiducial"]
    write_mrc(folder / "class_mask.mrc", mask, VOXEL_NM)
    truth = pd.DataFrame({"class_name": ["1BXN", "fiducial"], "x": [32, 6], "y": [5, 21],
                          "z": [10, 6], "a1": [0.0, np.nan], "a2": [0.0, np.nan],
                          "a3": [0.0, np.nan]})
    write_particle_locations(folder / "particle_locations.txt", truth)
    for method, rows in (("TM", [("1BXN", 31.5, 5.0, 10.0, 0.9)]),
                         ("DeepFinder", [("3H84", 6.0, 21.0, 6.0, 0.5),
                                         ("1BXN", 32.0, 4.0, 9.0, 0.7)])):
        picks = pd.DataFrame(rows, columns=["class_name", "x", "y", "z", "score"])
        (tmp_path / "results" / "r" / "picks" / method).mkdir(parents=True)
        write_picks(tmp_path / "results" / "r" / "picks" / method / "model_3.txt", picks)
    return tmp_path / "results" / "r"


def test_layers_of_a_tomogram_with_truth_and_picks(run):
    layers = build_layers(run, 3, ["TM", "DeepFinder"])
    assert [(s.name, s.layer_type) for s in layers] == [
        ("model_3 reconstruction", "image"), ("class mask", "labels"),
        ("ground truth", "points"), ("TM picks", "points"), ("DeepFinder picks", "points")]
    image, mask, truth, tm, deepfinder = layers
    assert image.data.shape == (20, 30, 40) and image.options["scale"] == (VOXEL_NM,) * 3
    low, high = image.options["contrast_limits"]
    assert low == pytest.approx(np.percentile(image.data, 1)) and low < 0 < high
    assert mask.data[10, 5, 32] == CLASS_ID["1BXN"]
    assert np.allclose(mask.options["colormap"][CLASS_ID["1BXN"]], to_rgba(class_colour("1BXN")))
    assert mask.options["colormap"][0][3] == 0  # background transparent
    # x y z in the files -> z y x rows, as the volume's axes
    assert np.array_equal(truth.data, [[10, 5, 32], [6, 21, 6]])
    assert truth.options["size"][0] == pytest.approx(2 * SPHERE_RADIUS_NM["1BXN"] / VOXEL_NM)
    assert np.allclose(truth.options["border_color"][1], to_rgba(class_colour("fiducial")))
    assert truth.options["face_color"] == "transparent" and tm.options["symbol"] == "diamond"
    assert np.array_equal(deepfinder.data, [[6, 21, 6], [9, 4, 32]])
    assert deepfinder.options["features"] == {"class": ["3H84", "1BXN"],
                                              "score": pytest.approx([0.5, 0.7])}
    assert np.allclose(deepfinder.options["face_color"][0], to_rgba(class_colour("3H84")))
    assert len(build_layers(run, 3)) == 3  # no methods: tomogram, mask and truth


def test_bad_run_model_or_method_is_one_line_naming_it(run, capsys):
    with pytest.raises(InputError, match="model_5: no such tomogram folder"):
        build_layers(run, 5)
    with pytest.raises(InputError, match=r"'YOPO'.*picks exist for: DeepFinder, TM"):
        build_layers(run, 3, ["YOPO"])
    assert main(["view", "--run", str(run), "--model", "3", "--methods", "YOPO"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "YOPO" in error
    with pytest.raises(SystemExit):
        main(["view", "--run", str(run), "--model", "-1"])


def test_missing_napari_is_a_one_line_error(run, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_napari(name, *args, **kwargs):
        if name == "napari" or name.startswith("napari."):
            raise ImportError("No module named 'napari'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_napari)
    assert main(["view", "--run", str(run), "--model", "3", "--methods", "TM"]) == 2
    assert capsys.readouterr().err.strip() == f"tomobench view: error: {NAPARI_MISSING}"


def test_layers_load_into_a_napari_viewer_model(run):
    """With napari installed, every spec is a valid add_* call (no window: ViewerModel)."""
    components = pytest.importorskip("napari.components", reason="napari not installed")
    viewer = components.ViewerModel()
    added = add_layers(viewer, build_layers(run, 3, ["TM", "DeepFinder"]))
    assert [layer.name for layer in viewer.layers] == [
        "model_3 reconstruction", "class mask", "ground truth", "TM picks", "DeepFinder picks"]
    assert list(added[4].features["class"]) == ["3H84", "1BXN"]
    assert np.allclose(added[4].face_color[0], to_rgba(class_colour("3H84")))
