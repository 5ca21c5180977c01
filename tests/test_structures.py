"""Structure sources, assemblies, bad inputs, map scaling, vesicles, gold and Table 1."""

from __future__ import annotations

import io
import math
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from tomobench.classes import TABLE1, TABLE1_COLUMNS
from tomobench.errors import InputError
from tomobench.mrc import write_mrc
from tomobench.structures import sources
from tomobench.structures.assembly import load_atomic_model
from tomobench.structures.density_maps import (
    map_potential,
    map_real_integral_target_v_nm3,
    protein_volume_nm3,
)
from tomobench.structures.gold import gold_inner_potential_v, gold_potential
from tomobench.structures.membranes import (
    HEAD_COMPOSITION,
    HEAD_VOLUME_NM3,
    TAIL_COMPOSITION,
    TAIL_VOLUME_NM3,
    bilayer_profile,
    vesicle_potential,
)
from tomobench.structures.potential import ICE_POTENTIAL_V, PotentialOptions
from tomobench.structures.scattering_factors import atom_potential_integral_v_nm3
from tomobench.structures.table1 import build_table, shape_metrics, to_latex, to_markdown


def _shared_structures() -> Path | None:
    env = os.environ.get("TOMOBENCH_STRUCTURES")
    folder = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "structures"
    return folder if (folder / "atomic").is_dir() else None


SHARED = _shared_structures()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/structures not available")

_ATOM = (
    "ATOM  {serial:5d}  {name:<3s} {res:3s} A{seq:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00 10.00"
    "           {el:>2s}\n"
)
_HETATM = (
    "HETATM{serial:5d}  O   HOH W{seq:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00 10.00           O\n"
)


def _pdb_text(n_residues: int = 3, water_only: bool = False) -> str:
    lines, serial = [], 1
    for seq in range(1, n_residues + 1):
        if water_only:
            lines.append(_HETATM.format(serial=serial, seq=seq, x=seq * 3.0, y=0.0, z=0.0))
            serial += 1
            continue
        for name, el, dx in (("N", "N", 0.0), ("CA", "C", 1.46), ("C", "C", 2.0), ("O", "O", 2.5)):
            lines.append(
                _ATOM.format(
                    serial=serial,
                    name=name,
                    res="GLY",
                    seq=seq,
                    x=seq * 3.8 + dx,
                    y=0.3 * seq,
                    z=-0.2,
                    el=el,
                )
            )
            serial += 1
    return "".join(lines) + "END\n"


# --- sources ---------------------------------------------------------------------------


def _local_folder(tmp_path: Path) -> Path:
    (tmp_path / "atomic").mkdir(parents=True)
    (tmp_path / "maps_10A").mkdir()
    (tmp_path / "maps_5A").mkdir()
    (tmp_path / "atomic" / "1abc.pdb").write_text(_pdb_text())
    for folder in ("maps_10A", "maps_5A"):
        (tmp_path / folder / "1abc.mrc").write_bytes(b"x")
    (tmp_path / "maps_10A" / "2xyz.mrc").write_bytes(b"x")
    return tmp_path


def test_resolution_order_local_then_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("TOMOBENCH_STRUCTURES", raising=False)
    local = _local_folder(tmp_path / "local")
    cache = tmp_path / "cache"
    resolve = sources.resolve_structure_source
    assert resolve("1ABC", str(local), str(cache), "atomic") == local / "atomic" / "1abc.pdb"
    assert resolve("1abc", str(local), str(cache), "map") == local / "maps_5A" / "1abc.mrc"
    assert resolve("2XYZ", str(local), str(cache), "atomic") == local / "maps_10A" / "2xyz.mrc"
    assert resolve("3QQQ", str(local), str(cache), "atomic") == cache / "3QQQ.cif"
    assert resolve("1ABC", None, str(cache), "atomic") == cache / "1ABC.cif"


def test_environment_variable_overrides_local_dir(tmp_path, monkeypatch):
    local = _local_folder(tmp_path / "local")
    monkeypatch.setenv("TOMOBENCH_STRUCTURES", str(local))
    found = sources.resolve_structure_source("1abc", "/nonexistent", str(tmp_path), "atomic")
    assert found == local / "atomic" / "1abc.pdb"


