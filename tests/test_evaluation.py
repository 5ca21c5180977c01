"""SHREC 2021 scoring: the organisers' numbers on the documented synthetic fixture, the quirks
and their handled crashes, both ground-truth releases, the CZII metric and STAR export."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tomobench.classes import SHREC_CLASS_NAMES, volume_equivalent_radius_nm
from tomobench.errors import InputError
from tomobench.evaluation.confusion import one_vs_rest_statistics
from tomobench.evaluation.czii import czii_score, match_counts
from tomobench.evaluation.shrec import evaluate_submission, score_picks
from tomobench.evaluation.truth import (
    GroundTruth,
    dilate_occupancy,
    dilated_occupancy_ids,
    load_ground_truth_folder,
)
from tomobench.mrc import write_mrc
from tomobench.particles import write_particle_locations

SHAPE = (512, 512, 512)
PROTEINS = SHREC_CLASS_NAMES[1:14]  # 4V94 ... 5MRC in label order


def fixture_truth_rows():
    """(name, x, y, z, radius) of the documented fixture (reference notes §2.7)."""
    rows = [("vesicle", 100, 100, 250, 20), ("fiducial", 200, 100, 250, 5)]
    rows += [(name, 60 + 30 * k, 300, 250, 6) for k, name in enumerate(PROTEINS)]
    rows.append(("1S3X", 450, 450, 250, 4))
    return rows


def paint_spheres(shape, rows, z_shift=0):
    """int16 occupancy volume: solid spheres, value = 1-based row number."""
    occupancy = np.zeros(shape, dtype=np.int16)
    for particle_id, (_, x, y, z, r) in enumerate(rows, start=1):
        z -= z_shift
        zz, yy, xx = np.ogrid[z - r:z + r + 1, y - r:y + r + 1, x - r:x + r + 1]
        ball = (zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= r * r
        occupancy[z - r:z + r + 1, y - r:y + r + 1, x - r:x + r + 1][ball] = particle_id
    return occupancy


def fixture_truth(rows=None, shape=SHAPE) -> GroundTruth:
    rows = rows or fixture_truth_rows()
    return GroundTruth(
        class_names=tuple(r[0] for r in rows),
        centres_zyx=np.array([[r[3], r[2], r[1]] for r in rows], dtype=np.int64),
        occupancy=paint_spheres(shape, rows),
        z_offset=0,
        volume_shape=shape,
        voxel_size_nm=1.0,
    )


def fixture_picks() -> pd.DataFrame:
    """The documented 22-line submission."""
    lines = []
    for k, name in enumerate(PROTEINS):
        x = 60 + 30 * k
        if name == "4V94":
            lines.append(("4v94", x + 1, 300, 250))
        elif name == "3CF3":
            lines.append(("1qvr", x, 300, 252))  # 2 voxels off in z, wrong class
        else:
            lines.append((name.lower() if k % 2 else name, x + 1, 300, 250))
    lines.append(("3gl1", 60 + 30 * 3 + 1, 300, 250))  # duplicate on the 1BXN particle
    lines += [("5mrc", 420 + d, 300, 250) for d in (6, 7, 8)]  # 7 hits by dilation, 8 is FP
    lines += [("fiducial", 200, 100, 250), ("1QVR", 100, 100, 250), ("1BXN", 10, 10, 10)]
    lines += [("1BXN", 600, 300, 250), ("1BXN", -5, 300, 250)]  # out of bounds
    return pd.DataFrame(lines, columns=["class_name", "x", "y", "z"])


@pytest.fixture(scope="module")
def truth():
    return fixture_truth()


def test_documented_fixture_reproduces_the_organisers_numbers(truth):
    result = score_picks(truth, fixture_picks(), mode="published")
    loc = result["localization"]
    assert (loc["RR"], loc["N"]) == (22, 15)
    assert (loc["TP"], loc["FP"], loc["FN"], loc["MH"], loc["RO"]) == (13, 4, 1, 2, 2)
    assert loc["AD"] == pytest.approx(1.0)
    assert f"{loc['recall']:.5f}" == "0.86667"
    assert f"{loc['precision']:.5f}" == "0.59091"
    assert f"{loc['F1']:.5f}" == "0.70270"
    assert f"{loc['miss_rate']:.5f}" == "0.13333"
    per_class = result["classification"]["per_class"]
    f1 = {name: round(s["F1"], 3) for name, s in per_class.items() if name != "background"}
    expected = {name: 1.0 for name in PROTEINS[1:]} | {"fiducial": 1.0}
    expected |= {"1QVR": 0.667, "3CF3": 0.0, "1S3X": 0.667}
    assert f1 == expected
    frame = pd.DataFrame(result["classification"]["matrix"],
                         index=result["classification"]["labels"],
                         columns=result["classification"]["labels"])
    assert frame.loc["3CF3", "1QVR"] == 1 and frame.loc["3CF3", "3CF3"] == 0
    assert frame.loc["1S3X", "background"] == 1
    assert frame.loc["background"].sum() == 0  # localisation FPs are not in the matrix
    assert "4V94" not in frame.index and "vesicle" not in frame.index
    assert result["warnings"] == []


def test_variant_4v94_label_moves_hit_to_background(truth):
    picks = fixture_picks()
    picks.loc[1, "class_name"] = "4v94"  # the 4CR2 hit
    result = score_picks(truth, picks, mode="published")
    assert result["localization"]["TP"] == 13
    labels = result["classification"]["labels"]
    matrix = np.array(result["classification"]["matrix"])
    assert matrix[labels.index("4CR2"), labels.index("background")] == 1
    assert result["classification"]["per_class"]["4CR2"]["TP"] == 0


@pytest.mark.parametrize("label", ["vesicle", "Fiducial", "background"])
def test_variant_unknown_first_hit_label_is_handled_not_a_crash(truth, label):
    picks = fixture_picks()
    picks.loc[1, "class_name"] = label  # the organisers' script: KeyError
    result = score_picks(truth, picks, mode="published")
    assert result["localization"]["TP"] == 13
    labels = result["classification"]["labels"]
    matrix = np.array(result["classification"]["matrix"])
    assert matrix[labels.index("4CR2"), labels.index("background")] == 1
    assert "KeyError" in result["warnings"][0]


def test_corrected_mode_resolves_labels_case_insensitively(truth):
    picks = fixture_picks()
    picks.loc[1, "class_name"] = "4CR2"
    picks.loc[17, "class_name"] = "FIDUCIAL"  # the fiducial hit
    published = score_picks(truth, picks, mode="published")
    corrected = score_picks(truth, picks, mode="corrected")
    assert published["classification"]["per_class"]["fiducial"]["TP"] == 0
    assert corrected["classification"]["per_class"]["fiducial"]["TP"] == 1


def test_variant_nothing_missed_is_scored_not_a_crash(truth):
    picks = pd.concat([fixture_picks(), pd.DataFrame(
        [("1S3X", 450, 450, 250)], columns=["class_name", "x", "y", "z"])], ignore_index=True)
    result = score_picks(truth, picks, mode="published")
    loc = result["localization"]
    assert (loc["TP"], loc["FN"], loc["RR"]) == (14, 0, 23)
    assert loc["recall"] == pytest.approx(14 / 15)  # vesicle still in the denominator (Q3)
    assert result["classification"]["per_class"]["1S3X"]["F1"] == 1.0
    assert "background" in result["classification"]["labels"]


def test_corrected_mode_fixes_denominator_and_exclusions(truth):
    result = score_picks(truth, fixture_picks(), mode="corrected")
    loc = result["localization"]
    # vesicle out of N; the 4v94 pick and the pick on the vesicle are ignored, not in RR
    assert (loc["N"], loc["RR"], loc["ignored"]) == (14, 20, 2)
    assert (loc["TP"], loc["FP"], loc["FN"]) == (13, 4, 1)
    assert loc["recall"] == pytest.approx(13 / 14)
    assert loc["precision"] == pytest.approx(13 / 20)


def perfect_picks(rows):
    scored = [r for r in rows if r[0] not in ("4V94", "vesicle")]
    return pd.DataFrame([(r[0], r[1], r[2], r[3]) for r in scored],
                        columns=["class_name", "x", "y", "z"])


def test_perfect_picks_give_f1_one():
    rows = [r for r in fixture_truth_rows() if r[0] not in ("vesicle", "4V94")]
    truth = fixture_truth(rows)
    result = score_picks(truth, perfect_picks(rows), mode="published")
    loc = result["localization"]
    assert (loc["TP"], loc["FP"], loc["FN"], loc["F1"], loc["AD"]) == (14, 0, 0, 1.0, 0.0)
    per_class = result["classification"]["per_class"]
    assert all(s["F1"] == 1.0 for n, s in per_class.items() if n != "background")


def test_perfect_picks_with_vesicles_show_the_published_denominator(truth):
    rows = fixture_truth_rows()
    published = score_picks(truth, perfect_picks(rows), mode="published")["localization"]
    corrected = score_picks(truth, perfect_picks(rows), mode="corrected")["localization"]
    assert published["recall"] == pytest.approx(14 / 15) and published["F1"] < 1
    assert corrected["F1"] == 1.0


def test_picks_outside_every_particle_score_zero(truth):
    picks = perfect_picks(fixture_truth_rows())
    picks["z"] = 400  # far above the particle layer at z = 250
    loc = score_picks(truth, picks, mode="published")["localization"]
    assert (loc["TP"], loc["FP"], loc["F1"], loc["recall"], loc["precision"]) == (0, 14, 0, 0, 0)
    assert math.isnan(loc["AD"])


def test_empty_submission_scores_zero(truth):
    empty = pd.DataFrame(columns=["class_name", "x", "y", "z"])
    loc = score_picks(truth, empty, mode="published")["localization"]
    assert (loc["RR"], loc["TP"], loc["FN"], loc["F1"]) == (0, 0, 14, 0)


def test_duplicates_lower_precision_only(truth):
    picks = fixture_picks()
    doubled = pd.concat([picks, picks.iloc[:5]], ignore_index=True)
    base = score_picks(truth, picks, mode="published")["localization"]
    dup = score_picks(truth, doubled, mode="published")["localization"]
    for key in ("TP", "FP", "FN", "recall", "AD"):
        assert dup[key] == base[key]
    assert dup["precision"] < base["precision"] and dup["RR"] == base["RR"] + 5
    assert dup["MH"] > base["MH"]


def test_first_hit_decides_class_and_distance(truth):
    x = 60 + 30 * 4  # 3CF3
    picks = pd.DataFrame([("1QVR", x + 3, 300, 250), ("3CF3", x, 300, 250)],
                         columns=["class_name", "x", "y", "z"])
    result = score_picks(truth, picks, mode="published")
    assert result["localization"]["AD"] == 3.0
    assert result["classification"]["per_class"]["3CF3"]["TP"] == 0
    reversed_result = score_picks(truth, picks.iloc[::-1].reset_index(drop=True), mode="published")
    assert reversed_result["localization"]["AD"] == 0.0


def test_rounding_is_half_to_even_and_bounds_follow_the_shape():
    rows = [("1BXN", 10, 10, 10, 1)]
    truth = fixture_truth(rows, shape=(20, 20, 20))
    picks = pd.DataFrame([("1BXN", 11.5, 10, 10), ("1BXN", 12.5, 10, 10),
                          ("1BXN", 19.4, 10, 10), ("1BXN", 19.5, 10, 10)],
                         columns=["class_name", "x", "y", "z"])
    result = score_picks(truth, picks, mode="published")
    # 11.5 -> 12 (hit via dilation), 12.5 -> 12 (hit), 19.4 -> 19 in bounds, 19.5 -> 20 clipped
    assert result["localization"]["TP"] == 1 and result["localization"]["MH"] == 1
    assert result["localization"]["RO"] == 1 and result["localization"]["FP"] == 2


def test_point_lookup_equals_skimage_dilation_of_the_whole_volume():
    morphology = pytest.importorskip("skimage.morphology")
    generator = np.random.default_rng(5)
    occupancy = np.zeros((17, 19, 23), dtype=np.int16)
    occupancy[generator.random(occupancy.shape) < 0.05] = 1
    occupancy *= generator.integers(1, 300, size=occupancy.shape).astype(np.int16)
    reference = morphology.dilation(occupancy)
    assert np.array_equal(dilate_occupancy(occupancy), reference)
    points = np.argwhere(np.ones(occupancy.shape, dtype=bool))
    assert np.array_equal(dilated_occupancy_ids(occupancy, points), reference[tuple(points.T)])


def test_lazy_slab_padding_equals_dilation_of_the_padded_volume():
    generator = np.random.default_rng(6)
    slab = (generator.random((6, 12, 12)) < 0.1).astype(np.int16) * 7
    padded = np.zeros((14, 12, 12), dtype=np.int16)
    padded[4:10] = slab
    points = np.argwhere(np.ones(padded.shape, dtype=bool))
    expected = dilate_occupancy(padded)[tuple(points.T)]
    got = dilated_occupancy_ids(slab, points, z_offset=4, volume_shape=padded.shape)
    assert np.array_equal(got, expected)


def write_truth_folder(folder, rows, occupancy):
    folder.mkdir(parents=True)
    frame = pd.DataFrame([(r[0], r[1], r[2], r[3], math.nan, math.nan, math.nan) for r in rows],
                         columns=["class_name", "x", "y", "z", "a1", "a2", "a3"])
    write_particle_locations(folder / "particle_locations.txt", frame)
    write_mrc(folder / "occupancy_mask.mrc", occupancy, 1.0)


@pytest.fixture(scope="module")
def release_folders(tmp_path_factory, truth):
    """The fixture as the 512³ cube release and as the 180×512×512 slab release (z 166–345)."""
    root = tmp_path_factory.mktemp("shrec")
    rows = fixture_truth_rows()
    write_truth_folder(root / "cube", rows, truth.occupancy)
    write_truth_folder(root / "slab", rows, truth.occupancy[166:346])
    picks = root / "picks.txt"
    picks.write_text("".join(f"{n} {x} {y} {z} 0.5\n" for n, x, y, z in
                             fixture_picks().itertuples(index=False)))
    return root


def test_cube_and_slab_releases_give_identical_scores(release_folders):
    cube = load_ground_truth_folder(release_folders / "cube")
    slab = load_ground_truth_folder(release_folders / "slab")
    assert (cube.z_offset, slab.z_offset) == (0, 166)
    assert cube.volume_shape == slab.volume_shape == SHAPE
    picks = release_folders / "picks.txt"
    cube_result = evaluate_submission(cube, picks, mode="published")
    slab_result = evaluate_submission(slab, picks, mode="published")
    for key in ("localization", "classification", "czii"):
        assert cube_result[key] == slab_result[key]
    assert cube_result["localization"]["TP"] == 13
    explicit = load_ground_truth_folder(release_folders / "slab", slab_offset=166)
    explicit_result = evaluate_submission(explicit, picks, mode="published")
    assert explicit_result["localization"] == cube_result["localization"]


def test_slab_release_with_slab_frame_coordinates(tmp_path, truth):
    rows = [(n, x, y, z - 166, r) for n, x, y, z, r in fixture_truth_rows()]
    write_truth_folder(tmp_path / "slab", rows, truth.occupancy[166:346])
    slab = load_ground_truth_folder(tmp_path / "slab", slab_offset=166)
    assert slab.centres_zyx[0, 0] == 250
    assert score_picks(slab, fixture_picks(), mode="published")["localization"]["TP"] == 13


def test_columns_after_z_are_ignored_as_by_the_organisers(tmp_path, release_folders):
    picks = tmp_path / "angles.txt"
    picks.write_text("1BXN 150 300 250 12.5 90.0 45.0\n1BXN 151 300 250 model-a note\n")
    truth = load_ground_truth_folder(release_folders / "cube")
    loc = evaluate_submission(truth, picks, mode="published")["localization"]
    assert (loc["RR"], loc["TP"], loc["MH"]) == (2, 1, 1)


def test_bad_inputs_name_file_and_line(tmp_path, release_folders):
    bad = tmp_path / "bad.txt"
    bad.write_text("1BXN 1 2 3\n1BXN 4 five 6\n")
    truth = load_ground_truth_folder(release_folders / "cube")
    with pytest.raises(InputError, match=r"bad.txt:2"):
        evaluate_submission(truth, bad, mode="published")
    with pytest.raises(InputError, match="not found"):
        load_ground_truth_folder(tmp_path / "missing")
    folder = tmp_path / "unknown"
    write_truth_folder(folder, [("XXXX", 5, 5, 5, 1)], np.zeros((8, 8, 8), np.int16))
    with pytest.raises(InputError, match="particle 1 has class 'XXXX'"):
        load_ground_truth_folder(folder)
    with pytest.raises(InputError, match="mode"):
        score_picks(truth, fixture_picks(), mode="lenient")


def test_one_vs_rest_statistics_match_pycm_definitions():
    matrix = np.array([[0, 0, 0], [1, 3, 1], [0, 2, 2]])
    stats = one_vs_rest_statistics(matrix, ["background", "A", "B"])
    assert stats["A"] == pytest.approx({"TP": 3, "FP": 2, "FN": 2, "TN": 2, "support": 5,
                                        "precision": 0.6, "recall": 0.6, "F1": 0.6})
    assert stats["background"]["F1"] == 0.0 and math.isnan(stats["background"]["recall"])


def test_czii_metric_counts_distinct_matches_and_duplicates_as_fp():
    ref = np.array([[0, 0, 0], [0, 0, 10.0]])
    cand = np.array([[0, 0, 1.0], [0, 0, 0.5], [0, 0, 30.0]])
    assert match_counts(ref, cand, 1.0) == (1, 2, 1)
    assert match_counts(ref, cand[:0], 1.0) == (0, 0, 2)
    assert match_counts(ref[:0], cand, 1.0) == (0, 3, 0)


def test_czii_score_on_fixture(truth):
    picks = perfect_picks(fixture_truth_rows())
    result = czii_score(truth, picks, radius_fraction=0.5, beta=4)
    assert result["fbeta_micro"] == 1.0 and result["fbeta_macro"] == 1.0
    shifted = picks.assign(x=picks["x"] + 2)  # 2 voxels: beyond 0.5 x 2.79 nm for 1S3X only
    per_class = czii_score(truth, shifted)["per_class"]
    assert per_class["1S3X"]["TP"] == 0 and per_class["1S3X"]["fbeta"] == 0.0
    assert per_class["5MRC"]["TP"] == 1
    assert volume_equivalent_radius_nm(4 / 3 * math.pi * 8) == pytest.approx(2.0)
