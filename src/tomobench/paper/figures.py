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
from matplotlib.patches import Circle

from tomobench.evaluation.confusion import (
    count_colorbar,
    plot_confusion,
    reorder_confusion,
    without_background_row,
)
from tomobench.evaluation.controls import is_control_label
from tomobench.evaluation.czii import PARTICLE_RADIUS_NM
from tomobench.paper.tables import point_columns

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


def _class_colours(classes) -> dict[str, tuple]:
    from matplotlib import colormaps

    classes = list(classes)
    cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(classes)}


def weight_order(classes, weights_kda: Mapping[str, float]) -> list[str]:
    """``classes`` light to heavy by ``weights_kda`` (classes without a weight last, in order)."""
    weighted = sorted((c for c in classes if c in weights_kda), key=lambda c: weights_kda[c])
    return weighted + [c for c in classes if c not in weights_kda]


def _control_style(method) -> dict:
    """Line style of a method: controls dashed grey, methods default."""
    if is_control_label(method):
        return {"color": "0.5", "linestyle": "--", "alpha": 0.8}
    return {}


def cumulative_f1_figure(class_f1: pd.DataFrame) -> Figure:
    """Figure 9: one horizontal bar per method, stacked per-class F1 (light to heavy classes)."""
    class_f1 = class_f1[point_columns(class_f1)]
    classes = list(class_f1.columns)
    colours = _class_colours(classes)
    methods = list(class_f1.fillna(0).sum(axis=1).sort_values().index)
    figure = Figure(figsize=(9, 1.6 + 0.55 * len(methods)), layout="constrained")
    ax = figure.add_subplot()
    left = np.zeros(len(methods))
    for name in classes:
        values = class_f1.loc[methods, name].fillna(0).to_numpy(dtype=float)
        ax.barh(methods, values, left=left, color=colours[name], label=name, edgecolor="white",
                linewidth=0.5)
        left += values
    for y, total in enumerate(left):
        ax.text(total + 0.05, y, f"{total:.2f}", va="center", fontsize=9)
    for label in ax.get_yticklabels():  # controls in grey italics: references, not methods
        if is_control_label(label.get_text()):
            label.set_color("0.4")
            label.set_fontstyle("italic")
    ax.set_xlim(0, max(len(classes), left.max(initial=0) + 0.6))
    ax.set_xlabel(f"cumulative F1 over {len(classes)} classes")
    ax.set_title("Cumulative classification F1")
    ax.legend(ncols=min(7, len(classes)), fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.25 if len(methods) < 4 else -0.12), frameon=False)
    return figure


def f1_vs_weight_figure(class_f1: pd.DataFrame, weights_kda: Mapping[str, float]) -> Figure:
    """Figure 10: per-class F1 of each method against molecular weight (proteins only), with
    the 95 % bootstrap intervals (``<class>_lo``/``_hi`` columns) as error bars."""
    proteins = weight_order([c for c in point_columns(class_f1) if c in weights_kda],
                            weights_kda)
    figure = Figure(figsize=(9, 5), layout="constrained")
    ax = figure.add_subplot()
    positions = np.arange(len(proteins))
    methods = list(class_f1.index)
    # methods side by side around each protein so their error bars stay apart
    spread = 0.5 / max(1, len(methods))
    for k, method in enumerate(methods):
        values = class_f1.loc[method, proteins].to_numpy(dtype=float)
        error = None
        if all(f"{c}_lo" in class_f1.columns for c in proteins):
            low = class_f1.loc[method, [f"{c}_lo" for c in proteins]].to_numpy(dtype=float)
            high = class_f1.loc[method, [f"{c}_hi" for c in proteins]].to_numpy(dtype=float)
            error = np.nan_to_num(np.stack([values - low, high - values]).clip(0))
        ax.errorbar(positions + (k - (len(methods) - 1) / 2) * spread, values, yerr=error,
                    marker="o", markersize=4, capsize=2, linewidth=1.2, label=str(method),
                    **_control_style(method))
    ax.set_xticks(positions, labels=[f"{c}\n{weights_kda[c]:.0f} kDa" for c in proteins],
                  rotation=45, ha="right", fontsize=9)
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("F1")
    ax.set_xlabel("protein, by molecular weight")
    ax.set_title("Classification F1 against molecular weight")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return figure


