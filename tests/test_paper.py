"""Paper tables and figures from small synthetic evaluation JSONs (real scorer output)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tomobench.evaluation.report import json_ready
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import GroundTruth
from tomobench.io import write_json
from tomobench.paper import published, tables, timings
from tomobench.paper.figures import (
    central_slice_figure,
    confusion_matrices_figure,
    cumulative_f1_figure,
    f1_vs_weight_figure,
    save_figure,
)

CLASSES = ["1BXN", "3H84", "1S3X", "fiducial"]
WEIGHTS_KDA = {"1BXN": 559.96, "3H84": 158.08, "1S3X": 42.75}
METHODS = {"TM": {"kind": "tm"}, "DeepFinder": {"kind": "deepfinder"}, "DoG": {"kind": "dog"}}


def small_truth(seed: int) -> GroundTruth:
    """A 40³ volume with 8 cubic particles of the four classes."""
    occupancy = np.zeros((40, 40, 40), dtype=np.int16)
    names, centres = [], []
    for k in range(8):
        z, y, x = 5 + 4 * k, 8 + (seed + 3 * k) % 24, 6 + (5 * k) % 28
        occupancy[z - 1:z + 2, y - 1:y + 2, x - 1:x + 2] = k + 1
        names.append(CLASSES[k % 4])
        centres.append((z, y, x))
    return GroundTruth(tuple(names), np.array(centres), occupancy, 0, (40, 40, 40), 1.0)


def method_picks(truth: GroundTruth, quality: int) -> pd.DataFrame:
    """Hit the first ``quality`` particles (one mislabelled), plus one false positive."""
    rows = []
    for k in range(quality):
        z, y, x = truth.centres_zyx[k]
        name = truth.class_names[k] if k != 1 else "1BXN"
        rows.append((name, x, y, z))
    rows.append(("1S3X", 39, 39, 0))
    return pd.DataFrame(rows, columns=["class_name", "x", "y", "z"])


@pytest.fixture(scope="module")
def evaluation_files(tmp_path_factory):
    """Two test tomograms × three methods of evaluation JSONs, as the evaluate rule writes."""
    root = tmp_path_factory.mktemp("evaluation")
    files = {}
    for method, quality in zip(METHODS, (4, 8, 6), strict=True):
        for i in (3, 4):
            truth = small_truth(i)
            path = root / method / f"model_{i}.json"
            write_json(path, json_ready(score_picks(truth, method_picks(truth, quality))))
            files.setdefault(method, []).append(str(path))
    return files


def test_combining_tomograms_sums_counts(evaluation_files):
    combined = tables.combine_methods(evaluation_files)
    single = tables.load_evaluation(evaluation_files["DeepFinder"][0])
    loc = combined["DeepFinder"]["localization"]
    assert loc["TP"] == 2 * single["localization"]["TP"] and loc["N"] == 16
    assert loc["recall"] == pytest.approx(loc["TP"] / 16)
    assert int(combined["DeepFinder"]["confusion"].to_numpy().sum()) == 16


def test_tables_contain_every_method_and_paper_rows(evaluation_files, tmp_path):
    combined = tables.combine_methods(evaluation_files, resamples=200, seed=1)
    names = {m: tables.paper_name(m, p) for m, p in METHODS.items()}
    assert names == {"TM": "TM", "DeepFinder": "DeepFinder", "DoG": None}
    table3 = tables.localization_table(combined)
    table4 = tables.class_f1_table(combined)
    table6 = tables.size_group_f1_table(combined)
    assert tables.point_columns(table4) == ["1S3X", "3H84", "1BXN", "fiducial"]
    for frame, metric in ((table3, "F1"), (table4, "1BXN"), (table6, "Small")):
        low, high = frame.loc["DeepFinder", [f"{metric}_lo", f"{metric}_hi"]]
        assert low <= frame.loc["DeepFinder", metric] <= high and low < high
    assert table4.loc["DeepFinder", "1BXN"] == pytest.approx(0.8)  # 2 x (TP 2, FP 1: a 3H84)
    assert math.isnan(table6.loc["TM", "Large"])
    assert table6.loc["TM", "Small"] == pytest.approx(table4.loc["TM", ["1S3X", "3H84"]].mean())
    for frame, paper in ((table3, tables.published_localization()),
                         (table4, tables.published_class_f1()),
                         (table6, tables.published_size_group_f1())):
        assert set(frame.index) == set(METHODS)
        both = tables.versus_paper(frame, paper, names)
        assert list(both["Source"]) == ["tomobench", "paper"] * 2
        assert set(both["Method"]) == {"TM", "DeepFinder"}
    both3 = tables.versus_paper(table3, tables.published_localization(), names)
    # ranked by our F1: DeepFinder (8 hits per tomogram) before TM (4)
    assert both3.loc[both3["Source"] == "paper", "TP"].tolist() == [1362, 1073]
    tables.write_table(table3, tmp_path / "table3_localization.csv", caption="Localization")
    text = {s: (tmp_path / f"table3_localization.{s}").read_text() for s in ("csv", "md", "tex")}
    for method in METHODS:
        assert all(method in t for t in text.values())
    assert "\\toprule" in text["tex"] and text["md"].startswith("| Method |")
    csv = pd.read_csv(tmp_path / "table3_localization.csv", index_col=0)
    assert csv.loc["TM", "TP"] == 8 and "F1_lo" in csv.columns and "F1_hi" in csv.columns
    row = next(line for line in text["md"].splitlines() if line.startswith("| TM |"))
    f1_cell = row.split("|")[-3].strip()  # ... | F1 | CZII F-beta |
    value, low, high = (table3.loc["TM", c] for c in ("F1", "F1_lo", "F1_hi"))
    assert f1_cell == f"{value:.3f} [{low:.3f}, {high:.3f}]"
    assert "F1_lo" not in text["md"]


def test_table2_particle_counts_beside_the_paper():
    locations = {
        "model_3": pd.DataFrame({"class_name": ["5MRC", "1S3X", "1S3X", "vesicle", "fiducial"]}),
        "model_4": pd.DataFrame({"class_name": ["1S3X", "3H84"]}),
    }
    table2 = tables.particle_count_table(locations)
    assert list(table2.index) == ["1S3X", "3H84", "5MRC", "fiducial", "vesicle"]
    assert table2.loc["1S3X"].tolist() == [2, 1, 3]
    both = tables.particle_counts_versus_paper(table2)
    assert both.loc["1S3X", "paper (model_9)"] == 122 and both.loc["3QM1", "tomobench"] == 0
    assert "| vesicle | 1 | – |" in tables.to_markdown(both)


def test_table2_shows_the_measured_snr_beside_the_paper():
    locations = {"model_4": pd.DataFrame({"class_name": ["1S3X", "3H84"]}),
                 "model_5": pd.DataFrame({"class_name": ["1S3X"]})}

    def record(whole, particles):
        return {"whole_tomogram": {"snr": whole}, "particle_voxels": {"snr": particles}}

    snr = {"model_3": record(0.5, 1.5), "model_4": record(0.2, 1.2),
           "model_5": record(0.3, 1.0)}
    table2 = tables.particle_count_table(locations, snr)
    assert table2.loc[tables.SNR_ROW].tolist()[:2] == [0.2, 0.3]
    assert pd.isna(table2.loc[tables.SNR_ROW, "Total"])
    assert table2.loc[tables.SNR_PARTICLES_ROW, "model_5"] == 1.0
    assert table2.loc["1S3X"].tolist() == [1, 1, 2]
    both = tables.particle_counts_versus_paper(table2, snr)
    mean, low, high = (both.loc[row].tolist() for row in tables.SNR_VERSUS_PAPER_ROWS)
    assert mean == [pytest.approx(0.25), 0.24] and low == [0.2, 0.12] and high == [0.5, 0.58]
    assert both.loc["1S3X", "tomobench"] == 2 and tables.SNR_ROW not in both.index
    text = tables.to_markdown(both)
    assert "| SNR, test tomogram(s) (mean) | 0.250 | 0.240 |" in text
    assert "| 1S3X | 2 | 122 |" in text


def test_size_group_table_uses_our_weights():
    table5 = tables.size_group_table(WEIGHTS_KDA)
    assert table5.loc["Small", "Proteins"] == "1S3X, 3H84"
    assert table5.loc["Small", "Weight (kDa)"] == "43-158"
    assert table5.loc["Medium", "Weight (kDa)"] == "560"
    assert table5.loc["Large", "Proteins"] == ""
    assert list(tables.published_size_groups().index) == ["Small", "Medium", "Large"]


def test_published_numbers_are_consistent():
    for method, row in published.TABLE3_LOCALIZATION.items():
        values = dict(zip(published.TABLE3_COLUMNS, row, strict=True))
        assert values["TP"] + values["FN"] in (1565, 1564), method  # 1,565 scored particles
    for method, f1 in published.TABLE4_CLASS_F1.items():
        small = np.mean(f1[:5])
        assert small == pytest.approx(published.TABLE6_GROUP_F1[method][0], abs=6e-4), method
    assert sum(published.TABLE2_TEST_COUNTS.values()) == 1565
    assert published.duration_seconds("2h 6m") == 7560
    assert published.duration_seconds("N/A") is None


def test_published_table3_uses_the_published_mode_denominator():
    """Recall = TP / 1571 (vesicles counted, quirk Q3) and precision = TP / RR reproduce the
    paper to 3 decimals; YOPO's printed recall (0.720) is a typo: its miss rate is 1 − 0.779."""
    for method, row in published.TABLE3_LOCALIZATION.items():
        values = dict(zip(published.TABLE3_COLUMNS, row, strict=True))
        assert round(1 - values["TP"] / 1571, 3) == values["miss_rate"], method
        assert round(values["TP"] / values["RR"], 3) == values["precision"], method
        if method != "YOPO":
            assert round(values["TP"] / 1571, 3) == values["recall"], method


