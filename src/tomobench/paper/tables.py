"""The paper's tables from per-method evaluation JSONs, and their published counterparts.

Several test tomograms are combined by summing counts (RR, N, TP, FP, FN, MH, RO, the confusion
matrices, the CZII counts) and recomputing the ratios; AD is the TP-weighted mean. The 95 %
bootstrap intervals of recall, precision, F1, per-class and size-group F1 are computed on the
pooled resampling units of the tomograms (:mod:`tomobench.evaluation.bootstrap`) and stored as
columns ``<metric>_lo`` and ``<metric>_hi``.
Tables are written as CSV (full precision), Markdown, LaTeX and HTML (3 decimals, "–" for
missing, an interval as ``0.630 [0.570, 0.690]``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench import seeding
from tomobench.classes import SIZE_GROUPS, SIZE_ORDER, TABLE4_CLASSES
from tomobench.errors import InputError
from tomobench.evaluation.bootstrap import (
    ALL_CLASSES,
    WEIGHT_CORRELATION,
    Units,
    bootstrap_intervals,
    spearman_with_weight,
)
from tomobench.evaluation.confusion import add_confusions, confusion_frame, one_vs_rest_statistics
from tomobench.evaluation.czii import czii_from_counts
from tomobench.io import read_json
from tomobench.methods.kinds import PAPER_NAME_BY_KIND
from tomobench.paper import published

LOCALIZATION_COLUMNS = ("RR", "TP", "FP", "FN", "MH", "RO", "AD", "Recall", "Precision",
                        "Miss rate", "F1")
_LOCALIZATION_KEYS = ("RR", "TP", "FP", "FN", "MH", "RO", "AD", "recall", "precision",
                      "miss_rate", "F1")
GROUP_TITLES = {"small": "Small", "medium": "Medium", "large": "Large"}


def paper_name(method: str, params: Mapping) -> str | None:
    """The paper's name for a configured method: its ``paper_name`` key, else by its kind."""
    return params.get("paper_name") or PAPER_NAME_BY_KIND.get(params.get("kind"))


def load_evaluation(path: str | os.PathLike) -> dict:
    """Read one evaluation JSON written by the ``evaluate`` rule."""
    result = read_json(path, "evaluation JSON")
    for key in ("localization", "classification"):
        if key not in result:
            raise InputError(f"{path}: not an evaluation file (no {key!r} block)")
    return result


def _number(value) -> float:
    return math.nan if value is None else float(value)


def combine_evaluations(results: Sequence[dict], resamples: int = 0,
                        rng: np.random.Generator | None = None) -> dict:
    """Sum the evaluations of one method over several tomograms.

    With ``resamples`` > 0 the bootstrap intervals of the pooled units are added (drawn from
    ``rng``).

    Returns
    -------
    dict
        ``{"localization": {RR, N, TP, FP, FN, MH, RO, AD, recall, precision, miss_rate, F1},
        "confusion": DataFrame, "per_class": {name: stats}, "czii": {...}, "intervals": {...}}``
        (``intervals`` as :func:`tomobench.evaluation.bootstrap.bootstrap_intervals`, empty
        without resamples).
    """
    if not results:
        raise InputError("no evaluation to combine")
    counts = {k: sum(int(r["localization"][k]) for r in results)
              for k in ("RR", "N", "TP", "FP", "FN", "MH", "RO")}
    distance = sum(_number(r["localization"]["AD"]) * r["localization"]["TP"]
                   for r in results if r["localization"]["TP"])
    tp, n, rr = counts["TP"], counts["N"], counts["RR"]
    recall = tp / n if n else math.nan
    precision = tp / rr if rr else 0.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0
    localization = {**counts, "AD": distance / tp if tp else math.nan, "recall": recall,
                    "precision": precision, "miss_rate": 1 - recall, "F1": f1}
    confusion = add_confusions([confusion_frame(r["classification"]) for r in results])
    per_class = one_vs_rest_statistics(confusion.to_numpy(), list(confusion.index))
    combined = {"localization": localization, "confusion": confusion, "per_class": per_class,
                "intervals": {"localization": {}, "per_class_f1": {}, "size_group_f1": {}}}
    if resamples > 0:
        if any("units" not in r for r in results):
            raise InputError("evaluation JSON without resampling units: re-run the evaluation "
                             "to get confidence intervals")
        units = Units.concatenate([Units.from_json(r["units"]) for r in results])
        combined["intervals"] = bootstrap_intervals(units, resamples, rng)
    czii_blocks = [r["czii"] for r in results if r.get("czii")]
    if czii_blocks:
        czii_counts: dict[str, dict] = {}
        for block in czii_blocks:
            for name, s in block["per_class"].items():
                c = czii_counts.setdefault(name, {"TP": 0, "FP": 0, "FN": 0})
                for key in c:
                    c[key] += int(s[key])
        combined["czii"] = czii_from_counts(czii_counts, czii_blocks[0]["beta"],
                                            czii_blocks[0]["radius_fraction"],
                                            weights=czii_blocks[0].get("weights"))
    return combined


