"""Reading atomic models (PDB / mmCIF) into a centred biological assembly (biomolecule 1).

Waters and ions (non-polymer residues with a single heavy atom) are dropped, hydrogens are
kept, and of alternate conformations only the first is kept. With ``implicit_hydrogens``
each heavy atom carries the number of hydrogens bonded to it in the standard residue
chemistry (a per-atom table for the 20 amino acids; for other residues gemmi's tabulated
hydrogen count spread over the residue's C/N/O/S atoms). Coordinates are returned in nm,
centred on the mass centre (hydrogens included).
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from tomobench.errors import InputError
from tomobench.structures.scattering_factors import normalise_element

WATER_NAMES = {"HOH", "WAT", "H2O", "DOD", "D2O", "TIP", "TIP3", "SOL"}

# Hydrogens per side-chain heavy atom (neutral residues; HIS as HID). Backbone: N 1 (PRO 0),
# CA 1 (GLY 2); C and O 0.
_SIDE_CHAIN_H = {
    "ALA": {"CB": 3},
    "ARG": {"CB": 2, "CG": 2, "CD": 2, "NE": 1, "NH1": 2, "NH2": 2},
    "ASN": {"CB": 2, "ND2": 2},
    "ASP": {"CB": 2},
    "CYS": {"CB": 2, "SG": 1},
    "GLN": {"CB": 2, "CG": 2, "NE2": 2},
    "GLU": {"CB": 2, "CG": 2},
    "GLY": {},
    "HIS": {"CB": 2, "ND1": 1, "CD2": 1, "CE1": 1},
    "ILE": {"CB": 1, "CG1": 2, "CG2": 3, "CD1": 3},
    "LEU": {"CB": 2, "CG": 1, "CD1": 3, "CD2": 3},
    "LYS": {"CB": 2, "CG": 2, "CD": 2, "CE": 2, "NZ": 3},
    "MET": {"CB": 2, "CG": 2, "CE": 3},
    "MSE": {"CB": 2, "CG": 2, "CE": 3},
    "PHE": {"CB": 2, "CD1": 1, "CD2": 1, "CE1": 1, "CE2": 1, "CZ": 1},
    "PRO": {"CB": 2, "CG": 2, "CD": 2},
    "SER": {"CB": 2, "OG": 1},
    "THR": {"CB": 1, "OG1": 1, "CG2": 3},
    "TRP": {"CB": 2, "CD1": 1, "NE1": 1, "CE3": 1, "CZ2": 1, "CZ3": 1, "CH2": 1},
    "TYR": {"CB": 2, "CD1": 1, "CD2": 1, "CE1": 1, "CE2": 1, "OH": 1},
    "VAL": {"CB": 1, "CG1": 3, "CG2": 3},
}


@dataclass
class AtomicModel:
    """Atoms of a centred assembly.

    Attributes
    ----------
    positions_nm : (n_atoms, 3) float64, columns ``(z, y, x)``, centred on the mass centre
    elements : (n_atoms,) str, e.g. ``"C"``
    hydrogen_counts : (n_atoms,) int, implicit hydrogens per atom (0 when explicit or off)
    n_chains, source_path, explicit_hydrogens
    """

    positions_nm: np.ndarray
    elements: np.ndarray
    hydrogen_counts: np.ndarray
    n_chains: int
    source_path: str
    explicit_hydrogens: bool
    #: mass of the deposited polymer sequences (SEQRES / entity_poly, modelled or not) of the
    #: assembly's chains (kDa), or None when the file has no sequences
    sequence_weight_kda: float | None = None

    @property
    def n_atoms(self) -> int:
        return int(self.positions_nm.shape[0])

    def molecular_weight_kda(self) -> float:
        """Mass of all atoms plus implicit hydrogens (kDa)."""
        weights = {e: gemmi.Element(e).weight for e in np.unique(self.elements)}
        mass = sum(weights[e] for e in self.elements) + self.hydrogen_counts.sum() * 1.00794
        return float(mass) / 1000.0


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise InputError(f"{path}: truncated or corrupt gzip file ({error})") from None
    return raw.decode("utf-8", errors="replace")


def _check_complete(text: str, path: Path) -> None:
    """Detect truncated files: a PDB must end with an END record, an mmCIF must parse."""
    stripped = text.strip()
    if not stripped:
        raise InputError(f"{path}: empty structure file")
    if stripped.startswith("data_"):
        try:
            gemmi.cif.read_string(text)
        except (RuntimeError, ValueError) as error:
            raise InputError(f"{path}: malformed or truncated mmCIF ({error})") from None
        return
    last = stripped.splitlines()[-1]
    if not last.startswith("END"):
        raise InputError(
            f"{path}: PDB file does not end with an END record (truncated?); last line: "
            f"{last[:60]!r}"
        )


def _check_coordinates(text: str, path: Path) -> None:
    """Every atom's coordinates must be numbers (gemmi reads garbage there without a word)."""
    if text.lstrip().startswith("data_"):
        block = gemmi.cif.read_string(text).sole_block()
        for axis in "xyz":
            for row, value in enumerate(block.find_values(f"_atom_site.Cartn_{axis}"), start=1):
                if math.isnan(gemmi.cif.as_number(value)):
                    raise InputError(f"{path}: _atom_site row {row}: Cartn_{axis} {value!r} is "
                                     "not a number")
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(("ATOM  ", "HETATM")):
            try:
                for start in (30, 38, 46):
                    float(line[start:start + 8])
            except ValueError:
                raise InputError(f"{path}:{number}: coordinates {line[30:54]!r} are not numbers "
                                 "(PDB columns 31-54)") from None


