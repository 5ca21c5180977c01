"""The paper's figures (matplotlib, no pyplot state; PNG + PDF without timestamps).

- Figure 4-like: central slice of a test tomogram with ground truth and picks of each method.
- Figure 9: cumulative (stacked) per-class F1 of each method.
- Figure 10: per-class F1 against molecular weight.
- Figure 11: confusion matrices of each method, classes ordered by molecular weight.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch

from tomobench.evaluation.confusion import (
    reorder_confusion,
    without_background_row,
)
from tomobench.evaluation.controls import is_control_label
from tomobench.evaluation.czii import PARTICLE_RADIUS_NM
from tomobench.paper.style import class_colour, class_colours, control_style
from tomobench.paper.tables import display_order, point_columns

#: Largest PNG width (pixels): wide figures get fewer dots per inch, never more than 200.
MAX_PNG_WIDTH_PX = 2400


def save_figure(figure: Figure, png_path: str | os.PathLike,
                pdf_path: str | os.PathLike | None = None, *, pdf: bool = True) -> None:
    """Save as PNG (200 dpi, at most :data:`MAX_PNG_WIDTH_PX` wide) and PDF (unless
    ``pdf=False``), reproducibly (no creation dates)."""
    png_path = Path(png_path)
    dpi = min(200.0, MAX_PNG_WIDTH_PX / figure.get_figwidth())
    targets = [(png_path, {})]
    if pdf:
        targets.append((Path(pdf_path) if pdf_path else png_path.with_suffix(".pdf"),
                        {"CreationDate": None, "ModDate": None}))
    for path, metadata in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        figure.savefig(tmp, dpi=dpi, metadata=metadata)
        os.replace(tmp, path)


def write_figure_page(png_path: str | os.PathLike, html_path: str | os.PathLike,
                      caption_rst: str, *, title: str) -> None:
    """Write the HTML page of a saved figure: the PNG with its report caption
    (reStructuredText) below it."""
    from tomobench.atomic import write_text_atomic
    from tomobench.paper.tables import caption_html, figure_html

    write_text_atomic(html_path, figure_html(png_path, title=title,
                                             description=caption_html(caption_rst)))


def panel_axes(figure: Figure, count: int, columns: int | None = None) -> list:
    """``count`` axes in rows of ``columns`` (default ``ceil(sqrt(count))``); a shorter last
    row is centred, so no empty panel is left in the grid."""
    columns = columns or max(1, int(np.ceil(np.sqrt(count))))
    rows = int(np.ceil(count / columns))
    grid = figure.add_gridspec(rows, 2 * columns)
    axes = []
    for k in range(count):
        row, column = divmod(k, columns)
        in_row = min(columns, count - row * columns)
        start = 2 * column + (columns - in_row)
        axes.append(figure.add_subplot(grid[row, start:start + 2]))
    return axes


def weight_order(classes, weights_kda: Mapping[str, float]) -> list[str]:
    """``classes`` light to heavy by ``weights_kda`` (classes without a weight last, in order)."""
    weighted = sorted((c for c in classes if c in weights_kda), key=lambda c: weights_kda[c])
    return weighted + [c for c in classes if c not in weights_kda]


def _split_controls(labels) -> tuple[list[str], list[str]]:
    """(methods, controls) of row labels, each in the given order."""
    labels = [str(label) for label in labels]
    return ([m for m in labels if not is_control_label(m)],
            [m for m in labels if is_control_label(m)])


def _figure_legend(figure: Figure, handles, *, columns: int, title: str | None = None):
    """One legend for the whole figure, below the panels (never over data)."""
    return figure.legend(handles=handles, loc="outside lower center", ncols=max(1, columns),
                         fontsize=8, frameon=False, title=title, title_fontsize=8)


def cumulative_f1_figure(class_f1: pd.DataFrame) -> Figure:
    """Figure 9: one horizontal bar per method, stacked per-class F1 (light to heavy classes);
    methods ranked by the sum (best on top), the controls below them."""
    class_f1 = class_f1[point_columns(class_f1)]
    classes = list(class_f1.columns)
    colours = class_colours(classes)
    totals = class_f1.fillna(0).sum(axis=1)
    methods, controls = _split_controls(class_f1.index)
    # barh draws from the bottom: controls first (bottom), then methods worst to best
    order = controls[::-1] + list(totals[methods].sort_values(kind="stable").index)
    figure = Figure(figsize=(9, 2.0 + 0.45 * len(order)), layout="constrained")
    ax = figure.add_subplot()
    left = np.zeros(len(order))
    for name in classes:
        values = class_f1.loc[order, name].fillna(0).to_numpy(dtype=float)
        ax.barh(order, values, left=left, color=colours[name], label=name, edgecolor="white",
                linewidth=0.5)
        left += values
    for y, total in enumerate(left):
        ax.text(total + 0.05, y, f"{total:.2f}", va="center", fontsize=9)
    if controls and methods:
        ax.axhline(len(controls) - 0.5, color="0.6", linewidth=0.8)
    for label in ax.get_yticklabels():  # controls in grey italics: references, not methods
        if is_control_label(label.get_text()):
            label.set_color("0.4")
            label.set_fontstyle("italic")
    ax.set_xlim(0, max(len(classes), left.max(initial=0) + 0.6))
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlabel(f"cumulative F1 over {len(classes)} classes")
    ax.set_title("Cumulative classification F1")
    handles, _ = ax.get_legend_handles_labels()
    _figure_legend(figure, handles, columns=min(7, len(classes)),
                   title="class (light to heavy, then fiducial)")
    return figure


def _interval(class_f1: pd.DataFrame, method: str, classes: list[str]) -> np.ndarray | None:
    """``(2, n)`` error-bar lengths from the ``<class>_lo/_hi`` columns (None without them)."""
    if not all(f"{c}_lo" in class_f1.columns for c in classes):
        return None
    values = class_f1.loc[method, classes].to_numpy(dtype=float)
    low = class_f1.loc[method, [f"{c}_lo" for c in classes]].to_numpy(dtype=float)
    high = class_f1.loc[method, [f"{c}_hi" for c in classes]].to_numpy(dtype=float)
    return np.nan_to_num(np.stack([values - low, high - values]).clip(0))


def f1_vs_weight_figure(class_f1: pd.DataFrame, weights_kda: Mapping[str, float]) -> Figure:
    """Figure 10: small multiples, one panel per method (ranked by mean protein F1): per-class F1
    of the proteins, light to heavy, with the 95 % bootstrap intervals (``<class>_lo``/``_hi``
    columns) as error bars, points in the class colours; the controls as grey reference lines
    in every panel."""
    proteins = weight_order([c for c in point_columns(class_f1) if c in weights_kda],
                            weights_kda)
    methods, controls = _split_controls(class_f1.index)
    means = class_f1.loc[methods, proteins].astype(float).mean(axis=1)
    methods = list(means.sort_values(ascending=False, kind="stable").index)
    panels = methods or controls
    columns = min(4, len(panels))
    rows = int(np.ceil(len(panels) / columns))
    figure = Figure(figsize=(2.9 * columns + 0.4, 2.3 * rows + 1.4), layout="constrained")
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    positions = np.arange(len(proteins))
    colours = [class_colour(c) for c in proteins]
    for ax, method in zip(axes, panels, strict=False):
        for control in controls:
            ax.plot(positions, class_f1.loc[control, proteins].to_numpy(dtype=float),
                    zorder=1, **control_style(control))
        values = class_f1.loc[method, proteins].to_numpy(dtype=float)
        ax.plot(positions, values, color="0.55", linewidth=0.8, zorder=2)
        error = _interval(class_f1, method, proteins)
        for k in range(len(proteins)):
            ax.errorbar(positions[k], values[k],
                        yerr=None if error is None else error[:, k:k + 1],
                        color=colours[k], marker="o", markersize=4.5, capsize=1.5,
                        linewidth=1.0, zorder=3)
        mean = np.nanmean(values) if np.isfinite(values).any() else np.nan
        ax.set_title(f"{method}  (mean {mean:.2f})", fontsize=9)
        ax.grid(alpha=0.3)
    for k, ax in enumerate(axes):
        if k >= len(panels):
            ax.set_axis_off()
        # a panel with an empty slot below it shows the class names itself
        elif k + columns >= len(panels):
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("protein, light to heavy", fontsize=8)
        if k % columns == 0 and k < len(panels):
            ax.set_ylabel("F1")
    axes[0].set_xticks(positions, labels=proteins)
    axes[0].set_ylim(-0.05, 1.08)
    for ax in axes:  # the shared ticks' labels belong to each axes: rotate them everywhere
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    handles = [Line2D([], [], label=str(c), **control_style(c)) for c in controls]
    handles.append(Line2D([], [], color="0.3", marker="o", markersize=4.5, linestyle="",
                          label="method (class colour), 95 % interval"))
    _figure_legend(figure, handles, columns=len(handles))
    figure.suptitle("Classification F1 against molecular weight", fontsize=11)
    return figure


#: Figure 11's colour scale: the fraction of an actual class's particles, shared by all panels.
CONFUSION_CMAP = "Blues"


def _plot_row_fractions(ax, counts: pd.DataFrame, title: str):
    """One confusion matrix as fractions of each actual class (rows sum to 1; zeros hidden),
    percent written in the cells; row labels carry the class's particle count."""
    matrix = counts.to_numpy(dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    fractions = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    image = ax.imshow(np.where(matrix > 0, fractions, np.nan), cmap=CONFUSION_CMAP, vmin=0.0,
                      vmax=1.0)
    rows, columns = matrix.shape
    ax.set_xticks(range(columns), labels=list(counts.columns), rotation=90, fontsize=8)
    ax.set_yticks(range(rows), fontsize=8, labels=[
        f"{name} ({int(n)})" for name, n in zip(counts.index, totals[:, 0], strict=True)])
    ax.set_xlabel("predicted class", fontsize=8)
    ax.set_ylabel("actual class (particles)", fontsize=8)
    ax.set_title(title, fontsize=10)
    fontsize = 7 if max(rows, columns) <= 10 else 5.5
    for (row, col), value in np.ndenumerate(fractions):
        if matrix[row, col] > 0:
            ax.text(col, row, f"{100 * value:.0f}", ha="center", va="center", fontsize=fontsize,
                    color="white" if value > 0.6 else "black")
    return image


def confusion_matrices_figure(confusions: Mapping[str, pd.DataFrame],
                              weights_kda: Mapping[str, float]) -> Figure:
    """Figure 11: one confusion matrix per method, each row normalised to the fractions of its
    actual class's particles, on one colour scale (0–1) with one colour bar. Rows: true classes
    (proteins light to heavy, then the rest); columns: the same plus ``background`` (missed)
    last."""
    labels = []
    for frame in confusions.values():
        labels.extend(name for name in frame.index if name not in labels)
    order = ["background", *weight_order([c for c in labels if c != "background"], weights_kda)]
    columns = min(len(confusions), 3)
    rows = int(np.ceil(len(confusions) / columns))
    cell_in = 0.3
    side = 1.6 + cell_in * len(order)
    figure = Figure(figsize=(columns * (side + 0.6) + 1.0, rows * (side + 0.5)),
                    layout="compressed")
    axes = panel_axes(figure, len(confusions), columns)
    image = None
    for ax, (method, frame) in zip(axes, confusions.items(), strict=True):
        shown = without_background_row(reorder_confusion(frame, order))
        image = _plot_row_fractions(ax, shown, str(method))
    if image is not None:
        colorbar = figure.colorbar(image, ax=axes, shrink=0.6, aspect=30,
                                   label="fraction of the actual class's particles")
        colorbar.set_ticks(np.linspace(0, 1, 6))
    return figure


#: Picks in Figure 4: filled diamonds with a white rim (truth: open circles in the class colour).
PICK_MARKER = {"marker": "D", "edgecolors": "white", "linewidths": 0.6}
_LEGEND_PICK = {"marker": "D", "markerfacecolor": "0.2", "markeredgecolor": "white"}


def central_slice_figure(
    tomogram: np.ndarray,
    truth: pd.DataFrame,
    picks: Mapping[str, pd.DataFrame],
    *,
    voxel_size_nm: float = 1.0,
    title: str = "",
    pick_depth_voxels: float = 2.0,
    radii_nm: Mapping[str, float] | None = None,
) -> Figure:
    """Figure 4-like: the central z slice with true particles (open circles) and picks (filled
    diamonds), both in the class colours of :mod:`tomobench.paper.style`.

    Parameters
    ----------
    tomogram : ndarray
        ``(z, y, x)`` reconstruction.
    truth : DataFrame
        ``particle_locations`` (``class_name, x, y, z``); a particle is outlined where its
        sphere (radius of :data:`PARTICLE_RADIUS_NM`) cuts the slice.
    picks : mapping
        Method → picks (``class_name, x, y, z``); picks within ``pick_depth_voxels`` of the
        slice are drawn, coloured by their class.
    radii_nm : mapping, optional
        Outline radius (nm) per class, overriding :data:`PARTICLE_RADIUS_NM` (e.g. the run's
        vesicle and gold bead sizes).
    """
    radii = {**PARTICLE_RADIUS_NM, **(radii_nm or {})}
    z0 = tomogram.shape[0] // 2
    image = np.asarray(tomogram[z0], dtype=np.float32)
    low, high = np.percentile(image, [1, 99])
    classes = display_order(set(truth["class_name"]) | {str(n) for p in picks.values()
                                                         for n in p["class_name"]})
    colours = class_colours(classes)
    panels = list(picks.items()) or [("ground truth", truth.iloc[:0])]
    columns = min(len(panels), 3)
    rows = int(np.ceil(len(panels) / columns))
    aspect = image.shape[0] / image.shape[1]
    # "compressed" packs the fixed-aspect images without bands of empty space between them
    figure = Figure(figsize=(4.2 * columns, 4.2 * aspect * rows + 1.4), layout="compressed")
    for ax, (method, method_picks) in zip(panel_axes(figure, len(panels), columns), panels,
                                          strict=True):
        ax.imshow(image, cmap="gray", vmin=low, vmax=high, origin="lower")
        for row in truth.itertuples(index=False):
            radius = radii.get(row.class_name, 10.0) / voxel_size_nm
            dz = abs(row.z - z0)
            if dz < radius:
                ax.add_patch(Circle((row.x, row.y), np.sqrt(radius**2 - dz**2), fill=False,
                                    color=colours[row.class_name], linewidth=1.4))
        near = method_picks[np.abs(method_picks["z"] - z0) <= pick_depth_voxels]
        for name, group in near.groupby("class_name"):
            ax.scatter(group["x"], group["y"], s=26, **PICK_MARKER,
                       facecolor=colours.get(str(name), class_colour(name)))
        ax.set_xlim(-0.5, image.shape[1] - 0.5)
        ax.set_ylim(-0.5, image.shape[0] - 0.5)
        ax.set_title(f"{method} ({len(near)} picks near z = {z0})", fontsize=10)
        ax.set_xlabel("x (voxels)")
        ax.set_ylabel("y (voxels)")
    handles = [Patch(facecolor=colours[c], edgecolor="none", label=c) for c in classes]
    handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                       markeredgecolor="0.2", markersize=8, label="ground truth (outline)"),
                Line2D([], [], linestyle="", markersize=6, label="pick (filled)",
                       **{k: v for k, v in _LEGEND_PICK.items()})]
    figure.legend(handles=handles, loc="outside lower center", ncols=min(8, len(handles)),
                  fontsize=8, frameon=False)
    figure.suptitle(title or f"central slice z = {z0}: circles ground truth, diamonds picks")
    return figure