def combine_methods(evaluation_files: Mapping[str, Sequence[str]], resamples: int = 0,
                    seed: int = 0) -> dict[str, dict]:
    """``{method: [json paths]}`` → ``{method: combined evaluation}`` (config order kept).

    Bootstrap intervals (``resamples`` > 0) use ``rng(seed, "bootstrap", method)``.
    """
    return {method: combine_evaluations([load_evaluation(p) for p in paths], resamples,
                                        seeding.rng(seed, "bootstrap", method))
            for method, paths in evaluation_files.items()}


# --------------------------------------------------------------------------- our tables


def _with_interval(row: dict, column: str, value, interval) -> None:
    row[column] = value
    if interval:
        row[f"{column}_lo"], row[f"{column}_hi"] = interval


def _display_order(classes: set[str]) -> list[str]:
    """Proteins light to heavy (others alphabetically), then fiducial and vesicle."""
    ordered = [c for c in SIZE_ORDER if c in classes]
    ordered += sorted(classes - set(ordered) - {"fiducial", "vesicle"})
    return ordered + [c for c in ("fiducial", "vesicle") if c in classes]


display_order = _display_order


#: Table 2's SNR rows (``snr.json`` of each tomogram: ``tomobench.reconstruction.snr``).
SNR_ROW = "SNR (whole tomogram)"
SNR_PARTICLES_ROW = "SNR (particle voxels)"
SNR_VERSUS_PAPER_ROWS = ("SNR, test tomogram(s) (mean)", "SNR, lowest tomogram",
                         "SNR, highest tomogram")


def particle_count_table(locations: Mapping[str, pd.DataFrame],
                         snr: Mapping[str, dict] | None = None) -> pd.DataFrame:
    """Table 2: particles per class (rows, light to heavy, then fiducial and vesicle) in each
    test tomogram (columns ``{name: particle_locations frame}``) and in total; with ``snr``
    (``{name: snr.json record}``) two more rows, each test tomogram's measured SNR over the
    whole tomogram and over its particle voxels (no total)."""
    counts = {name: frame["class_name"].value_counts() for name, frame in locations.items()}
    present = set().union(*(set(c.index) for c in counts.values())) if counts else set()
    classes = _display_order(present)
    frame = pd.DataFrame({name: [int(c.get(k, 0)) for k in classes]
                          for name, c in counts.items()}, index=classes)
    frame["Total"] = frame.sum(axis=1)
    if snr:
        frame = frame.astype(object)
        for row, region in ((SNR_ROW, "whole_tomogram"), (SNR_PARTICLES_ROW, "particle_voxels")):
            frame.loc[row] = [snr[name][region]["snr"] if name in snr else None
                              for name in locations] + [None]
    frame.index.name = "Class"
    return frame


def particle_counts_versus_paper(table2: pd.DataFrame,
                                 snr: Mapping[str, dict] | None = None) -> pd.DataFrame:
    """Our Table 2 totals beside the paper's counts for its test tomogram (model_9); with
    ``snr`` (``{name: snr.json record}`` of *every* tomogram) the measured SNR (whole
    tomogram) of the test tomograms (the columns of ``table2``; mean) and the lowest and
    highest of all, beside the paper's 0.24 and 0.12-0.58 (§2.1)."""
    paper = published.TABLE2_TEST_COUNTS
    counted = table2.drop(index=[SNR_ROW, SNR_PARTICLES_ROW], errors="ignore")
    classes = _display_order(set(counted.index) | set(paper))
    frame = pd.DataFrame({
        "tomobench": [counted["Total"].get(c, 0) for c in classes],
        "paper (model_9)": pd.array([paper.get(c) for c in classes], dtype="Int64"),
    }, index=classes)
    if snr:
        whole = {name: record["whole_tomogram"]["snr"] for name, record in snr.items()
                 if record["whole_tomogram"]["snr"] is not None}
        tests = [whole[name] for name in table2.columns if name in whole]
        low, high = published.SNR_RANGE
        frame = frame.astype(object)
        for row, ours, theirs in zip(
                SNR_VERSUS_PAPER_ROWS,
                (sum(tests) / len(tests) if tests else None, min(whole.values(), default=None),
                 max(whole.values(), default=None)),
                (published.SNR_TEST, low, high), strict=True):
            frame.loc[row] = [ours, theirs]
    frame.index.name = "Class"
    return frame


