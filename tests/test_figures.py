"""Figure layout and style: every figure rendered on synthetic inputs keeps its text on the
canvas and its legends off the data; one colour-blind-safe class palette for all figures."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.legend import Legend
from matplotlib.text import Text

from tomobench.classes import SHREC_CLASS_NAMES, SIZE_ORDER
from tomobench.evaluation.controls import control_label
from tomobench.paper import figures, style

PROTEINS = list(SIZE_ORDER)
WEIGHTS_KDA = {name: 40.0 * 1.4**k for k, name in enumerate(PROTEINS)}
METHODS = ["URFinder", "DeepFinder", "U-CLSTM", "MC DS Net", "YOPO", "CFN", "TM", "TM-F",
           "DoG", control_label("oracle"), control_label("random")]


def class_f1_frame(seed: int = 0) -> pd.DataFrame:
    """Per-class F1 with intervals for eleven methods × 12 proteins and fiducials."""
    rng = np.random.default_rng(seed)
    columns = [*PROTEINS, "fiducial"]
    rows = {}
    for method in METHODS:
        values = rng.uniform(0, 1, len(columns))
        if method.startswith("oracle"):
            values[:] = 1.0
        row = {}
        for name, value in zip(columns, values, strict=True):
            row[name], row[f"{name}_lo"] = value, value * 0.8
            row[f"{name}_hi"] = min(1.0, value * 1.1)
        rows[method] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def confusions(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    labels = ["background", *PROTEINS, "fiducial"]
    return {m: pd.DataFrame(rng.integers(0, 20, (len(labels), len(labels))), index=labels,
                            columns=labels) for m in METHODS}


def training_report(dice: bool) -> dict:
    steps = np.arange(50, 1650, 50)
    history = [{"step": int(s), "training_loss": 2.0 / (1 + s / 300), "validation_loss":
                2.1 / (1 + s / 350), "learning_rate": 1e-3 * 0.5 ** (s // 400),
                **({"validation_dice": s / 2000} if dice else {})} for s in steps]
    return {"history": history, "best_step": 1500, "kind": "urfinder" if dice else "cfn",
            "training_tomograms": list(range(9)), "selected_by": "validation_loss",
            "tuned_inference": {"min_probability": 0.35, "min_size_fraction": 0.125,
                                "class_assignment": "per_class", "nms_radius_fraction": 0.75,
                                "peak_threshold": 0.2}}


def central_slice_inputs():
    rng = np.random.default_rng(3)
    tomogram = rng.normal(size=(40, 96, 128)).astype(np.float32)
    names = [*PROTEINS, "4V94", "vesicle", "fiducial"]
    truth = pd.DataFrame({"class_name": names, "x": rng.uniform(0, 127, len(names)),
                          "y": rng.uniform(0, 95, len(names)), "z": 20.0})
    picks = {m: truth.assign(x=truth["x"] + 1.0) for m in METHODS[:9]}
    return tomogram, truth, picks


def class_mask_slice():
    labels = np.zeros((30, 40), int)
    labels[5:10, 5:10], labels[20:25, 30:35] = 4, 15
    return figures.class_mask_slice_figure(np.random.default_rng(1).normal(size=(30, 40)),
                                           labels, voxel_size_nm=1.0,
                                           title="model_9: central slice")


#: Figure name -> a function drawing it on synthetic inputs.
FIGURES = {
    "figure4": lambda: figures.central_slice_figure(*central_slice_inputs()),
    "figure9": lambda: figures.cumulative_f1_figure(class_f1_frame()),
    "figure10": lambda: figures.f1_vs_weight_figure(class_f1_frame(), WEIGHTS_KDA),
    "figure11": lambda: figures.confusion_matrices_figure(confusions(), WEIGHTS_KDA),
    "training": lambda: figures.training_curves_figure(training_report(True), "URFinder"),
    "training without Dice": lambda: figures.training_curves_figure(training_report(False),
                                                                    "CFN"),
    "class mask slice": class_mask_slice,
}


def undrawn_tick_labels(figure) -> set[int]:
    """ids of tick labels outside their axis' view limits (matplotlib does not draw them)."""
    hidden = set()
    for ax in figure.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = sorted(limits)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


def overlaps(a, b, tolerance: float = 1.0) -> bool:
    return (a.x0 < b.x1 - tolerance and b.x0 < a.x1 - tolerance
            and a.y0 < b.y1 - tolerance and b.y0 < a.y1 - tolerance)


@pytest.mark.parametrize("name", list(FIGURES))
def test_text_on_the_canvas_and_legends_off_the_data(name):
    figure = FIGURES[name]()
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    canvas = figure.bbox
    hidden = undrawn_tick_labels(figure)
    texts = [t for t in figure.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
    assert texts
    for text in texts:
        box = text.get_window_extent(renderer)
        assert (box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1 and box.y0 >= canvas.y0 - 1
                and box.y1 <= canvas.y1 + 1), (name, text.get_text(), box, canvas)
    data_axes = [ax for ax in figure.axes if ax.get_visible() and ax.axison
                 and (ax.lines or ax.images or ax.patches or ax.collections)]
    legends = [a for a in figure.findobj(Legend) if a.get_visible()]
    for legend, ax in itertools.product(legends, data_axes):
        assert not overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer)), (
            name, [t.get_text() for t in legend.texts][:3], ax.get_title())
    for ax in data_axes:  # tick labels of one axis never run into each other
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()
                      and id(t) not in hidden]
            boxes = [t.get_window_extent(renderer) for t in labels]
            pairs = itertools.combinations(zip(labels, boxes, strict=True), 2)
            for (a, box_a), (b, box_b) in pairs:
                assert not overlaps(box_a, box_b), (name, a.get_text(), b.get_text())
    titles = [ax.title for ax in data_axes if ax.get_title()]
    for title, ax in itertools.product(titles, data_axes):
        if title.axes is not ax:
            assert not overlaps(title.get_window_extent(renderer), ax.get_window_extent(renderer))


