"""Exchange formats: RELION 5/4 STAR, CryoET Data Portal ndjson, copick projects."""

import json

import numpy as np
import pandas as pd
import pytest
import starfile

from tomobench.cli import main
from tomobench.errors import InputError
from tomobench.formats.portal import annotation_lines, check_line, read_annotation
from tomobench.formats.relion import TomogramGeometry, write_particle_star
from tomobench.mrc import write_mrc
from tomobench.orientation import (
    euler_deg_from_rotation,
    relion_angles_deg,
    rotation_from_relion_deg,
    rotation_matrix_xyz,
)

GEOMETRY = TomogramGeometry(name="model_2", shape_zyx=(40, 64, 64), voxel_size_nm=1.0,
                            binning=2.0, voltage_kv=300.0, spherical_aberration_mm=2.7)
TRUTH = pd.DataFrame({"class_name": ["1BXN", "fiducial"], "x": [10, 33], "y": [20, 1],
                      "z": [30, 0], "a1": [0.0, np.nan], "a2": [90.0, np.nan],
                      "a3": [0.0, np.nan]})


def relion_matrix(rot, tilt, psi):
    """RELION's Euler_angles2matrix (src/euler.cpp), written out: reference -> particle."""
    a, b, g = np.radians([rot, tilt, psi])
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.array([[cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
                     [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
                     [sc, ss, cb]])


def test_relion_angles_of_a_known_rotation():
    # tomobench (0, 90, 0) = 90 degrees about x: y -> z, z -> -y
    assert np.allclose(rotation_matrix_xyz((0, 90, 0)), [[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    assert np.allclose(relion_angles_deg((0, 90, 0)), [[90, 90, -90]])
    assert np.allclose(relion_matrix(90, 90, -90), rotation_matrix_xyz((0, 90, 0)))
    # about z only: RELION's matrix turns by -(rot + psi)
    with pytest.warns(UserWarning, match="Gimbal lock"):
        rot, tilt, psi = relion_angles_deg((90, 0, 0))[0]
    assert tilt == pytest.approx(0) and rot + psi == pytest.approx(-90)
    for angles in np.random.default_rng(1).uniform(-180, 180, (20, 3)):
        assert np.allclose(relion_matrix(*relion_angles_deg(angles)[0]),
                           rotation_matrix_xyz(angles), atol=1e-9)


def test_relion5_star_of_a_ground_truth(tmp_path):
    path = tmp_path / "truth.star"
    write_particle_star(path, TRUTH, GEOMETRY, relion_version=5)
    blocks = starfile.read(path)
    particles, optics = blocks["particles"], blocks["optics"]
    # (x - n/2) * 10 Å: n = (64, 64, 40)
    assert list(particles["rlnCenteredCoordinateXAngst"]) == [-220.0, 10.0]
    assert list(particles["rlnCenteredCoordinateYAngst"]) == [-120.0, -310.0]
    assert list(particles["rlnCenteredCoordinateZAngst"]) == [100.0, -200.0]
    assert particles.loc[0, ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"]].tolist() == \
        pytest.approx([90.0, 90.0, -90.0])
    assert particles.loc[1, ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"]].isna().all()
    assert "rlnAutopickFigureOfMerit" not in particles
    assert list(particles["rlnTomoName"]) == ["model_2", "model_2"]
    assert list(particles["rlnClassNumber"]) == [4, 15]
    assert optics.loc[0, "rlnTomoTiltSeriesPixelSize"] == 5.0
    assert optics.loc[0, "rlnVoltage"] == 300.0 and optics.loc[0, "rlnSphericalAberration"] == 2.7
    first = path.read_bytes()
    write_particle_star(path, TRUTH, GEOMETRY, relion_version=5)
    assert path.read_bytes() == first


def test_relion4_star_of_picks(tmp_path):
    picks = pd.DataFrame({"class_name": ["1bxn"], "x": [10.0], "y": [20.0], "z": [30.0],
                          "score": [0.25]})
    path = tmp_path / "picks.star"
    write_particle_star(path, picks, GEOMETRY, relion_version=4)
    particles = starfile.read(path)["particles"]
    assert particles.loc[0, ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"]].tolist() == \
        [20.0, 40.0, 60.0]  # unbinned tilt-series pixels
    assert particles.loc[0, "rlnAutopickFigureOfMerit"] == 0.25
    assert "rlnAngleRot" not in particles and list(particles["rlnClassNumber"]) == [4]
    with pytest.raises(InputError, match="RELION version"):
        write_particle_star(path, picks, GEOMETRY, relion_version=3)


def _tomogram_folder(tmp_path):
    folder = tmp_path / "model_2"
    write_mrc(folder / "reconstruction.mrc", np.zeros((40, 64, 64), np.float32), 1.0)
    (folder / "acquisition_parameters.json").write_text(json.dumps(
        {"pixel_size_nm": 0.5, "microscope": {"voltage_kv": 200.0,
                                              "spherical_aberration_mm": 2.0}}))
    (folder / "particle_locations.txt").write_text(
        "1BXN 10 20 30 0.0000 90.0000 0.0000\nfiducial 33 1 0 NaN NaN NaN\n")
    return folder


def test_export_star_command_reads_the_tomogram_folder(tmp_path):
    folder = _tomogram_folder(tmp_path)
    out = tmp_path / "truth.star"
    assert main(["export-star", "--picks", str(folder / "particle_locations.txt"),
                 "--data", str(folder), "--out", str(out)]) == 0
    blocks = starfile.read(out)
    assert set(blocks["particles"]["rlnTomoName"]) == {"model_2"}
    assert blocks["particles"].loc[0, "rlnAngleTilt"] == pytest.approx(90.0)
    assert blocks["optics"].loc[0, "rlnVoltage"] == 200.0
    assert blocks["optics"].loc[0, "rlnTomoTiltSeriesPixelSize"] == 5.0
    picks = tmp_path / "TM.txt"
    picks.write_text("1BXN 10 20 30 0.5\n")
    assert main(["export-star", "--picks", str(picks), "--data", str(folder), "--relion", "4",
                 "--out", str(out)]) == 0
    particles = starfile.read(out)["particles"]
    assert particles.loc[0, "rlnCoordinateZ"] == 60.0
    assert particles.loc[0, "rlnAutopickFigureOfMerit"] == 0.5
    assert main(["export-star", "--picks", str(picks), "--out", str(out)]) == 2


def test_portal_matrix_matches_the_portals_relion_conversion():
    # The portal's ingestion turns RELION (rot, tilt, psi) = (90, 45, 180) into this matrix.
    portal = [[0.0, -0.7071067811865475, 0.7071067811865475], [1.0, 0.0, 0.0],
              [0.0, 0.7071067811865475, 0.7071067811865475]]
    assert np.allclose(rotation_from_relion_deg((90, 45, 180)).as_matrix(), portal)
    angles = euler_deg_from_rotation(rotation_from_relion_deg((90, 45, 180)))[0]
    assert np.allclose(annotation_lines(pd.DataFrame(
        {"x": [1.0], "y": [2.0], "z": [3.0], "a1": [angles[0]], "a2": [angles[1]],
         "a3": [angles[2]]}))[0]["xyz_rotation_matrix"], portal)


def test_export_portal_writes_checked_points_and_oriented_points(tmp_path):
    folder = _tomogram_folder(tmp_path)
    out = tmp_path / "portal"
    assert main(["export-portal", "--picks", str(folder / "particle_locations.txt"),
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["1BXN_orientedpoint.ndjson",
                                                     "fiducial_point.ndjson"]
    xyz, matrices = read_annotation(out / "1BXN_orientedpoint.ndjson")
    assert xyz.tolist() == [[10.0, 20.0, 30.0]]
    assert np.allclose(matrices[0], rotation_matrix_xyz((0, 90, 0)))
    xyz, matrices = read_annotation(out / "fiducial_point.ndjson")
    assert xyz.tolist() == [[33.0, 1.0, 0.0]] and matrices is None


@pytest.mark.parametrize("line, message", [
    ({"type": "point"}, "location"),
    ({"type": "orientedPoint", "location": {"x": 1, "y": 2, "z": 3}}, "xyz_rotation_matrix"),
    ({"type": "point", "location": {"x": 1, "y": 2, "z": "3"}}, "not of type"),
    ({"type": "orientedPoint", "location": {"x": 1, "y": 2, "z": 3},
      "xyz_rotation_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]}, "not a rotation"),
    ({"type": "point", "location": {"x": 1, "y": 2, "z": 3},
      "xyz_rotation_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, "should not be valid"),
])
def test_portal_lines_are_schema_checked(tmp_path, line, message):
    with pytest.raises(InputError, match=message):
        check_line(line, "x.ndjson:1")
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(InputError, match="bad.ndjson:1"):
        read_annotation(path)