def ranked(frame: pd.DataFrame, score: pd.Series) -> pd.DataFrame:
    """``frame``'s rows ranked by ``score`` (highest first, NaN last, ties in the given order),
    with the controls (``"oracle (control)"``, ``"random (control)"``) after every method.
    Only the order changes, never a value."""
    from tomobench.evaluation.controls import is_control_label

    controls = [label for label in frame.index if is_control_label(label)]
    methods = [label for label in frame.index if not is_control_label(label)]
    order = list(score.reindex(methods).astype(float)
                 .sort_values(ascending=False, kind="stable", na_position="last").index)
    return frame.loc[order + controls]


def localization_table(combined: Mapping[str, dict]) -> pd.DataFrame:
    """Table 3: one row per method (RR … F1, plus RO and the CZII micro F-beta, and the CZII
    challenge's weighted F-beta when the run's classes have weights), with the intervals of
    recall, precision and F1; ranked by F1, the controls last."""
    rows = {}
    for method, c in combined.items():
        loc = c["localization"]
        intervals = c.get("intervals", {}).get("localization", {})
        row = {}
        for col, key in zip(LOCALIZATION_COLUMNS, _LOCALIZATION_KEYS, strict=True):
            _with_interval(row, col, loc[key], intervals.get(key))
        czii = c.get("czii")
        row["CZII F-beta"] = czii["fbeta_micro"] if czii else math.nan
        if czii and "fbeta_weighted" in czii:  # the challenge's per-class weights were given
            row["CZII weighted F-beta"] = czii["fbeta_weighted"]
        rows[method] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "Method"
    return ranked(frame, frame["F1"])


def table_classes(combined: Mapping[str, dict]) -> list[str]:
    """Scored classes present in any evaluation, light to heavy, then fiducial."""
    return _display_order({name for c in combined.values() for name in c["per_class"]
                           if name != "background"})


def class_f1_table(combined: Mapping[str, dict]) -> pd.DataFrame:
    """Table 4: per-class F1 (one-vs-rest of the confusion matrix), methods × classes, each
    with its interval columns; ranked by the mean over the classes, the controls last."""
    classes = table_classes(combined)
    rows = {}
    for method, c in combined.items():
        intervals = c.get("intervals", {}).get("per_class_f1", {})
        row = {}
        for name in classes:
            _with_interval(row, name, c["per_class"].get(name, {}).get("F1", math.nan),
                           intervals.get(name))
        rows[method] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "Method"
    return ranked(frame, frame[classes].astype(float).mean(axis=1))