def test_bad_pdb_id_and_prefer_are_input_errors():
    with pytest.raises(InputError, match="structures.classes"):
        sources.resolve_structure_source("ABCDE", None, "cache", "atomic")
    with pytest.raises(InputError, match="structures.prefer"):
        sources.resolve_structure_source("1ABC", None, "cache", "both")


def test_offline_download_fails_with_one_line_naming_local_folder(tmp_path):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    destination = tmp_path / "cache" / "9XYZ.cif"
    with pytest.raises(InputError) as error:
        sources.download_structure("9XYZ", destination, opener=offline)
    message = str(error.value)
    assert "\n" not in message
    assert "structures.local_dir" in message and "TOMOBENCH_STRUCTURES" in message
    assert str(destination) in message
    assert not destination.exists()


def test_unreachable_url_is_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot download"):
        sources.download_structure(
            "9XYZ",
            tmp_path / "9XYZ.cif",
            url_template="http://127.0.0.1:9/{pdb_id}.cif",
            timeout_s=2,
        )


_CIF_HEADER = [
    "group_PDB",
    "id",
    "type_symbol",
    "label_atom_id",
    "label_alt_id",
    "label_comp_id",
    "label_asym_id",
    "label_entity_id",
    "label_seq_id",
    "pdbx_PDB_ins_code",
    "Cartn_x",
    "Cartn_y",
    "Cartn_z",
    "occupancy",
    "B_iso_or_equiv",
    "auth_seq_id",
    "auth_comp_id",
    "auth_asym_id",
    "auth_atom_id",
    "pdbx_PDB_model_num",
]
_CIF_ATOMS = [
    ("N", "N", 0.0, 0.0),
    ("C", "CA", 1.4, 0.0),
    ("C", "C", 2.0, 1.3),
    ("O", "O", 1.5, 2.3),
]
_CIF = (
    "data_1ABC\nloop_\n"
    + "".join(f"_atom_site.{key}\n" for key in _CIF_HEADER)
    + "".join(
        f"ATOM {i} {el} {name} . GLY A 1 1 ? {x} {y} 0.0 1.0 10.0 1 GLY A {name} 1\n"
        for i, (el, name, x, y) in enumerate(_CIF_ATOMS, start=1)
    )
)


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def test_download_checks_content_and_caches(tmp_path):
    calls = []

    def opener(url, timeout):
        calls.append(url)
        return _Response(_CIF.encode())

    destination = tmp_path / "1ABC.cif"
    sources.download_structure("1abc", destination, opener=opener)
    assert destination.read_text() == _CIF and calls == [sources.RCSB_URL.format(pdb_id="1ABC")]
    sources.download_structure("1abc", destination, opener=opener)
    assert len(calls) == 1  # served from the cache
    model = load_atomic_model(destination)
    assert model.n_atoms == 4

    def truncated(url, timeout):
        return _Response(_CIF.split("loop_")[0].encode())

    with pytest.raises(InputError, match="no _atom_site"):
        sources.download_structure("2ABC", tmp_path / "2ABC.cif", opener=truncated)
    assert not (tmp_path / "2ABC.cif").exists()


# --- assembly and bad files ------------------------------------------------------------


def test_truncated_pdb_is_input_error_naming_file(tmp_path):
    path = tmp_path / "trunc.pdb"
    path.write_text(_pdb_text().rsplit("\n", 3)[0])
    with pytest.raises(InputError, match=str(path)):
        load_atomic_model(path)


def test_empty_assembly_is_input_error(tmp_path):
    path = tmp_path / "water.pdb"
    path.write_text(_pdb_text(water_only=True))
    with pytest.raises(InputError, match="no atoms"):
        load_atomic_model(path)


def test_malformed_mmcif_is_input_error(tmp_path):
    path = tmp_path / "bad.cif"
    path.write_text("data_X\nloop_\n_atom_site.id\n_atom_site.Cartn_x\n1\n'unclosed\n")
    with pytest.raises(InputError, match=str(path)):
        load_atomic_model(path)


