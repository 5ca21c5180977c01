"""Electron-optical constants at the microscope voltage (thin wrappers in nm units).

The relativistic formulas live in :mod:`tomobench.structures.absorption` (shared with the
potential calculation); this module converts them to the units of the image simulation.
"""

from __future__ import annotations

from tomobench.structures.absorption import (
    absorption_potential_v,
    interaction_constant_rad_per_v_m,
    wavelength_m,
)

#: Real (elastic) mean inner potential of amorphous ice at 0.93 g/cm³ (V), as SHREC'21.
ICE_REAL_POTENTIAL_V = 4.5301


def electron_wavelength_nm(voltage_kv: float) -> float:
    """Relativistic electron wavelength in nm (1.9687e-3 nm at 300 kV)."""
    return wavelength_m(voltage_kv * 1e3) * 1e9


def interaction_constant_rad_per_v_nm(voltage_kv: float) -> float:
    """Interaction constant σ = 2π m λ e / h² (relativistic m) in rad V⁻¹ nm⁻¹."""
    return interaction_constant_rad_per_v_m(voltage_kv * 1e3) * 1e-9


def ice_imaginary_potential_v(voltage_kv: float) -> float:
    """Absorption potential of amorphous ice (0.204 V at 300 kV)."""
    return absorption_potential_v("ice", voltage_kv)