def read_molecular_weights(paths) -> dict[str, float]:
    """``{PDB id: molecular_weight_kda}`` from the potentials' JSON metadata files."""
    from tomobench.errors import InputError
    from tomobench.io import read_json

    weights = {}
    for path in paths:
        path = Path(path)
        meta = read_json(path, "potential metadata")
        try:
            weights[meta.get("pdb_id") or path.stem] = float(meta["molecular_weight_kda"])
        except (AttributeError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"{path}: no molecular_weight_kda ({error})") from error
    return weights


def class_mask_slice_figure(image: np.ndarray, labels: np.ndarray, *, voxel_size_nm: float,
                            title: str) -> Figure:
    """A tomogram slice with the outlines of the ground-truth class mask in the same slice.

    Parameters
    ----------
    image, labels : ndarray
        ``(y, x)`` slice of the reconstruction and of ``class_mask.mrc`` (SHREC class ids).
    """
    from tomobench.classes import SHREC_CLASS_NAMES

    low, high = np.percentile(image, [1, 99])
    aspect = image.shape[0] / image.shape[1]
    figure = Figure(figsize=(7.6, 6.0 * aspect + 0.8), layout="compressed")
    ax = figure.add_subplot()
    ax.imshow(image, cmap="gray", vmin=low, vmax=high, origin="lower")
    present = [int(c) for c in np.unique(labels) if c > 0]
    colour = {c: class_colour(SHREC_CLASS_NAMES[c]) for c in present}
    for c in present:
        ax.contour((labels == c).astype(float), levels=[0.5], colors=[colour[c]],
                   linewidths=0.9, origin="lower")
    handles = [Line2D([], [], color=colour[c], label=SHREC_CLASS_NAMES[c]) for c in present]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
                  frameon=False, title="class")
    ax.set_title(title)
    ax.set_xlabel(f"x (voxels of {voxel_size_nm:g} nm)")
    ax.set_ylabel("y (voxels)")
    return figure