def confusion_matrices_figure(confusions: Mapping[str, pd.DataFrame],
                              weights_kda: Mapping[str, float]) -> Figure:
    """Figure 11: one confusion matrix per method. Rows: true classes (proteins light to heavy,
    then the rest); columns: the same plus ``background`` (missed) last. Integer colour bars."""
    labels = []
    for frame in confusions.values():
        labels.extend(name for name in frame.index if name not in labels)
    order = ["background", *weight_order([c for c in labels if c != "background"], weights_kda)]
    columns = min(len(confusions), 3)
    rows = int(np.ceil(len(confusions) / columns))
    cell_in = 0.3
    side = 1.4 + cell_in * len(order)
    figure = Figure(figsize=(columns * (side + 1.0), rows * (side + 0.5)), layout="compressed")
    for ax, (method, frame) in zip(panel_axes(figure, len(confusions), columns),
                                   confusions.items(), strict=True):
        shown = without_background_row(reorder_confusion(frame, order))
        image = plot_confusion(ax, shown, title=str(method))
        count_colorbar(figure, image, ax, shrink=0.8)
    return figure


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
    """Figure 4-like: the central z slice with true particles (circles) and picks (crosses).

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
    classes = sorted(set(truth["class_name"]) | {str(n) for p in picks.values()
                                                 for n in p["class_name"]})
    colours = _class_colours(classes)
    panels = list(picks.items()) or [("ground truth", truth.iloc[:0])]
    columns = min(len(panels), 3)
    rows = int(np.ceil(len(panels) / columns))
    aspect = image.shape[0] / image.shape[1]
    # "compressed" packs the fixed-aspect images without bands of empty space between them
    figure = Figure(figsize=(4.2 * columns, 4.2 * aspect * rows + 1.0), layout="compressed")
    for ax, (method, method_picks) in zip(panel_axes(figure, len(panels), columns), panels,
                                          strict=True):
        ax.imshow(image, cmap="gray", vmin=low, vmax=high, origin="lower")
        for row in truth.itertuples(index=False):
            radius = radii.get(row.class_name, 10.0) / voxel_size_nm
            dz = abs(row.z - z0)
            if dz < radius:
                ax.add_patch(Circle((row.x, row.y), np.sqrt(radius**2 - dz**2), fill=False,
                                    color=colours[row.class_name], linewidth=1.0))
        near = method_picks[np.abs(method_picks["z"] - z0) <= pick_depth_voxels]
        for name, group in near.groupby("class_name"):
            ax.scatter(group["x"], group["y"], marker="x", s=18, linewidths=1.0,
                       color=colours.get(str(name), "red"))
        ax.set_title(f"{method} ({len(near)} picks near z = {z0})", fontsize=10)
        ax.set_xlabel("x (voxels)")
        ax.set_ylabel("y (voxels)")
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                      color=colours[c], label=c) for c in classes]
    figure.legend(handles=handles, loc="outside lower center", ncols=min(7, len(classes)),
                  fontsize=8, frameon=False)
    figure.suptitle(title or f"central slice z = {z0}: circles ground truth, crosses picks")
    return figure


def read_molecular_weights(paths) -> dict[str, float]:
    """``{PDB id: molecular_weight_kda}`` from the potentials' JSON metadata files."""
    import json

    from tomobench.errors import InputError

    weights = {}
    for path in paths:
        path = Path(path)
        try:
            meta = json.loads(path.read_text())
            weights[meta.get("pdb_id") or path.stem] = float(meta["molecular_weight_kda"])
        except (OSError, ValueError, KeyError, TypeError) as error:
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
    from matplotlib import colormaps

    from tomobench.classes import SHREC_CLASS_NAMES

    low, high = np.percentile(image, [1, 99])
    aspect = image.shape[0] / image.shape[1]
    figure = Figure(figsize=(7.6, 6.0 * aspect + 0.8), layout="compressed")
    ax = figure.add_subplot()
    ax.imshow(image, cmap="gray", vmin=low, vmax=high, origin="lower")
    cmap = colormaps["tab20"]
    present = [int(c) for c in np.unique(labels) if c > 0]
    for c in present:
        ax.contour((labels == c).astype(float), levels=[0.5], colors=[cmap(c % 20)],
                   linewidths=0.9, origin="lower")
    handles = [Line2D([], [], color=cmap(c % 20), label=SHREC_CLASS_NAMES[c]) for c in present]
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
    step; right: the validation macro Dice (where the kind has a segmentation head) and the
    learning rate. A vertical line marks the kept (best) step; the subtitle names the
    selection metric and the post-processing tuned on the validation tomograms.
    """
    history = pd.DataFrame(report["history"])
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    losses, metrics = figure.subplots(1, 2)
    losses.plot(history["step"], history["training_loss"], label="training loss")
    if "validation_loss" in history:
        losses.plot(history["step"], history["validation_loss"], label="validation loss")
    losses.set_xlabel("step")
    losses.set_ylabel("loss")
    if "validation_dice" in history:
        metrics.plot(history["step"], history["validation_dice"], color="C2",
                     label="validation macro Dice")
        metrics.set_ylim(0, 1)
        metrics.set_ylabel("validation macro Dice (foreground classes)")
    else:
        metrics.text(0.5, 0.5, "no segmentation head: no Dice", ha="center",
                     transform=metrics.transAxes)
    rate = metrics.twinx()
    rate.plot(history["step"], history["learning_rate"], color="0.6", linestyle=":",
              label="learning rate")
    rate.set_ylabel("learning rate")
    metrics.set_xlabel("step")
    for ax in (losses, metrics):
        ax.axvline(report["best_step"], color="0.3", linestyle="--", linewidth=1,
                   label=f"kept: step {report['best_step']}")
        ax.grid(alpha=0.3)
    handles = metrics.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    metrics.legend(handles=handles, fontsize=8, loc="lower right")
    losses.legend(fontsize=8)
    tuned = report.get("tuned_inference") or {}
    figure.suptitle(
        f"{method} ({report['kind']}): {len(report['training_tomograms'])} training tomograms, "
        f"weights selected by {report.get('selected_by', 'validation_loss')}"
        + (f"; tuned post-processing {tuned}" if tuned else ""), fontsize=10)
    return figure
