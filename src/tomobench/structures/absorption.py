"""Imaginary (absorption) potential of a material from its inelastic mean free path.

Following Vulovic et al. 2013 (J. Struct. Biol. 183, 19-32, eq. 8 and the InSilicoTEM code) as
used by the SHREC'21 simulator:

    V_im = 1 / (2 σ Λ_in),   σ the interaction constant (:mod:`tomobench.optics`),
    Λ_in = 1 / (N σ_in),     N = number density of "molecules" of mass ``mass_per_unit_da``,

with Langmore-Smith type inelastic cross sections (mean energy loss E_loss = 20 eV,
β² = 1 - (E₀/(U + E₀))², E₀ = mₑc²/e):

- element of atomic number Z:  σ_in = 1.5e-6 nm² · Z^½ / β² · ln(β² (U + E₀) / (E_loss/2));
- hydrogen:  8.8e-6 nm² scaled from 100 kV with the same logarithmic energy dependence;
- protein (per average atom, mass 7.2 Da):  0.82e-4 nm² scaled from 100 kV likewise.

Materials: ice (H₂O, 0.93 g/cm³), protein (1.35 g/cm³, 7.2 Da per atom), lipid (the protein
per-atom cross section at DPPC's 5.65 Da per atom and 0.99 g/cm³: lipids are made of the same
light elements), gold (Z = 79, 19.3 g/cm³), carbon (Z = 6, 2.0 g/cm³).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tomobench.errors import InputError
from tomobench.optics import (
    AVOGADRO_PER_MOL,
    REST_ENERGY_EV,
    beta_squared,
    interaction_constant_rad_per_v_m,
)

MEAN_ENERGY_LOSS_EV = 20.0


@dataclass(frozen=True)
class Material:
    """A homogeneous material for the absorption potential."""

    density_g_cm3: float
    mass_per_unit_da: float
    #: ``("element", Z)``, ``("water", 0)`` or ``("light_atom", 0)`` (protein-like atoms)
    cross_section_model: tuple[str, int]


MATERIALS = {
    "ice": Material(0.93, 18.0, ("water", 0)),
    "protein": Material(1.35, 7.2, ("light_atom", 0)),
    "lipid": Material(0.99, 734.05 / 130.0, ("light_atom", 0)),
    "gold": Material(19.3, 196.967, ("element", 79)),
    "carbon": Material(2.0, 12.0, ("element", 6)),
}


def _log_term(voltage_v: float) -> float:
    b2 = beta_squared(voltage_v)
    return b2, math.log(b2 * (voltage_v + REST_ENERGY_EV) / (MEAN_ENERGY_LOSS_EV / 2.0))


def _scaled_from_100kv(cross_section_100kv_nm2: float, voltage_v: float) -> float:
    b2, log_u = _log_term(voltage_v)
    b2_100, log_100 = _log_term(100e3)
    return cross_section_100kv_nm2 * b2_100 * log_u / (b2 * log_100)


def _element_cross_section_nm2(atomic_number: int, voltage_v: float) -> float:
    b2, log_u = _log_term(voltage_v)
    return 1.5e-6 * math.sqrt(atomic_number) / b2 * log_u


def inelastic_cross_section_nm2(material: Material, voltage_v: float) -> float:
    """Inelastic cross section (nm²) per unit of ``material.mass_per_unit_da``."""
    kind, z = material.cross_section_model
    if kind == "element":
        return _element_cross_section_nm2(z, voltage_v)
    if kind == "water":
        return 2.0 * _scaled_from_100kv(8.8e-6, voltage_v) + _element_cross_section_nm2(
            8, voltage_v
        )
    if kind == "light_atom":
        return _scaled_from_100kv(0.82e-4, voltage_v)
    raise ValueError(f"unknown cross-section model {kind!r}")


def inelastic_mean_free_path_nm(material: Material, voltage_v: float) -> float:
    """Λ_in (nm) = 1 / (N σ_in)."""
    number_per_nm3 = material.density_g_cm3 * AVOGADRO_PER_MOL / material.mass_per_unit_da * 1e-21
    return 1.0 / (number_per_nm3 * inelastic_cross_section_nm2(material, voltage_v))


def absorption_potential_v(material: str | Material, voltage_kv: float = 300.0) -> float:
    """Imaginary potential (V) of ``material`` (a name in ``MATERIALS``) at ``voltage_kv``."""
    if isinstance(material, str):
        if material not in MATERIALS:
            raise InputError(f"absorption material {material!r}: not one of {sorted(MATERIALS)}")
        material = MATERIALS[material]
    if not voltage_kv > 0:
        raise InputError(f"microscope.voltage_kv: must be positive, got {voltage_kv}")
    voltage_v = voltage_kv * 1e3
    mfp_m = inelastic_mean_free_path_nm(material, voltage_v) * 1e-9
    return 1.0 / (2.0 * interaction_constant_rad_per_v_m(voltage_v) * mfp_m)