def test_timing_table_from_benchmark_tsvs(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    paths = {}
    for name, seconds in (("train", [3700.0, 3500.0]), ("pick", [30.0]), ("match", [90.0])):
        path = tmp_path / f"{name}.tsv"
        path.write_text(header + "".join(f"{s}\t0\t1\t1\t1\t1\t0\t0\t0\t{s}\n" for s in seconds))
        paths[name] = str(path)
    table = timings.timing_table({"DeepFinder": [paths["train"]]},
                                 {"DeepFinder": [paths["pick"]],
                                  "TM": [paths["match"], paths["pick"]]})
    assert table.loc["DeepFinder", "Training (s)"] == 3600.0
    assert table.loc["DeepFinder", "Training stage"] == "1h"
    assert table.loc["TM", "Inference (s)"] == 120.0
    assert table.loc["TM", "Training stage"] == "N/A"
    both = tables.versus_paper(table, timings.published_timings(), {"TM": "TM",
                                                                    "DeepFinder": "DeepFinder"})
    assert both.loc[both["Source"] == "paper", "Inference stage"].tolist() == ["20m", "4h 26m"]
    assert timings.format_duration(7560) == "2h 6m"
    assert timings.format_duration(184) == "3m 4s"


def test_figures_render_every_method(evaluation_files, tmp_path):
    combined = tables.combine_methods(evaluation_files, resamples=100)
    class_f1 = tables.class_f1_table(combined)
    for name, figure in (
        ("figure9", cumulative_f1_figure(class_f1)),
        ("figure10", f1_vs_weight_figure(class_f1, WEIGHTS_KDA)),
        ("figure11", confusion_matrices_figure(
            {m: c["confusion"] for m, c in combined.items()}, WEIGHTS_KDA)),
    ):
        texts = {t.get_text() for ax in figure.axes for t in
                 [*ax.texts, ax.title, *(ax.get_legend().texts if ax.get_legend() else [])]}
        texts |= {t.get_text() for ax in figure.axes for t in ax.get_yticklabels()}
        for method in METHODS:
            assert any(method in t for t in texts), (name, method)
        save_figure(figure, tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_central_slice_figure_and_reproducible_output(tmp_path):
    truth = small_truth(3)
    tomogram = np.random.default_rng(0).normal(size=(40, 40, 40)).astype(np.float32)
    frame = pd.DataFrame({"class_name": truth.class_names, "x": truth.centres_zyx[:, 2],
                          "y": truth.centres_zyx[:, 1], "z": truth.centres_zyx[:, 0]})
    picks = {m: method_picks(truth, 8).assign(z=20) for m in METHODS}
    figure = central_slice_figure(tomogram, frame, picks)
    assert [ax.get_title().split(" (")[0] for ax in figure.axes] == list(METHODS)
    save_figure(figure, tmp_path / "a.png")
    save_figure(central_slice_figure(tomogram, frame, picks), tmp_path / "b.png")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_figure11_has_no_background_row_one_colour_bar_and_no_blank_panel(
        evaluation_files, tmp_path):
    combined = tables.combine_methods(evaluation_files)
    confusions = {m: c["confusion"] for m, c in combined.items()}
    confusions["copy"] = next(iter(confusions.values()))  # 4 methods: a 2 x 2 grid
    confusions["copy 2"] = confusions["copy"]  # 5: rows of 3 and a centred 2
    figure = confusion_matrices_figure(confusions, WEIGHTS_KDA)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(confusions)
    for ax in panels:
        rows = [t.get_text().split(" (")[0] for t in ax.get_yticklabels()]
        columns = [t.get_text() for t in ax.get_xticklabels()]
        assert "background" not in rows and columns[-1] == "background"
        assert rows == ["1S3X", "3H84", "1BXN", "fiducial"]  # light to heavy, then the rest
    colorbars = [ax for ax in figure.axes if "fraction" in ax.get_ylabel()]
    assert len(colorbars) == 1  # one shared scale
    # the last row (2 panels) is centred under the first (3 panels): no empty slot
    left = sorted(ax.get_position().x0 for ax in panels[3:])
    right = sorted(ax.get_position().x1 for ax in panels[:3])
    assert left[0] > panels[0].get_position().x0 + 0.05 and max(left) < right[-1]
    save_figure(figure, tmp_path / "f11.png", pdf=False)
    from matplotlib.image import imread

    height, width = imread(tmp_path / "f11.png").shape[:2]
    assert width <= 2400 and height <= 2400 and not (tmp_path / "f11.pdf").exists()


def test_class_mask_slice_legend_is_outside_the_image():
    from tomobench.paper.figures import class_mask_slice_figure

    labels = np.zeros((30, 40), int)
    labels[5:10, 5:10], labels[20:25, 30:35] = 4, 15
    figure = class_mask_slice_figure(np.random.default_rng(1).normal(size=(30, 40)), labels,
                                     voxel_size_nm=1.0, title="t")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    (ax,) = figure.axes
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.texts] == ["1BXN", "fiducial"]
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_tables_are_written_as_html_too(tmp_path):
    frame = pd.DataFrame({"Method": ["TM <fast>"], "TP": [3.0], "F1": [0.51234]})
    tables.write_table(frame, tmp_path / "t.csv", caption="Localization & more")
    html = (tmp_path / "t.html").read_text()
    assert "<caption>Localization &amp; more</caption>" in html
    assert '<td class="text">TM &lt;fast&gt;</td>' in html
    assert '<td class="number">3</td>' in html and '<td class="number">0.512</td>' in html
    assert {p.suffix for p in tmp_path.iterdir()} == {".csv", ".md", ".tex", ".html"}


def test_method_tables_are_ranked_by_their_main_score_with_the_controls_last(evaluation_files):
    from tomobench.evaluation.controls import control_label

    files = {control_label("oracle"): evaluation_files["DeepFinder"], **evaluation_files,
             control_label("random"): evaluation_files["TM"]}
    combined = tables.combine_methods(files)
    unranked = {m: combined[m] for m in files}
    table3 = tables.localization_table(unranked)
    table4 = tables.class_f1_table(unranked)
    table6 = tables.size_group_f1_table(unranked)
    controls = [control_label("oracle"), control_label("random")]
    for frame, score in ((table3, table3["F1"]),
                         (table4, table4[tables.point_columns(table4)].mean(axis=1)),
                         (table6, table6[tables.MEAN_TITLE])):
        assert list(frame.index[-2:]) == controls
        methods = score.drop(controls)
        assert list(frame.index[:-2]) == list(methods.sort_values(ascending=False,
                                                                  kind="stable").index)
        assert methods.is_monotonic_decreasing
    assert list(table3.index[:3]) == ["DeepFinder", "DoG", "TM"]  # 8, 6, 4 hits per tomogram
    # only the order changes: every row keeps its numbers
    for method in files:
        assert table3.loc[method, "F1"] == combined[method]["localization"]["F1"]


def test_wide_html_tables_are_split_with_the_method_column_repeated():
    import re

    columns = [f"c{k}" for k in range(13)]
    frame = pd.DataFrame([[0.5] * 13, [0.25] * 13], index=["A", "B"], columns=columns)
    frame.index.name = "Method"
    frame["c0_lo"], frame["c0_hi"] = 0.4, 0.6
    html = tables.to_html(frame, caption="wide", description="<p>the caption</p>")
    parts = re.findall(r"<table>.*?</table>", html, re.S)
    headers = [re.findall(r'<th class="\w+">(.*?)</th>', part) for part in parts]
    assert [h[0] for h in headers] == ["Method", "Method"]  # the method column repeated
    assert [c for h in headers for c in h[1:]] == columns  # every value column once, in order
    assert max(len(h) for h in headers) <= tables.HTML_MAX_COLUMNS
    assert '0.500<span class="interval">[0.400, 0.600]</span>' in parts[0]
    assert html.index("</table>") < html.index("<p>the caption</p>")
    narrow = tables.to_html(frame[["c1", "c2"]], caption="narrow")
    assert narrow.count("<table>") == 1 and "(1 of" not in narrow