def read_structure(path: str | os.PathLike) -> gemmi.Structure:
    """Parse a PDB / mmCIF file with gemmi, raising ``InputError`` naming it when malformed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: structure file not found")
    text = _read_text(path)
    _check_complete(text, path)
    _check_coordinates(text, path)
    try:
        if text.lstrip().startswith("data_"):
            structure = gemmi.make_structure_from_block(gemmi.cif.read_string(text).sole_block())
        else:
            structure = gemmi.read_pdb_string(text)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"{path}: cannot parse structure ({error})") from None
    if len(structure) == 0:
        raise InputError(f"{path}: structure has no models")
    return structure


ASSEMBLY_MODES = ("biomolecule1", "shrec")


def _operator_count(assembly: gemmi.Assembly) -> int:
    return sum(len(generator.operators) for generator in assembly.generators)


def biological_assembly(
    structure: gemmi.Structure, path: str | os.PathLike, mode: str = "biomolecule1"
) -> gemmi.Model:
    """Biomolecule 1 (REMARK 350 / ``_pdbx_struct_assembly``) of the first model.

    Without assembly records the deposited first model is used. ``mode="shrec"`` mimics the
    SHREC'21 preparation (Chimera): biomolecule 1 only when it has more than one operator,
    otherwise the whole deposited model (so 3D2F and 3GL1 keep both copies of their
    asymmetric unit, as the paper's molecular weights show).
    """
    if mode not in ASSEMBLY_MODES:
        raise InputError(f"structures.assembly: {mode!r} not in {ASSEMBLY_MODES}")
    model = structure[0]
    if not structure.assemblies:
        return model
    if mode == "shrec" and _operator_count(structure.assemblies[0]) <= 1:
        return model
    try:
        return gemmi.make_assembly(
            structure.assemblies[0], model, gemmi.HowToNameCopiedChain.AddNumber
        )
    except (RuntimeError, ValueError) as error:
        raise InputError(f"{path}: cannot build biological assembly 1 ({error})") from None


def sequence_weight_kda(structure: gemmi.Structure, mode: str = "biomolecule1") -> float | None:
    """Mass (kDa) of the full polymer sequences of the chains in the chosen assembly.

    Each deposited chain's entity sequence weight (``gemmi.calculate_sequence_weight``) times
    the number of operators applied to it; None when no chain has a sequence.
    """
    structure.setup_entities()
    by_chain: dict[str, float] = {}
    by_subchain: dict[str, float] = {}
    for chain in structure[0]:
        polymer = chain.get_polymer()
        entity = structure.get_entity_of(polymer) if len(polymer) else None
        if entity is None or not entity.full_sequence:
            continue
        weight = gemmi.calculate_sequence_weight(entity.full_sequence) / 1000.0
        by_chain[chain.name] = weight
        by_subchain[polymer.subchain_id()] = weight
    if not by_chain:
        return None
    if not structure.assemblies or (
        mode == "shrec" and _operator_count(structure.assemblies[0]) <= 1
    ):
        return float(sum(by_chain.values()))
    total = 0.0
    for generator in structure.assemblies[0].generators:
        copies = len(generator.operators)
        total += copies * sum(by_chain.get(name, 0.0) for name in set(generator.chains))
        total += copies * sum(by_subchain.get(name, 0.0) for name in set(generator.subchains))
    return float(total) if total > 0 else None


def _is_polymer_residue(residue: gemmi.Residue) -> bool:
    info = gemmi.find_tabulated_residue(residue.name)
    return info is not None and (info.is_amino_acid() or info.is_nucleic_acid())


def _is_water_or_ion(residue: gemmi.Residue) -> bool:
    if residue.name.upper() in WATER_NAMES or residue.is_water():
        return True
    heavy = [a for a in residue if not a.is_hydrogen()]
    return len(heavy) == 1 and not _is_polymer_residue(residue)


def _residue_hydrogens(residue: gemmi.Residue) -> dict[str, int]:
    """Implicit hydrogen count per heavy atom name of ``residue``."""
    name = residue.name.upper()
    heavy = [a for a in residue if not a.is_hydrogen()]
    if name in _SIDE_CHAIN_H:
        counts = dict(_SIDE_CHAIN_H[name])
        counts["N"] = 0 if name == "PRO" else 1
        counts["CA"] = 2 if name == "GLY" else 1
        return counts
    info = gemmi.find_tabulated_residue(name)
    total = int(info.hydrogen_count) if info is not None else 0
    hosts = [a.name for a in heavy if a.element.name in ("C", "N", "O", "S")]
    if total <= 0 or not hosts:
        return {}
    base, extra = divmod(total, len(hosts))
    return {host: base + (1 if i < extra else 0) for i, host in enumerate(hosts)}


def load_atomic_model(
    path: str | os.PathLike, *, implicit_hydrogens: bool = True, assembly: str = "biomolecule1"
) -> AtomicModel:
    """Read ``path`` and return the centred biological assembly without waters and ions.

    Raises
    ------
    InputError
        Malformed / truncated file, or an assembly with no atoms left.
    """
    path = Path(path)
    structure = read_structure(path)
    # One conformer per atom site (the first, as deposited): alternate locations of the same
    # atom are alternatives, not extra atoms.
    structure.remove_alternative_conformations()
    model = biological_assembly(structure, path, assembly)
    positions, elements, hydrogens = [], [], []
    explicit = any(a.is_hydrogen() for ch in model for r in ch for a in r)
    use_implicit = implicit_hydrogens and not explicit
    polymer_chains = set()
    for chain in model:
        for residue in chain:
            if _is_water_or_ion(residue):
                continue
            h_counts = _residue_hydrogens(residue) if use_implicit else {}
            for atom in residue:
                if atom.element == gemmi.Element("X"):
                    continue
                positions.append((atom.pos.z, atom.pos.y, atom.pos.x))
                elements.append(normalise_element(atom.element.name))
                hydrogens.append(h_counts.get(atom.name, 0))
            if _is_polymer_residue(residue):
                polymer_chains.add(chain.name)
    if not positions:
        raise InputError(f"{path}: biological assembly 1 has no atoms after removing water/ions")
    positions_nm = np.asarray(positions, dtype=np.float64) / 10.0
    elements_arr = np.asarray(elements)
    hydrogen_arr = np.asarray(hydrogens, dtype=np.int64)
    weights = np.array([gemmi.Element(e).weight for e in elements_arr]) + 1.00794 * hydrogen_arr
    centre = (positions_nm * weights[:, None]).sum(axis=0) / weights.sum()
    return AtomicModel(
        positions_nm=positions_nm - centre,
        elements=elements_arr,
        hydrogen_counts=hydrogen_arr,
        n_chains=len(polymer_chains),
        source_path=str(path),
        explicit_hydrogens=explicit,
        sequence_weight_kda=sequence_weight_kda(structure, assembly),
    )