def test_small_model_is_centred_with_implicit_hydrogens(tmp_path):
    path = tmp_path / "gly.pdb"
    path.write_text(_pdb_text(3))
    model = load_atomic_model(path)
    assert model.n_atoms == 12
    # GLY: N carries 1 H, CA 2 H -> 3 per residue
    assert model.hydrogen_counts.sum() == 9
    assert np.abs(model.positions_nm.mean(axis=0)).max() < 0.05
    no_h = load_atomic_model(path, implicit_hydrogens=False)
    assert model.molecular_weight_kda() - no_h.molecular_weight_kda() == pytest.approx(
        9 * 1.00794e-3
    )


def test_alternate_conformers_keep_one_atom_per_site(tmp_path):
    """Alternate locations A/B of a side chain are one atom each, not two (3QM1, 3D2F, 3GL1)."""
    plain = _pdb_text(2)
    lines = plain.splitlines(keepends=True)
    # residue 2's CA in two conformers (occupancy 0.6 / 0.4), the B copy 1 Å away
    ca = next(i for i, line in enumerate(lines) if line[12:16].strip() == "CA" and
              int(line[22:26]) == 2)
    conformer_a = lines[ca][:16] + "A" + lines[ca][17:54] + "  0.60" + lines[ca][60:]
    x = float(lines[ca][30:38]) + 1.0
    conformer_b = (lines[ca][:16] + "B" + lines[ca][17:30] + f"{x:8.3f}" + lines[ca][38:54]
                   + "  0.40" + lines[ca][60:])
    lines[ca:ca + 1] = [conformer_a, conformer_b]
    path = tmp_path / "altloc.pdb"
    path.write_text("".join(lines))
    model = load_atomic_model(path)
    reference = tmp_path / "plain.pdb"
    reference.write_text(plain)
    expected = load_atomic_model(reference)
    assert model.n_atoms == expected.n_atoms == 8
    assert np.allclose(model.positions_nm, expected.positions_nm)


@needs_shared
def test_1bxn_assembly_has_16_chains():
    model = load_atomic_model(SHARED / "atomic" / "1bxn.pdb")
    assert model.n_chains == 16
    # L8S8 sequence mass (the paper lists 559.96 kDa)
    assert model.sequence_weight_kda == pytest.approx(TABLE1["1BXN"].molecular_weight_kda, rel=0.01)


@needs_shared
def test_waters_and_ions_are_dropped_and_biomolecule1_selected():
    model = load_atomic_model(SHARED / "atomic" / "1s3x.pdb")
    assert not set(model.elements) & {"Na", "Ca"}
    assert set(model.elements) <= {"C", "N", "O", "S", "P"}
    bio1 = load_atomic_model(SHARED / "atomic" / "3d2f.pdb")
    shrec = load_atomic_model(SHARED / "atomic" / "3d2f.pdb", assembly="shrec")
    assert bio1.n_chains == 2 and shrec.n_chains == 4


# --- maps ------------------------------------------------------------------------------


def test_map_class_integrates_to_documented_target(tmp_path):
    grid = np.arange(40) - 19.5
    zz, yy, xx = np.meshgrid(grid, grid, grid, indexing="ij")
    blob = np.exp(-(zz**2 / 40 + yy**2 / 60 + xx**2 / 80)).astype(np.float32) * 7.0
    path = tmp_path / "blob.mrc"
    write_mrc(path, blob, 0.8)
    mass_kda = 400.0
    options = PotentialOptions(voxel_size_nm=0.5, oversampling=2)
    potential, info = map_potential(path, mass_kda, options)
    integral = potential.real.sum(dtype=np.float64) * 0.5**3
    assert integral == pytest.approx(map_real_integral_target_v_nm3(mass_kda), rel=1e-5)
    assert info["excluded_volume_nm3"] == pytest.approx(protein_volume_nm3(mass_kda), rel=1e-6)
    assert potential.imag.max() > 0


@needs_shared
def test_map_only_class_4cr2_from_shared_folder():
    from tomobench.structures.compute import structure_potential

    path = sources.resolve_structure_source("4CR2", str(SHARED), "cache", "atomic")
    assert path.name == "4cr2.mrc" and path.parent.name == "maps_5A"
    potential, info = structure_potential(path, "4CR2", PotentialOptions(voxel_size_nm=1.0))
    assert info["source_kind"] == "map"
    target = map_real_integral_target_v_nm3(info["molecular_weight_kda"])
    assert potential.real.sum(dtype=np.float64) * 1.0 == pytest.approx(target, rel=1e-5)


