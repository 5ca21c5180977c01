"""Shared utilities: MRC I/O, particle lists, seeding, backend selection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tomobench import backend, seeding
from tomobench.classes import (
    CLASS_ID,
    CLASSES,
    EXCLUDED_CLASSES,
    SCORED_PROTEINS,
    SIZE_GROUPS,
    SIZE_ORDER,
    SPHERE_RADIUS_NM,
    TABLE1,
    TM_F_ORDER,
    class_id,
    size_group_label,
)
from tomobench.errors import InputError
from tomobench.mrc import read_mrc, write_mrc
from tomobench.particles import (
    read_particle_locations,
    read_picks,
    write_particle_locations,
    write_picks,
)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.int16])
def test_mrc_round_trip_keeps_data_and_voxel_size(tmp_path, dtype):
    data = np.arange(4 * 5 * 6).reshape(4, 5, 6) * (1 + 1j if dtype == np.complex64 else 1)
    data = data.astype(dtype)
    write_mrc(tmp_path / "v.mrc", data, voxel_size_nm=0.5)
    loaded, voxel_size_nm = read_mrc(tmp_path / "v.mrc")
    assert loaded.dtype == dtype
    np.testing.assert_array_equal(loaded, data)
    assert voxel_size_nm == pytest.approx(0.5)


def test_mrc_writes_are_byte_identical(tmp_path):
    data = np.random.default_rng(0).normal(size=(3, 4, 5))
    write_mrc(tmp_path / "a.mrc", data, 1.0)
    write_mrc(tmp_path / "b.mrc", data, 1.0)
    assert (tmp_path / "a.mrc").read_bytes() == (tmp_path / "b.mrc").read_bytes()


def test_mrc2014_headers_of_volumes_and_image_stacks(tmp_path):
    import mrcfile

    data = np.zeros((7, 4, 5), np.float32)
    write_mrc(tmp_path / "volume.mrc", data, 1.0)
    write_mrc(tmp_path / "stack.mrc", data, 0.5, image_stack=True)
    with mrcfile.open(tmp_path / "volume.mrc", permissive=False) as volume:
        assert volume.header.ispg == 1 and volume.header.mz == 7 and volume.is_volume()
    with mrcfile.open(tmp_path / "stack.mrc", permissive=False) as stack:
        assert stack.header.ispg == 0 and stack.header.mz == 1 and stack.is_image_stack()
        assert stack.voxel_size.x == pytest.approx(5.0) and stack.voxel_size.y == pytest.approx(5.0)
        assert mrcfile.validate(tmp_path / "stack.mrc", print_file=open(tmp_path / "log", "w"))
    assert read_mrc(tmp_path / "stack.mrc")[1] == pytest.approx(0.5)


def test_bad_mrc_names_the_file(tmp_path):
    bad = tmp_path / "broken.mrc"
    bad.write_bytes(b"not an mrc file at all" * 10)
    with pytest.raises(InputError, match="broken.mrc"):
        read_mrc(bad)


def test_particle_locations_round_trip(tmp_path):
    frame = pd.DataFrame(
        [["1BXN", 10, 20, 30, 1.5, 2.25, 3.0], ["fiducial", 1, 2, 3, np.nan, np.nan, np.nan]],
        columns=["class_name", "x", "y", "z", "a1", "a2", "a3"],
    )
    write_particle_locations(tmp_path / "p.txt", frame)
    assert (tmp_path / "p.txt").read_text().splitlines()[1] == "fiducial 1 2 3 NaN NaN NaN"
    loaded = read_particle_locations(tmp_path / "p.txt")
    pd.testing.assert_frame_equal(loaded, frame)


def test_malformed_pick_line_names_file_and_line(tmp_path):
    path = tmp_path / "picks.txt"
    path.write_text("1BXN 1 2 3\n1BXN 1 two 3\n")
    with pytest.raises(InputError, match=r"picks.txt:2"):
        read_picks(path)


def test_picks_round_trip_rounds_coordinates(tmp_path):
    frame = pd.DataFrame(
        {"class_name": ["3QM1"], "x": [1.6], "y": [2.4], "z": [3.0], "score": [0.5]}
    )
    write_picks(tmp_path / "p.txt", frame)
    assert (tmp_path / "p.txt").read_text() == "3QM1 2 2 3 0.5\n"
    assert read_picks(tmp_path / "p.txt").iloc[0].x == 2


def test_seeded_streams_are_reproducible_and_independent():
    a = seeding.rng(5, "scene", 0).random(4)
    np.testing.assert_array_equal(a, seeding.rng(5, "scene", 0).random(4))
    assert not np.allclose(a, seeding.rng(5, "scene", 1).random(4))
    assert not np.allclose(a, seeding.rng(6, "scene", 0).random(4))
    assert seeding.torch_seed(5, "x") == seeding.torch_seed(5, "x") < 2**63


def test_class_table_matches_shrec():
    assert CLASS_ID["4V94"] == 1 and CLASS_ID["5MRC"] == 13 and CLASS_ID["fiducial"] == 15
    assert [c.id for c in CLASSES] == list(range(16))
    assert len(SCORED_PROTEINS) == 12 and set(SIZE_ORDER) == set(SCORED_PROTEINS)
    assert EXCLUDED_CLASSES == ("4V94", "vesicle")
    # Table 5 of the paper follows from the masses and the group bounds
    assert SIZE_GROUPS == {"small": ("1S3X", "3QM1", "3GL1", "3H84", "2CG9"),
                           "medium": ("3D2F", "1U6G", "3CF3", "1BXN", "1QVR"),
                           "large": ("4CR2", "5MRC")}
    assert [size_group_label(g) for g in SIZE_GROUPS] == ["<200", "200-600", "600+"]
    # TM-F: the paper's order (tests/test_template_matching.py derives it from §3.7), 4V94 last
    assert set(TM_F_ORDER) == {*SCORED_PROTEINS, "4V94"} and TM_F_ORDER[-1] == "4V94"
    assert sum(TABLE1[n].paper_tm_f_picks for n in SCORED_PROTEINS) == 1660  # §3.7's total
    assert sum(TABLE1[n].paper_tm_picks for n in SCORED_PROTEINS) == 4009
    assert SPHERE_RADIUS_NM["1BXN"] == pytest.approx((3 * 1021.0 / (4 * math.pi)) ** (1 / 3))
    with pytest.raises(KeyError, match="unknown SHREC class"):
        class_id("1bxn")


def test_cpu_backend_is_numpy():
    assert backend.array_module("cpu") is np
    assert backend.array_module("auto") is (
        np if not backend.cupy_available() else backend.array_module("cuda")
    )
    with pytest.raises(ValueError, match="device"):
        backend.array_module("tpu")


def test_mrc_volume_reads_z_slabs_and_rejects_a_truncated_file(tmp_path):
    from tomobench.mrc import MrcVolume

    data = (np.arange(5 * 6 * 7).reshape(5, 6, 7) * (1 + 0.5j)).astype(np.complex64)
    write_mrc(tmp_path / "v.mrc", data, 0.5)
    volume = MrcVolume(tmp_path / "v.mrc")
    assert volume.shape == data.shape and volume.voxel_size_nm == pytest.approx(0.5)
    np.testing.assert_array_equal(volume[1:4], data[1:4])
    np.testing.assert_array_equal(volume[0:5], data)
    raw = (tmp_path / "v.mrc").read_bytes()
    (tmp_path / "short.mrc").write_bytes(raw[:-8])
    with pytest.raises(InputError, match="short.mrc"):
        MrcVolume(tmp_path / "short.mrc")[0:5]