def test_training_figure_without_dice_has_no_empty_dice_axis():
    figure = figures.training_curves_figure(training_report(False), "CFN")
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert not any("Dice" in label for label in labels)
    assert all(ax.lines for ax in figure.axes)  # every panel shows a curve
    with_dice = figures.training_curves_figure(training_report(True), "URFinder")
    assert any("Dice" in ax.get_ylabel() for ax in with_dice.axes)


def test_figure10_small_multiples_with_controls_as_reference_lines():
    class_f1 = class_f1_frame()
    figure = figures.f1_vs_weight_figure(class_f1, WEIGHTS_KDA)
    panels = [ax for ax in figure.axes if ax.axison]
    methods = [m for m in METHODS if "(control)" not in m]
    titles = [ax.get_title().split("  (")[0] for ax in panels]
    assert sorted(titles) == sorted(methods)  # one panel per method, none for the controls
    means = class_f1.loc[methods, PROTEINS].mean(axis=1).sort_values(ascending=False)
    assert titles == list(means.index)  # ranked by mean F1
    for ax in panels:  # both controls drawn in every panel, in their grey styles
        styles = {(line.get_linestyle(), line.get_color()) for line in ax.lines}
        assert ("--", style.CONTROL_STYLES["oracle"]["color"]) in styles
        assert (":", style.CONTROL_STYLES["random"]["color"]) in styles
    legend_texts = [t.get_text() for t in figure.legends[0].texts]
    assert control_label("oracle") in legend_texts and control_label("random") in legend_texts


def test_figure11_rows_are_fractions_on_one_shared_scale():
    matrices = confusions()
    figure = figures.confusion_matrices_figure(matrices, WEIGHTS_KDA)
    images = [image for ax in figure.axes for image in ax.images]
    assert len(images) == len(METHODS)
    assert {image.get_clim() for image in images} == {(0.0, 1.0)}
    colorbars = [ax for ax in figure.axes if "fraction" in ax.get_ylabel()]
    assert len(colorbars) == 1
    ax = next(ax for ax in figure.axes if ax.get_title() == "TM")
    data = np.nan_to_num(ax.images[0].get_array().filled(np.nan))
    assert np.allclose(data.sum(axis=1), 1.0)  # each actual class's row sums to 1
    counts = matrices["TM"].drop(index="background")
    first = next(t.get_text() for t in ax.get_yticklabels())
    assert first == f"1S3X ({int(counts.loc['1S3X'].sum())})"


def test_figure4_picks_and_truth_have_different_markers_and_class_colours():
    tomogram, truth, picks = central_slice_inputs()
    figure = figures.central_slice_figure(tomogram, truth, picks)
    ax = figure.axes[0]
    circles = [p for p in ax.patches]
    assert circles and all(not p.get_fill() for p in circles)  # truth: open outlines
    points = ax.collections
    assert points and all(c.get_facecolors().shape[0] for c in points)  # picks: filled
    colours = {tuple(np.round(c.get_facecolors()[0][:3], 3)) for c in points}
    assert len(colours) == len(points)  # one colour per class
    from matplotlib.colors import to_rgb

    assert tuple(np.round(to_rgb(style.class_colour("1S3X")), 3)) in colours


# --------------------------------------------------------------------------- palette

_SIMULATION = {  # Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
}


def _lab(rgb):
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, float)[None, None])[0, 0]


def _simulate(rgb, matrix):
    rgb = np.asarray(rgb, float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(np.asarray(matrix) @ linear, 0, 1)
    return np.where(seen <= 0.0031308, 12.92 * seen, 1.055 * seen ** (1 / 2.4) - 0.055)


def test_class_palette_is_complete_and_distinct_for_colour_blind_readers():
    from matplotlib.colors import to_rgb
    from skimage.color import deltaE_ciede2000

    names = [n for n in SHREC_CLASS_NAMES if n != "background"]
    assert set(style.CLASS_COLOURS) == set(names) and len(names) == 15
    rgb = {n: np.array(to_rgb(style.class_colour(n))) for n in names}
    for vision in (None, *_SIMULATION):
        seen = {n: _lab(c if vision is None else _simulate(c, _SIMULATION[vision]))
                for n, c in rgb.items()}
        worst = min((float(deltaE_ciede2000(seen[a], seen[b])), a, b)
                    for a, b in itertools.combinations(names, 2))
        assert worst[0] >= 10.0, (vision, worst)
    assert style.class_colour("not a class") == style.UNKNOWN_CLASS_COLOUR