# --- vesicles and gold -----------------------------------------------------------------


def test_bilayer_profile_integrates_to_lipid_potential():
    thickness = 4.5
    d = np.linspace(-6, 6, 24001)
    value, occupancy = bilayer_profile(d, thickness)
    step = d[1] - d[0]
    area = (HEAD_VOLUME_NM3 + TAIL_VOLUME_NM3) / (thickness / 2)
    per_lipid = sum(n * atom_potential_integral_v_nm3(e) for e, n in HEAD_COMPOSITION.items())
    per_lipid += sum(n * atom_potential_integral_v_nm3(e) for e, n in TAIL_COMPOSITION.items())
    assert value.sum() * step == pytest.approx(2 * per_lipid / area, rel=1e-3)
    assert occupancy.sum() * step == pytest.approx(thickness, rel=1e-3)
    assert value.max() > value[np.argmin(np.abs(d))] > ICE_POTENTIAL_V  # heads above tails


def test_vesicles_are_seeded_distinct_and_sized():
    first, info = vesicle_potential(7, 0, 1.0, (20, 30), 4.0, oversampling=1)
    again, _ = vesicle_potential(7, 0, 1.0, (20, 30), 4.0, oversampling=1)
    other, info_other = vesicle_potential(7, 1, 1.0, (20, 30), 4.0, oversampling=1)
    assert first.tobytes() == again.tobytes()
    assert info["diameter_nm"] != info_other["diameter_nm"]
    assert 20 <= info["diameter_nm"] <= 30 and first.dtype == np.complex64
    centre = first.shape[0] // 2
    assert first[centre, centre, centre] == 0  # hollow
    assert first.imag.max() > 0


def test_gold_bead_potential_and_volume():
    potential, info = gold_potential(3, 2, 0.5, (6, 6), oversampling=2)
    n = potential.shape[0]
    inside = potential[n // 2, n // 2, n // 2]
    assert inside.real == pytest.approx(gold_inner_potential_v() - ICE_POTENTIAL_V, rel=1e-5)
    assert 29.5 < gold_inner_potential_v() < 30.1
    a, b, c = info["semi_axes_nm"]
    assert info["volume_nm3"] == pytest.approx(4 / 3 * math.pi * a * b * c, rel=0.15)
    again, _ = gold_potential(3, 2, 0.5, (6, 6), oversampling=2)
    assert again.tobytes() == potential.tobytes()


# --- Table 1 ---------------------------------------------------------------------------


def test_shape_metrics_of_a_sphere():
    voxel = 0.25
    grid = (np.arange(81) - 40) * voxel
    zz, yy, xx = np.meshgrid(grid, grid, grid, indexing="ij")
    radius = 6.0
    volume = radius - np.sqrt(zz**2 + yy**2 + xx**2)  # > 0 inside
    metrics = shape_metrics(volume, voxel, 0.0)
    assert metrics["volume_nm3"] == pytest.approx(4 / 3 * math.pi * radius**3, rel=0.01)
    assert metrics["area_nm2"] == pytest.approx(4 * math.pi * radius**2, rel=0.02)
    assert metrics["sphericity"] == pytest.approx(1.0, abs=0.03)
    assert metrics["effective_radius_nm"] == pytest.approx(radius, rel=0.03)


def test_table_has_relative_differences_and_all_formats():
    rows = []
    for pdb_id, record in TABLE1.items():
        mw, v, a, psi, r = (getattr(record, c) for c in TABLE1_COLUMNS)
        rows.append(
            {
                "pdb_id": pdb_id,
                "source_kind": "atomic",
                "molecular_weight_kda": mw * 1.1,
                "volume_nm3": v,
                "area_nm2": a,
                "sphericity": psi,
                "effective_radius_nm": r,
            }
        )
    table = build_table(rows)
    assert list(table["pdb_id"]) == sorted(TABLE1, key=lambda k: TABLE1[k].molecular_weight_kda)
    np.testing.assert_allclose(table["molecular_weight_kda_rel_diff"], 0.1)
    np.testing.assert_allclose(table["volume_nm3_rel_diff"], 0.0)
    markdown, latex = to_markdown(table), to_latex(table)
    assert all(pdb in markdown and pdb in latex for pdb in TABLE1)
    assert "+10.0%" in markdown
