"""One entry point per structure: potential (atomic model or map) and its Table 1 row."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from tomobench.classes import TABLE1
from tomobench.errors import InputError
from tomobench.structures.assembly import AtomicModel, load_atomic_model
from tomobench.structures.density_maps import assembly_mass_kda, check_extent, map_potential
from tomobench.structures.potential import PotentialOptions, atomic_potential
from tomobench.structures.sources import source_kind
from tomobench.structures.table1 import Table1Options, shape_metrics, table1_map

#: Accepted range of an atomic model's mass over the paper's Table 1 mass of its class: the
#: modelled atoms of the shipped models weigh 0.89-1.0 of it, biological assembly 1 of 3D2F and
#: 3GL1 half of it (see ``structures.assembly``).
MASS_RATIO_RANGE = (0.4, 2.5)


def check_atomic_model(model: AtomicModel, pdb_id: str, path: str | os.PathLike) -> None:
    """``InputError`` naming ``path`` when the model's mass is implausible for class
    ``pdb_id`` (a wrong or damaged file) or its atoms spread implausibly far for its mass."""
    mass_kda = model.molecular_weight_kda()
    reference = TABLE1.get(pdb_id.upper())
    if reference is not None:
        expected = reference.molecular_weight_kda
        low, high = MASS_RATIO_RANGE
        if not low * expected <= mass_kda <= high * expected:
            raise InputError(
                f"{path}: {model.n_atoms} atoms of {mass_kda:.4g} kDa, implausible for "
                f"{pdb_id.upper()} ({expected:g} kDa in the class table; accepted "
                f"{low * expected:.4g}-{high * expected:.4g}): wrong or damaged structure file?"
            )
    max_radius_nm = float(np.sqrt((model.positions_nm**2).sum(axis=1)).max())
    check_extent(path, mass_kda, max_radius_nm)


def structure_potential(
    path: str | os.PathLike, pdb_id: str, options: PotentialOptions, device: str = "cpu"
) -> tuple[np.ndarray, dict]:
    """Complex potential (V) and metadata of class ``pdb_id`` from its structure file.

    Atomic models (PDB/mmCIF) go through ``atomic_potential``; maps (``.mrc``) through
    ``map_potential`` with the documented assembly mass.
    """
    path = Path(path)
    kind = source_kind(path)
    if kind == "map":
        potential, info = map_potential(path, assembly_mass_kda(pdb_id), options)
        info.update(n_atoms=0, n_chains=0)
    else:
        model = load_atomic_model(
            path, implicit_hydrogens=options.implicit_hydrogens, assembly=options.assembly
        )
        check_atomic_model(model, pdb_id, path)
        potential, info = atomic_potential(model, options, device=device)
        info.update(
            molecular_weight_kda=model.molecular_weight_kda(),
            sequence_weight_kda=model.sequence_weight_kda,
            n_chains=model.n_chains,
            explicit_hydrogens=model.explicit_hydrogens,
        )
    info.update(
        pdb_id=pdb_id.upper(),
        source_path=str(path),
        source_kind=kind,
        voxel_size_nm=options.voxel_size_nm,
        options=options.as_dict(),
        device=device,
    )
    return potential, info


def table1_row(
    path: str | os.PathLike,
    pdb_id: str,
    table_options: Table1Options,
    potential_options: PotentialOptions,
) -> dict:
    """Table 1 values of one class (see ``tomobench.structures.table1``)."""
    options = dataclasses.replace(
        potential_options, voxel_size_nm=table_options.voxel_size_nm, absorption=False
    )
    potential, info = structure_potential(path, pdb_id, options)
    smooth = table1_map(potential.real, table_options.voxel_size_nm, table_options.blur_sigma_nm)
    metrics = shape_metrics(smooth, table_options.voxel_size_nm, table_options.threshold_v)
    return {
        "pdb_id": pdb_id.upper(),
        "source_kind": info["source_kind"],
        "source_path": str(path),
        # the paper's masses are those of the full deposited sequences (unmodelled residues
        # included); the modelled atoms' mass is kept as ``model_weight_kda``
        "molecular_weight_kda": info.get("sequence_weight_kda") or info["molecular_weight_kda"],
        "model_weight_kda": info["molecular_weight_kda"],
        **metrics,
    }