def point_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` that are not interval bounds (``<metric>_lo``/``_hi``)."""
    bounds = {f"{c}_{end}" for c in frame.columns for end in ("lo", "hi")}
    return [c for c in frame.columns if c not in bounds]


def size_group_table(weights_kda: Mapping[str, float]) -> pd.DataFrame:
    """Table 5: size groups with the molecular-weight range (kDa) of our structures."""
    rows = []
    for group, members in SIZE_GROUPS.items():
        present = [m for m in members if m in weights_kda]
        weights = [weights_kda[m] for m in present]
        span = f"{min(weights):.0f}-{max(weights):.0f}" if len(weights) > 1 else ""
        span = f"{weights[0]:.0f}" if len(weights) == 1 else span
        rows.append({"Group": GROUP_TITLES[group], "Weight (kDa)": span,
                     "Proteins": ", ".join(present)})
    return pd.DataFrame(rows).set_index("Group")


#: Table 6's columns beyond the paper's size groups: the mean F1 over Table 4's classes and the
#: Spearman correlation of the proteins' F1 with molecular weight (the paper's claim that F1
#: rises with weight, as one number).
MEAN_TITLE = "All classes"
SPEARMAN_TITLE = "Spearman(F1, MW)"


def size_group_f1_table(combined: Mapping[str, dict]) -> pd.DataFrame:
    """Table 6: mean per-class F1 over each size group's classes present (the paper's average),
    then over all of Table 4's classes, and the Spearman correlation of the 12 proteins' F1
    with molecular weight, each with its bootstrap interval; ranked by the mean over all
    classes, the controls last."""
    class_f1 = class_f1_table(combined)
    rows = {}
    for method, c in combined.items():
        intervals = c.get("intervals", {}).get("size_group_f1", {})
        row = {}
        for group, members in {**SIZE_GROUPS, ALL_CLASSES: TABLE4_CLASSES}.items():
            present = [m for m in members if m in class_f1.columns]
            mean = class_f1.loc[method, present].astype(float).mean() if present else math.nan
            _with_interval(row, GROUP_TITLES.get(group, MEAN_TITLE), mean, intervals.get(group))
        _with_interval(row, SPEARMAN_TITLE, _weight_correlation(class_f1.loc[method]),
                       intervals.get(WEIGHT_CORRELATION))
        rows[method] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "Method"
    return ranked(frame, frame[MEAN_TITLE])


def _weight_correlation(class_f1: pd.Series) -> float:
    """Spearman correlation of a method's protein F1 values with molecular weight (NaN with
    fewer than three proteins)."""
    proteins = [m for m in SIZE_ORDER if m in class_f1.index and np.isfinite(class_f1[m])]
    if len(proteins) < 3:
        return math.nan
    return float(spearman_with_weight(class_f1[proteins].to_numpy(float)[None], proteins)[0])


# --------------------------------------------------------------------------- published tables


def published_localization() -> pd.DataFrame:
    columns = {"recall": "Recall", "precision": "Precision", "miss_rate": "Miss rate"}
    frame = pd.DataFrame.from_dict(published.TABLE3_LOCALIZATION, orient="index",
                                   columns=[columns.get(c, c) for c in published.TABLE3_COLUMNS])
    frame.index.name = "Method"
    return frame


def published_class_f1() -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(published.TABLE4_CLASS_F1, orient="index",
                                   columns=list(TABLE4_CLASSES))
    frame.index.name = "Method"
    return frame


def published_size_groups() -> pd.DataFrame:
    rows = [{"Group": GROUP_TITLES[g], "Weight (kDa)": w, "Proteins": ", ".join(p)}
            for g, (w, p) in published.TABLE5_SIZE_GROUPS.items()]
    return pd.DataFrame(rows).set_index("Group")


def published_size_group_f1() -> pd.DataFrame:
    """The published Table 6, with the mean and the weight correlation computed from the
    published Table 4."""
    frame = pd.DataFrame.from_dict(published.TABLE6_GROUP_F1, orient="index",
                                   columns=list(GROUP_TITLES.values()))
    class_f1 = published_class_f1()
    frame[MEAN_TITLE] = class_f1.reindex(frame.index)[list(TABLE4_CLASSES)].mean(axis=1)
    frame[SPEARMAN_TITLE] = [_weight_correlation(class_f1.loc[m]) if m in class_f1.index
                             else math.nan for m in frame.index]
    frame.index.name = "Method"
    return frame


def versus_paper(ours: pd.DataFrame, paper: pd.DataFrame,
                 paper_names: Mapping[str, str | None]) -> pd.DataFrame:
    """Our rows beside the paper's, for the methods both have.

    Parameters
    ----------
    ours, paper : DataFrame
        Indexed by method name (ours: config names; paper: paper names).
    paper_names : mapping
        Our method name → paper name (None: not in the paper).

    Returns
    -------
    DataFrame
        Columns ``Method, Paper method, Source`` (``tomobench`` | ``paper``) and our metric
        columns (the paper's value or NaN where it has none); two rows per shared method.
    """
    columns = list(ours.columns)
    rows = []
    for method in ours.index:
        name = paper_names.get(method)
        if not name or name not in paper.index:
            continue
        rows.append({"Method": method, "Paper method": name, "Source": "tomobench",
                     **ours.loc[method].to_dict()})
        rows.append({"Method": method, "Paper method": name, "Source": "paper",
                     **paper.loc[name].to_dict()})
    return pd.DataFrame(rows, columns=["Method", "Paper method", "Source", *columns])


# --------------------------------------------------------------------------- writing


#: Columns printed as integers in Markdown/LaTeX.
COUNT_COLUMNS = frozenset({"RR", "N", "TP", "FP", "FN", "MH", "RO"})


def _cell(value, column: str = "") -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)) or (column in COUNT_COLUMNS
                                                and isinstance(value, (float, np.floating))):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


def _cells(row, columns) -> list[str]:
    return [_cell(v, str(c)) for v, c in zip(row, columns, strict=True)]


def _latex_escape(text: str) -> str:
    for char, replacement in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"),
                              ("$", r"\$"), ("#", r"\#"), ("_", r"\_"), ("–", "--")):
        text = text.replace(char, replacement)
    return text


def _merge_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """``<metric>`` with ``<metric>_lo``/``_hi`` → one text cell ``0.630 [0.570, 0.690]``."""
    merged = frame[point_columns(frame)].astype(object)
    for column in merged.columns:
        if f"{column}_lo" not in frame.columns:
            continue
        cells = []
        for value, low, high in zip(frame[column], frame[f"{column}_lo"], frame[f"{column}_hi"],
                                    strict=True):
            text = _cell(value, column)
            if not (pd.isna(low) or pd.isna(high) or pd.isna(value)):
                text += f" [{low:.3f}, {high:.3f}]"
            cells.append(text)
        merged[column] = cells
    return merged


def to_markdown(frame: pd.DataFrame) -> str:
    """GitHub Markdown table of ``frame`` (index as first column when named; intervals merged
    into their metric's cell)."""
    frame = _merge_intervals(frame)
    table = frame.reset_index() if frame.index.name else frame
    header = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cells(row, table.columns)) + " |")
    return "\n".join(lines) + "\n"


def to_latex(frame: pd.DataFrame, *, caption: str = "", label: str = "") -> str:
    """A booktabs LaTeX table of ``frame`` (index as first column when named; intervals merged
    into their metric's cell)."""
    frame = _merge_intervals(frame)
    table = frame.reset_index() if frame.index.name else frame
    spec = "l" + "r" * (len(table.columns) - 1)
    lines = [r"\begin{table}[ht]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + _latex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines += [r"\begin{tabular}{" + spec + "}", r"\toprule",
              " & ".join(_latex_escape(str(c)) for c in table.columns) + r" \\", r"\midrule"]
    for row in table.itertuples(index=False):
        lines.append(" & ".join(_latex_escape(c) for c in _cells(row, table.columns)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1em;
       color: #1f2933; max-width: 68em; }
h1 { font-size: 1.1em; margin: 0 0 0.6em; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 1.2em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.4em;
          color: #52606d; }
th, td { padding: 0.25em 0.5em; border-bottom: 1px solid #e4e7eb; white-space: nowrap;
         vertical-align: top; }
th { background: #f0f2f5; position: sticky; top: 0; z-index: 1; }
th:first-child, td:first-child { position: sticky; left: 0; background: #fff; z-index: 2; }
th:first-child { background: #f0f2f5; z-index: 3; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.text, th.text { text-align: left; }
td .interval { display: block; font-size: 11px; color: #7b8794; }
tbody tr:hover td { background: #f7f9fb; }
.caption { font-size: 14px; line-height: 1.45; color: #323f4b; }
.caption p { margin: 0.5em 0; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; }
"""
#: Most columns (text and values) in one HTML table: a wider frame is split into several tables
#: of at most ``HTML_MAX_COLUMNS - <text columns>`` (at least 4) value columns each, every one
#: repeating the text columns (method, ...), so that each fits the report's 900-pixel pane.
HTML_MAX_COLUMNS = 8


def caption_html(rst: str) -> str:
    """A report caption (reStructuredText, as in ``workflow/report/*.rst``) as an HTML
    fragment."""
    from docutils.core import publish_parts

    return publish_parts(rst, writer_name="html5", settings_overrides={
        "report_level": 5, "halt_level": 5, "embed_stylesheet": False})["body"]


def _html_cell(value: str, kind: str) -> str:
    """One cell; an interval ``0.630 [0.570, 0.690]`` is split onto a second, smaller line."""
    from html import escape

    point, bracket, rest = value.partition(" [")
    if bracket and rest.endswith("]"):
        inner = f'{escape(point)}<span class="interval">[{escape(rest)}</span>'
    else:
        inner = escape(value)
    return f'<td class="{kind}">{inner}</td>'


def _column_groups(columns: list, numeric: set) -> list[list]:
    """The text columns plus a share of the value columns per group (see
    :data:`HTML_MAX_COLUMNS`), groups of near-equal size."""
    text = [c for c in columns if c not in numeric]
    values = [c for c in columns if c in numeric]
    budget = max(4, HTML_MAX_COLUMNS - len(text))
    if len(values) <= budget:
        return [columns]
    parts = int(np.ceil(len(values) / budget))
    size = int(np.ceil(len(values) / parts))
    return [text + values[k:k + size] for k in range(0, len(values), size)]


def to_html(frame: pd.DataFrame, *, caption: str = "", description: str = "") -> str:
    """A standalone HTML page with ``frame`` as a table (cells as in Markdown, an interval on a
    second line under its value; numbers right-aligned; the first column and the header stay
    in view when scrolling), for the Snakemake report, which shows HTML files inline. A frame
    wider than :data:`HTML_MAX_COLUMNS` is split into several tables of near-equal width.
    ``description`` (an HTML fragment, e.g. :func:`caption_html`) follows the tables."""
    from html import escape

    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
    frame = _merge_intervals(frame)
    table = frame.reset_index() if frame.index.name else frame
    groups = _column_groups(list(table.columns), numeric)
    parts = []
    for number, columns in enumerate(groups, start=1):
        part = table[columns]
        kinds = ["number" if c in numeric else "text" for c in columns]
        header = "".join(f'<th class="{k}">{escape(str(c))}</th>'
                         for c, k in zip(columns, kinds, strict=True))
        rows = []
        for row in part.itertuples(index=False):
            cells = _cells(row, columns) if len(columns) else []
            rows.append("<tr>" + "".join(_html_cell(v, k)
                                         for v, k in zip(cells, kinds, strict=True)) + "</tr>")
        label = f" ({number} of {len(groups)})" if len(groups) > 1 else ""
        parts.append(f"<table>\n<caption>{escape(caption)}{label}</caption>\n"
                     f"<thead><tr>{header}</tr></thead>\n<tbody>\n" + "\n".join(rows)
                     + "\n</tbody>\n</table>\n")
    title = escape(caption)
    body = "".join(parts)
    if description:
        body += f'<div class="caption">\n{description}</div>\n'
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n<style>{_HTML_STYLE}</style>\n</head>\n<body>\n"
            f"{body}</body>\n</html>\n")


def figure_html(png_path: str | os.PathLike, *, title: str, description: str = "") -> str:
    """A standalone HTML page showing the PNG (embedded) with its caption below, so that the
    report shows a figure and its caption together."""
    import base64
    from html import escape

    data = base64.b64encode(Path(png_path).read_bytes()).decode("ascii")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n<style>{_HTML_STYLE}</style>\n</head>\n<body>\n"
            f'<figure>\n<img src="data:image/png;base64,{data}" alt="{escape(title)}">\n'
            f'<figcaption class="caption">\n{description}</figcaption>\n</figure>\n'
            "</body>\n</html>\n")


def write_table(frame: pd.DataFrame, csv_path: str | os.PathLike, *, caption: str = "",
                description: str = "") -> None:
    """Write ``frame`` as ``<stem>.csv``, ``.md``, ``.tex`` and ``.html`` beside ``csv_path``
    (``description``: an HTML fragment shown under the HTML table, e.g. the report caption)."""
    from tomobench.atomic import write_text_atomic

    csv_path = Path(csv_path)
    stem = csv_path.with_suffix("")
    csv_text = frame.to_csv(index=bool(frame.index.name), float_format="%.6g",
                            lineterminator="\n")
    write_text_atomic(csv_path, csv_text)
    write_text_atomic(stem.with_suffix(".md"), to_markdown(frame))
    write_text_atomic(stem.with_suffix(".tex"),
                       to_latex(frame, caption=caption, label=f"tab:{stem.name}"))
    write_text_atomic(stem.with_suffix(".html"),
                      to_html(frame, caption=caption, description=description))
