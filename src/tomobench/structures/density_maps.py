"""Potentials from density maps (MRC) for classes without an atomic model offline.

A density map is in arbitrary units. It is turned into volts by a documented rule:

1. negative densities are clipped to 0; the map is resampled (cubic spline) onto the
   oversampled target grid, centred on its density centre of mass;
2. the map is scaled so that its integral equals the potential integral of a protein of the
   class's molecular mass: ``mass_kda × PROTEIN_POTENTIAL_V_NM3_PER_KDA`` (average protein
   composition H498 C321 N85 O95 S2 per 7.13 kDa, Peng 1996 factors);
3. solvent: a 30 Å map is a blurred occupancy, so it is read as one: occupancy
   o(r) = map(r) · V_protein / ∫map, with V_protein = mass / 1.35 g/cm³; the real part becomes
   V_atoms(r) − 4.5301 V · o(r) and the imaginary part o(r) · (V_abs(protein) − V_abs(ice))
   (a hard mask of a blurred map would leave a negative rim around the molecule);
4. the result is binned to the simulation voxel like atomic potentials.

Documented real-part integral (V·nm³): ``mass × PROTEIN_POTENTIAL_V_NM3_PER_KDA − 4.5301 ×
mass / (1.35 g/cm³)`` (exact up to float rounding).
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from tomobench.classes import TABLE1
from tomobench.errors import InputError
from tomobench.mrc import read_mrc
from tomobench.optics import AVOGADRO_PER_MOL
from tomobench.structures.absorption import absorption_potential_v
from tomobench.structures.potential import (
    ICE_POTENTIAL_V,
    PotentialOptions,
    bin_volume,
    cube_size_voxels,
)
from tomobench.structures.scattering_factors import atom_potential_integral_v_nm3

AVERAGE_PROTEIN_COMPOSITION = {"H": 498, "C": 321, "N": 85, "O": 95, "S": 2}
PROTEIN_DENSITY_G_CM3 = 1.35


def _protein_potential_per_kda() -> float:
    import gemmi

    mass = sum(n * gemmi.Element(e).weight for e, n in AVERAGE_PROTEIN_COMPOSITION.items())
    integral = sum(
        n * atom_potential_integral_v_nm3(e) for e, n in AVERAGE_PROTEIN_COMPOSITION.items()
    )
    return integral / (mass / 1000.0)


PROTEIN_POTENTIAL_V_NM3_PER_KDA = _protein_potential_per_kda()


def protein_volume_nm3(mass_kda: float) -> float:
    """Volume (nm³) of ``mass_kda`` of protein at 1.35 g/cm³."""
    return mass_kda * 1000.0 / (PROTEIN_DENSITY_G_CM3 * AVOGADRO_PER_MOL * 1e-21)


def map_real_integral_target_v_nm3(mass_kda: float, solvent_exclusion: bool = True) -> float:
    """The documented integral of the real potential of a map-based class (V·nm³)."""
    target = mass_kda * PROTEIN_POTENTIAL_V_NM3_PER_KDA
    if solvent_exclusion:
        target -= ICE_POTENTIAL_V * protein_volume_nm3(mass_kda)
    return target


#: Accepted range of a molecule's extent (largest distance of its density or atoms from the
#: centre) over the radius of a sphere of its protein volume. The SHREC 2021 classes span
#: 1.2-2.8 (atomic models and 10 Å maps); a voxel size or unit off by a factor of ten lands
#: far outside.
EXTENT_RATIO_RANGE = (0.7, 5.0)


def check_extent(path: str | os.PathLike, mass_kda: float, max_radius_nm: float) -> None:
    """``InputError`` naming ``path`` when a molecule of ``mass_kda`` cannot plausibly reach
    ``max_radius_nm`` from its centre (a wrong voxel size in a map header, a wrong unit)."""
    sphere_nm = (3.0 * protein_volume_nm3(mass_kda) / (4.0 * np.pi)) ** (1.0 / 3.0)
    low, high = EXTENT_RATIO_RANGE
    if not low * sphere_nm <= max_radius_nm <= high * sphere_nm:
        raise InputError(
            f"{path}: the molecule reaches {max_radius_nm:.3g} nm from its centre, implausible "
            f"for {mass_kda:.4g} kDa (expected {low * sphere_nm:.3g}-{high * sphere_nm:.3g} nm); "
            "check the voxel size in the map header (Å) or the coordinate unit"
        )


def assembly_mass_kda(pdb_id: str) -> float:
    """Assembly mass (kDa) of a class given as a map: the paper's Table 1 mass (computed there
    from the deposited models), or ``InputError``."""
    key = pdb_id.upper()
    if key not in TABLE1:
        raise InputError(
            f"structures.classes: no molecular mass known for map class {pdb_id} "
            f"(known: {sorted(TABLE1)}); provide an atomic model instead"
        )
    return TABLE1[key].molecular_weight_kda


def map_potential(
    path: str | os.PathLike, mass_kda: float, options: PotentialOptions
) -> tuple[np.ndarray, dict]:
    """Complex potential (V) of the density map at ``path`` (see module docstring).

    Returns ``(potential (n, n, n) complex64, info dict)``.
    """
    options.validate()
    density, map_voxel_nm = read_mrc(path)
    if not (np.isfinite(map_voxel_nm) and map_voxel_nm > 0):
        raise InputError(f"{path}: header voxel size {map_voxel_nm * 10:g} Å is not positive "
                         "(set it in the MRC header: voxel_size in Å)")
    density = np.asarray(density, dtype=np.float64)
    bad = np.count_nonzero(~np.isfinite(density))
    if bad:
        raise InputError(f"{path}: density map has {bad} NaN or infinite voxels")
    density = np.clip(density, 0.0, None)
    if density.ndim != 3 or not density.any():
        raise InputError(f"{path}: density map is empty or not 3-D")
    com = np.array(ndimage.center_of_mass(density))
    significant = np.argwhere(density > 0.01 * density.max())
    radius_nm = float(np.sqrt((((significant - com) * map_voxel_nm) ** 2).sum(1)).max())
    check_extent(path, mass_kda, radius_nm)
    s = int(options.oversampling)
    n = cube_size_voxels(radius_nm, options.voxel_size_nm, options.margin_nm)
    fine_voxel_nm = options.voxel_size_nm / s
    n_fine = n * s
    # fine voxel k centre sits at ((k − (s−1)/2)/s − n//2)·voxel_size from the centre
    axis_nm = ((np.arange(n_fine) - (s - 1) / 2.0) / s - n // 2) * options.voxel_size_nm
    coords = [com[a] + axis_nm / map_voxel_nm for a in range(3)]
    grid = np.meshgrid(*coords, indexing="ij")
    sampled = ndimage.map_coordinates(density, grid, order=3, mode="constant", cval=0.0)
    sampled = np.clip(sampled, 0.0, None)
    total = sampled.sum()
    if total <= 0:
        raise InputError(f"{path}: density map has no positive density after resampling")
    atoms_integral = mass_kda * PROTEIN_POTENTIAL_V_NM3_PER_KDA
    real = sampled * (atoms_integral / (total * fine_voxel_nm**3))
    occupancy = sampled * (protein_volume_nm3(mass_kda) / (total * fine_voxel_nm**3))
    solvent = options.solvent_exclusion != "none"
    if solvent:
        real -= ICE_POTENTIAL_V * occupancy
    potential = np.zeros((n,) * 3, dtype=np.complex64)
    potential.real = bin_volume(real, s, options.binning_method)
    if options.absorption and solvent:
        contrast = absorption_potential_v("protein", options.voltage_kv) - absorption_potential_v(
            "ice", options.voltage_kv
        )
        # block mean: a non-negative occupancy stays non-negative (see atomic_potential)
        potential.imag = bin_volume(occupancy, s, "average") * contrast
    excluded_nm3 = float(occupancy.sum()) * fine_voxel_nm**3 if solvent else 0.0
    info = {
        "shape": list(potential.shape),
        "map_voxel_size_nm": map_voxel_nm,
        "molecular_weight_kda": mass_kda,
        "excluded_volume_nm3": excluded_nm3,
        "integral_real_v_nm3": float(potential.real.sum(dtype=np.float64))
        * options.voxel_size_nm**3,
        "target_integral_real_v_nm3": map_real_integral_target_v_nm3(mass_kda, solvent),
        "max_radius_nm": radius_nm,
    }
    return potential, info
