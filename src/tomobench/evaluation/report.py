"""Evaluation outputs: the JSON, text report, confusion CSV and figure of one scored submission."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


def json_ready(value):
    """Replace NaN/inf floats by None (strict JSON) in nested dicts/lists."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_text_report(path: str | os.PathLike, result: dict, *, title: str = "") -> None:
    """Write :func:`format_report` to ``path`` atomically."""
    from tomobench.atomic import write_text_atomic

    write_text_atomic(Path(path), format_report(result, title=title))


def write_evaluation(result: dict, json_path, text_path, confusion_path, *, title: str,
                     figure_path=None, figure_title: str = "") -> None:
    """Write one submission's evaluation: JSON (:func:`json_ready`), text report, confusion
    CSV and, with ``figure_path``, the confusion-matrix figure (what the ``evaluate_picks``
    rule and ``tomobench evaluate`` both write)."""
    from tomobench.evaluation.confusion import (
        confusion_frame,
        save_confusion_figure,
        write_confusion_csv,
    )
    from tomobench.io import write_json

    write_json(json_path, json_ready(result))
    write_text_report(text_path, result, title=title)
    frame = confusion_frame(result["classification"])
    write_confusion_csv(confusion_path, frame)
    if figure_path:
        save_confusion_figure(figure_path, frame, title=figure_title)


def format_report(result: dict, *, title: str = "") -> str:
    """Human-readable text report (the original's localisation block, the confusion matrix,
    per-class statistics, the CZII metric and warnings)."""
    loc = result["localization"]
    lines = [f"# SHREC 2021 evaluation ({result['mode']} mode){': ' + title if title else ''}", ""]
    lines += [
        "## Localization",
        f"Submission has {loc['lines']} predicted particles (RR = {loc['RR']})",
        f"Tomogram has {loc['N']} particles",
        f"TP: {loc['TP']} unique particles found",
        f"FP: {loc['FP']} predicted particles are false positive",
        f"FN: {loc['FN']} unique particles not found",
        f"MH: {loc['MH']} particles had more than one prediction",
        f"RO: {loc['RO']} predicted particles were outside of tomo bounds",
        f"AD: average euclidean distance from predicted to true centre: {loc['AD']}",
        f"Recall: {loc['recall']:.5f}",
        f"Precision: {loc['precision']:.5f}",
        f"Miss rate: {loc['miss_rate']:.5f}",
        f"F1 score: {loc['F1']:.5f}",
    ]
    intervals = (result.get("confidence_intervals") or {}).get("localization")
    if intervals:
        ci = result["confidence_intervals"]
        lines.append(f"{100 * ci['confidence']:.0f} % bootstrap intervals ({ci['resamples']} "
                     "resamples): " + ", ".join(
                         f"{metric} [{low:.5f}, {high:.5f}]"
                         for metric, (low, high) in intervals.items()))
    if loc.get("hits_on_excluded"):
        lines.append(f"Predictions on excluded particles (4V94, vesicle): {loc['hits_on_excluded']}"
                     + (" (ignored)" if loc["ignored"] else " (kept in RR)"))
    cls = result["classification"]
    width = max(len(n) for n in cls["labels"]) + 1
    lines += ["", "## Classification (rows actual, columns predicted)",
              " " * width + "".join(f"{n:>{width}}" for n in cls["labels"])]
    for name, row in zip(cls["labels"], cls["matrix"], strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{width}}" for v in row))
    lines += ["", f"{'class':<{width}} {'TP':>5} {'FP':>5} {'FN':>5} {'precision':>10} "
              f"{'recall':>8} {'F1':>8}"]
    for name, s in cls["per_class"].items():
        lines.append(f"{name:<{width}} {s['TP']:>5} {s['FP']:>5} {s['FN']:>5} "
                     f"{s['precision']:>10.5f} {s['recall']:>8.5f} {s['F1']:>8.5f}")
    lines.append(f"Overall accuracy: {cls['accuracy']:.5f}; mean F1 over classes: "
                 f"{cls['f1_macro']:.5f}")
    czii = result.get("czii")
    if czii:
        lines += ["", f"## CZII metric (match within {czii['radius_fraction']} x radius, "
                  f"beta = {czii['beta']})"]
        for name, s in czii["per_class"].items():
            lines.append(f"{name:<{width}} TP {s['TP']:>5} FP {s['FP']:>5} FN {s['FN']:>5} "
                         f"F-beta {s['fbeta']:.5f}")
        lines.append(f"micro F-beta {czii['fbeta_micro']:.5f}; "
                     f"macro F-beta {czii['fbeta_macro']:.5f}")
    if result.get("warnings"):
        lines += ["", "## Warnings", *[f"- {w}" for w in result["warnings"]]]
    return "\n".join(lines) + "\n"