def training_curves_figure(report: Mapping, method: str) -> Figure:
    """A learned method's training progress from its ``training.json`` report.

    Left: the training loss (mean over each validation interval) and the validation loss per
    step. Right, where the kind has a segmentation head: the validation macro Dice, with the
    learning rate on a second axis; without one (no Dice), the learning rate alone. A dashed
    line marks the kept (best) step. One legend below the panels; the title (wrapped to the
    figure's width) names the selection metric and the post-processing tuned on the validation
    tomograms.
    """
    import textwrap

    history = pd.DataFrame(report["history"])
    has_dice = "validation_dice" in history and history["validation_dice"].notna().any()
    figure = Figure(figsize=(10, 4.4), layout="constrained")
    losses, metrics = figure.subplots(1, 2)
    losses.plot(history["step"], history["training_loss"], color="C0", label="training loss")
    if "validation_loss" in history:
        losses.plot(history["step"], history["validation_loss"], color="C1",
                    label="validation loss")
    losses.set_ylabel("loss")
    losses.set_title("losses", fontsize=10)
    rate_style = {"color": "0.45", "linestyle": ":", "label": "learning rate"}
    if has_dice:
        metrics.plot(history["step"], history["validation_dice"], color="C2",
                     label="validation macro Dice")
        metrics.set_ylim(0, 1)
        metrics.set_ylabel("validation macro Dice (foreground classes)")
        metrics.set_title("validation Dice and learning rate", fontsize=10)
        rate = metrics.twinx()
        rate.plot(history["step"], history["learning_rate"], **rate_style)
        rate.set_ylabel("learning rate")
    else:  # no segmentation head: the panel shows the schedule, not an empty Dice axis
        rate = metrics
        rate.plot(history["step"], history["learning_rate"], **rate_style)
        rate.set_ylabel("learning rate")
        metrics.set_title("learning rate (no segmentation head: no Dice)", fontsize=10)
    for ax in (losses, metrics):
        ax.axvline(report["best_step"], color="0.3", linestyle="--", linewidth=1,
                   label=f"kept: step {report['best_step']}")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    handles = {}
    for ax in (losses, metrics, rate):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(handles=list(handles.values()), loc="outside lower center",
                  ncols=len(handles), fontsize=8, frameon=False)
    tuned = report.get("tuned_inference") or {}
    count = len(report["training_tomograms"])
    title = (f"{method} ({report['kind']}): {count} training tomogram{'s' * (count != 1)}, "
             f"weights selected by {report.get('selected_by', 'validation_loss')}")
    if tuned:
        title += "; tuned post-processing: " + ", ".join(f"{k} = {v}" for k, v in tuned.items())
    figure.suptitle(textwrap.fill(title, width=120), fontsize=10)
    return figure
