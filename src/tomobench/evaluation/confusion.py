"""Confusion matrices of the SHREC classification: one-vs-rest statistics, CSV, plots.

The matrix is ``actual × predicted`` (rows = ground-truth class, columns = class of the first
prediction that hit the particle; column ``background`` = missed particles). Per-class statistics
follow pycm's one-vs-rest definitions, which the organisers' script printed and the paper's
Table 4 reports (F1):

- ``TP_c`` = matrix[c, c]; ``FP_c`` = column sum − TP_c; ``FN_c`` = row sum − TP_c;
  ``TN_c`` = total − TP_c − FP_c − FN_c;
- precision (PPV) = TP/(TP+FP), recall (TPR) = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN);
  a 0/0 ratio is NaN (pycm prints ``None``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def confusion_counts(
    actual: Sequence[int], predicted: Sequence[int], labels: Sequence[int]
) -> np.ndarray:
    """Count ``(actual, predicted)`` pairs.

    Parameters
    ----------
    actual, predicted : sequences of int
        Class ids, one pair per ground-truth particle.
    labels : sequence of int
        Class ids of the rows/columns, in order; every id in the vectors must be listed.

    Returns
    -------
    ndarray
        ``(len(labels), len(labels))`` int64 matrix, rows actual, columns predicted.
    """
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for a, p in zip(actual, predicted, strict=True):
        matrix[index[int(a)], index[int(p)]] += 1
    return matrix


def one_vs_rest_statistics(matrix: np.ndarray, names: Sequence[str]) -> dict[str, dict]:
    """Per-class one-vs-rest statistics of a confusion matrix (pycm semantics).

    Parameters
    ----------
    matrix : ndarray
        ``(n, n)`` counts, rows actual, columns predicted.
    names : sequence of str
        Class name of each row/column.

    Returns
    -------
    dict
        ``{name: {TP, FP, FN, TN, support, precision, recall, F1}}`` (floats NaN where 0/0).
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    total = int(matrix.sum())
    stats = {}
    for i, name in enumerate(names):
        tp = int(matrix[i, i])
        fp = int(matrix[:, i].sum()) - tp
        fn = int(matrix[i, :].sum()) - tp
        stats[name] = {
            "TP": tp,
            "FP": fp,
            "FN": fn,
            "TN": total - tp - fp - fn,
            "support": tp + fn,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "F1": _ratio(2 * tp, 2 * tp + fp + fn),
        }
    return stats


def confusion_frame(classification: dict) -> pd.DataFrame:
    """The confusion matrix of an evaluation's ``classification`` block as a labelled frame."""
    labels = list(classification["labels"])
    frame = pd.DataFrame(np.asarray(classification["matrix"], dtype=np.int64), index=labels,
                         columns=labels)
    frame.index.name = "actual"
    frame.columns.name = "predicted"
    return frame


def reorder_confusion(frame: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Rows/columns in ``order`` (labels missing from ``frame`` are added as zeros; labels of
    ``frame`` missing from ``order`` are appended in their original order)."""
    labels = list(order) + [name for name in frame.index if name not in order]
    return frame.reindex(index=labels, columns=labels, fill_value=0)


def add_confusions(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Sum confusion frames with possibly different label sets (union of labels)."""
    labels: list[str] = []
    for frame in frames:
        labels.extend(name for name in frame.index if name not in labels)
    total = pd.DataFrame(0, index=labels, columns=labels, dtype=np.int64)
    for frame in frames:
        total = total.add(frame.reindex(index=labels, columns=labels, fill_value=0))
    total.index.name, total.columns.name = "actual", "predicted"
    return total.astype(np.int64)


def write_confusion_csv(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    """Write a confusion frame as CSV (first column ``actual``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index_label="actual\\predicted", lineterminator="\n")
    os.replace(tmp, path)


def plot_confusion(ax, frame: pd.DataFrame, *, title: str | None = None, annotate: bool = True):
    """Draw a confusion frame on ``ax``: counts as colours, zeros hidden, numbers written.

    The frame may be rectangular (e.g. without the never-actual ``background`` row). Returns
    the image artist (for a colour bar; see :func:`count_colorbar`).
    """
    counts = frame.to_numpy(dtype=float)
    shown = np.where(counts > 0, counts, np.nan)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=max(1.0, np.nanmax(shown, initial=1.0)))
    rows, columns = counts.shape
    ax.set_xticks(range(columns), labels=list(frame.columns), rotation=90)
    ax.set_yticks(range(rows), labels=list(frame.index))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("actual class")
    if title:
        ax.set_title(title)
    if annotate and max(rows, columns) <= 20:
        threshold = 0.6 * np.nanmax(shown, initial=1.0)
        fontsize = 9 if max(rows, columns) <= 10 else 7
        for (row, col), value in np.ndenumerate(counts):
            if value > 0:
                colour = "white" if value > threshold else "black"
                ax.text(col, row, f"{int(value)}", ha="center", va="center", fontsize=fontsize,
                        color=colour)
    return image


def count_colorbar(figure, image, ax, **options):
    """A colour bar of particle counts with integer ticks only."""
    from matplotlib.ticker import MaxNLocator

    colorbar = figure.colorbar(image, ax=ax, label="particles", **options)
    colorbar.locator = MaxNLocator(integer=True)
    colorbar.update_ticks()
    return colorbar


def without_background_row(frame: pd.DataFrame) -> pd.DataFrame:
    """The matrix without the ``background`` row (no particle is actually background) and with
    the ``background`` column (missed particles) last."""
    columns = [c for c in frame.columns if c != "background"]
    columns += ["background"] if "background" in frame.columns else []
    return frame.drop(index="background", errors="ignore")[columns]


def size_ordered_labels(labels: Sequence[str], order: Sequence[str] | None = None) -> list[str]:
    """``labels`` in display order: background, proteins light to heavy, then the rest
    (fiducial). ``order`` defaults to :data:`tomobench.classes.SIZE_ORDER`."""
    from tomobench.classes import SIZE_ORDER

    order = list(order or SIZE_ORDER)
    head = [n for n in ["background", *order] if n in labels]
    return head + [n for n in labels if n not in head]


def save_confusion_figure(path: str | os.PathLike, frame: pd.DataFrame, *, title: str) -> None:
    """Save one confusion matrix (rows/columns in size order) as an image (format from the
    suffix), without timestamps in the file."""
    from matplotlib.figure import Figure

    ordered = without_background_row(
        reorder_confusion(frame, size_ordered_labels(list(frame.index))))
    size = 2.5 + 0.45 * len(ordered.columns)
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = figure.add_subplot()
    image = plot_confusion(ax, ordered, title=title)
    count_colorbar(figure, image, ax, shrink=0.8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, metadata=_no_date_metadata(path))


def _no_date_metadata(path: Path) -> dict:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return {"CreationDate": None, "ModDate": None}
    if suffix == ".svg":
        return {"Date": None}
    return {}
