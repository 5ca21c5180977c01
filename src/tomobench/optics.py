"""Physical constants and electron optics, written once for the potentials, the simulator and
the template-matching CTF.

Relativistic electrons accelerated by ``U`` volts: wavelength ``λ = h / p`` with
``p = √(2 mₑ eU (1 + eU / 2mₑc²))``, interaction constant ``σ = 2π m λ e / h²`` with the
relativistic mass ``m = mₑ (1 + eU / mₑc²)``. The wave aberration of the objective lens (defocus
``Δf > 0`` = underfocus, spherical aberration ``Cs``) is
``χ(k) = π (½ Cs λ³ k⁴ − Δf λ k²)`` at spatial frequency ``k``; the image wave is the exit wave
times ``exp(−iχ)`` (a positive potential then images dark at low frequency).
"""

from __future__ import annotations

import math

#: SI 2019 exact values (CODATA 2018 for the electron mass).
PLANCK_J_S = 6.62607015e-34
ELECTRON_MASS_KG = 9.1093837015e-31
ELEMENTARY_CHARGE_C = 1.602176634e-19
SPEED_OF_LIGHT_M_S = 299792458.0
AVOGADRO_PER_MOL = 6.02214076e23

#: Electron rest energy mₑc²/e (eV).
REST_ENERGY_EV = ELECTRON_MASS_KG * SPEED_OF_LIGHT_M_S**2 / ELEMENTARY_CHARGE_C


def beta_squared(voltage_v: float) -> float:
    """(v/c)² of electrons accelerated by ``voltage_v``."""
    return 1.0 - (REST_ENERGY_EV / (voltage_v + REST_ENERGY_EV)) ** 2


def wavelength_m(voltage_v: float) -> float:
    """Relativistic electron wavelength (m) at ``voltage_v``."""
    energy_j = voltage_v * ELEMENTARY_CHARGE_C
    momentum = math.sqrt(
        2.0
        * ELECTRON_MASS_KG
        * energy_j
        * (1.0 + energy_j / (2 * ELECTRON_MASS_KG * SPEED_OF_LIGHT_M_S**2))
    )
    return PLANCK_J_S / momentum


def interaction_constant_rad_per_v_m(voltage_v: float) -> float:
    """σ = 2π m λ e / h² with the relativistic mass (rad V⁻¹ m⁻¹)."""
    mass = ELECTRON_MASS_KG * (
        1.0 + voltage_v * ELEMENTARY_CHARGE_C / (ELECTRON_MASS_KG * SPEED_OF_LIGHT_M_S**2)
    )
    return 2.0 * math.pi * mass * wavelength_m(voltage_v) * ELEMENTARY_CHARGE_C / PLANCK_J_S**2


def electron_wavelength_nm(voltage_kv: float) -> float:
    """Relativistic electron wavelength in nm (1.9687e-3 nm at 300 kV)."""
    return wavelength_m(voltage_kv * 1e3) * 1e9


def interaction_constant_rad_per_v_nm(voltage_kv: float) -> float:
    """Interaction constant σ in rad V⁻¹ nm⁻¹ at ``voltage_kv``."""
    return interaction_constant_rad_per_v_m(voltage_kv * 1e3) * 1e-9


def aberration_phase(k_per_nm, defocus_nm: float, voltage_kv: float,
                     spherical_aberration_mm: float):
    """χ(k) in radians, ``π (½ Cs λ³ k⁴ − Δf λ k²)``, for frequencies ``k_per_nm`` (any shape,
    numpy or cupy); ``defocus_nm > 0`` is underfocus."""
    wavelength = electron_wavelength_nm(voltage_kv)
    cs_nm = spherical_aberration_mm * 1e6
    k2 = k_per_nm**2
    return math.pi * (0.5 * cs_nm * wavelength**3 * k2**2 - defocus_nm * wavelength * k2)
