"""Physics checks of the atomic potential: closed forms, invariances, solvent, absorption."""

from __future__ import annotations

import math

import gemmi
import numpy as np
import pytest

from tomobench.backend import cupy_available
from tomobench.structures.absorption import absorption_potential_v
from tomobench.structures.assembly import AtomicModel
from tomobench.structures.potential import (
    ICE_POTENTIAL_V,
    PotentialOptions,
    atomic_potential,
    atoms_to_grid,
    bin_volume,
    excluded_volume_fraction,
)
from tomobench.structures.scattering_factors import (
    PENG_1996,
    POTENTIAL_INTEGRAL_V_NM3_PER_A,
    mean_inner_potential_v,
    peng_coefficients,
)


def _model(positions_nm, elements, hydrogens=None) -> AtomicModel:
    positions = np.asarray(positions_nm, dtype=np.float64).reshape(-1, 3)
    hydrogens = np.zeros(len(elements), dtype=np.int64) if hydrogens is None else hydrogens
    return AtomicModel(positions, np.asarray(elements), np.asarray(hydrogens), 1, "test", False)


def _closed_form_integral(element: str, hydrogens: int = 0) -> float:
    a, _ = peng_coefficients(element)
    a_h, _ = peng_coefficients("H")
    return POTENTIAL_INTEGRAL_V_NM3_PER_A * (a.sum() + hydrogens * a_h.sum())


def _grid(model, n_fine, voxel_nm, offset=None):
    positions = model.positions_nm / voxel_nm + (n_fine // 2 if offset is None else offset)
    return atoms_to_grid(np, model, n_fine, voxel_nm, positions, implicit=True)


@pytest.mark.parametrize("element", ["H", "C", "S", "Au"])
def test_single_atom_integrates_to_five_gaussian_closed_form(element):
    model = _model([[0.013, -0.021, 0.037]], [element])
    grid = _grid(model, 25, 0.1)
    integral = grid.sum() * 0.1**3
    assert integral == pytest.approx(_closed_form_integral(element), rel=1e-5)


def test_implicit_hydrogens_add_their_integral():
    model = _model([[0.0, 0.0, 0.0]], ["C"], np.array([3]))
    grid = _grid(model, 25, 0.1)
    assert grid.sum() * 0.1**3 == pytest.approx(_closed_form_integral("C", 3), rel=1e-5)


def test_voxel_integral_is_invariant_to_voxel_size():
    model = _model([[0.02, 0.01, -0.03], [0.2, -0.1, 0.15]], ["N", "O"])
    integrals = []
    for voxel_nm in (0.05, 0.13, 0.37, 1.0):
        n = int(math.ceil(2.5 / voxel_nm)) | 1
        integrals.append(_grid(model, n, voxel_nm).sum() * voxel_nm**3)
    expected = _closed_form_integral("N") + _closed_form_integral("O")
    np.testing.assert_allclose(integrals, expected, rtol=1e-5)


def test_voxel_values_match_brute_force_point_average():
    """The erf product equals the mean of the point potential over the voxel."""
    model = _model([[0.031, -0.017, 0.008]], ["C"])
    voxel_nm, n = 0.1, 11
    exact = _grid(model, n, voxel_nm)
    a, b = peng_coefficients("C")
    sub = 12
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    centre = n // 2
    for index in [(centre, centre, centre), (centre + 1, centre, centre - 1)]:
        pts = np.stack(
            np.meshgrid(
                *[(index[k] - centre + offsets) * voxel_nm for k in range(3)], indexing="ij"
            ),
            -1,
        ).reshape(-1, 3)
        r2_a2 = (((pts - model.positions_nm[0]) * 10.0) ** 2).sum(-1)
        prefactor = POTENTIAL_INTEGRAL_V_NM3_PER_A * 1000.0 * (4 * math.pi) ** 1.5
        values = sum(
            aj * bj**-1.5 * np.exp(-4 * math.pi**2 * r2_a2 / bj)
            for aj, bj in zip(a, b, strict=True)
        )
        brute = prefactor * values.mean()
        assert exact[index] == pytest.approx(brute, rel=2e-2)


def test_two_atom_molecule_is_sum_of_single_atoms():
    positions = [[0.05, -0.12, 0.3], [-0.21, 0.14, -0.02]]
    pair = _model(positions, ["C", "S"])
    single_c = _model(positions[:1], ["C"])
    single_s = _model(positions[1:], ["S"])
    total = _grid(pair, 21, 0.07)
    np.testing.assert_allclose(
        total, _grid(single_c, 21, 0.07) + _grid(single_s, 21, 0.07), atol=1e-12
    )


@pytest.mark.parametrize("method", ["average", "fourier"])
def test_binning_preserves_integral(method):
    rng = np.random.default_rng(0)
    volume = rng.random((18, 18, 18))
    binned = bin_volume(volume, 3, method)
    assert binned.shape == (6, 6, 6)
    assert binned.sum() * 27 == pytest.approx(volume.sum(), rel=1e-10)


def test_fourier_binning_samples_block_centres_of_smooth_signal():
    n_fine, factor = 48, 2
    x = np.arange(n_fine)
    wave = np.cos(2 * np.pi * 3 * x / n_fine)
    volume = wave[:, None, None] * np.ones((1, n_fine, n_fine))
    binned = bin_volume(volume, factor, "fourier")
    centres = factor * np.arange(n_fine // factor) + (factor - 1) / 2
    expected = np.cos(2 * np.pi * 3 * centres / n_fine)
    np.testing.assert_allclose(binned[:, 0, 0], expected, atol=1e-10)


def test_solvent_mask_lowers_inside_by_ice_potential():
    """Fully-inside voxels lose exactly 4.5301 V; an isolated atom excludes its sphere."""
    rng = np.random.default_rng(1)
    positions = rng.normal(scale=0.35, size=(60, 3))
    model = _model(positions, ["C"] * 60)
    base = dict(voxel_size_nm=0.2, oversampling=1, binning_method="average", absorption=False)
    with_mask, info = atomic_potential(model, PotentialOptions(solvent_exclusion="mask", **base))
    without, _ = atomic_potential(model, PotentialOptions(solvent_exclusion="none", **base))
    difference = with_mask.real.astype(np.float64) - without.real
    assert difference.min() == pytest.approx(-ICE_POTENTIAL_V, rel=1e-5)
    lost = -difference.sum() * 0.2**3
    assert lost == pytest.approx(ICE_POTENTIAL_V * info["excluded_volume_nm3"], rel=1e-5)

    lone = _model([[0.0123, -0.0311, 0.0207]], ["C"])
    positions_vox = lone.positions_nm / 0.1 + 15
    sphere = 4 / 3 * math.pi * 0.19**3
    for mask_voxel_nm, tolerance in ((0.1, 0.1), (0.02, 0.02)):
        fraction = excluded_volume_fraction(
            np, lone, 31, 0.1, positions_vox, implicit=True, mask_voxel_max_nm=mask_voxel_nm
        )
        assert fraction.sum() * 0.1**3 == pytest.approx(sphere, rel=tolerance)


def test_absorption_potentials_at_300kv_and_other_voltages():
    assert absorption_potential_v("protein", 300) == pytest.approx(0.389, abs=1e-3)
    assert absorption_potential_v("ice", 300) == pytest.approx(0.204, abs=1e-3)
    assert absorption_potential_v("gold", 300) == pytest.approx(1.079, abs=1e-3)
    assert absorption_potential_v("carbon", 300) == pytest.approx(0.506, abs=1e-3)
    values = [absorption_potential_v("protein", kv) for kv in (100, 200, 300)]
    assert values[0] > values[1] > values[2]


def test_imaginary_part_is_absorption_contrast_inside():
    model = _model(np.random.default_rng(2).normal(scale=0.3, size=(40, 3)), ["O"] * 40)
    options = PotentialOptions(voxel_size_nm=0.25, oversampling=1, binning_method="average")
    potential, _ = atomic_potential(model, options)
    contrast = absorption_potential_v("protein", 300) - absorption_potential_v("ice", 300)
    assert potential.imag.max() == pytest.approx(contrast, rel=1e-5)
    assert potential.imag.min() >= 0


def test_absorption_is_never_negative_after_fourier_binning():
    """The real part is Fourier-binned (it may ring); the imaginary (absorption) part is the
    coarse voxels' excluded-volume fraction: >= 0, same integral, never above full occupancy."""
    model = _model(np.random.default_rng(4).normal(scale=0.5, size=(200, 3)), ["C"] * 200)
    options = PotentialOptions(voxel_size_nm=0.5, oversampling=2, binning_method="fourier")
    potential, info = atomic_potential(model, options)
    contrast = absorption_potential_v("protein", 300) - absorption_potential_v("ice", 300)
    assert potential.imag.min() >= 0
    assert potential.imag.max() <= contrast * (1 + 1e-6)
    integral = float(potential.imag.sum(dtype=np.float64)) * options.voxel_size_nm**3
    assert integral == pytest.approx(info["excluded_volume_nm3"] * contrast, rel=1e-5)


def test_mean_inner_potentials_of_ice_and_gold():
    assert mean_inner_potential_v({"H": 2, "O": 1}, 0.93) == pytest.approx(
        ICE_POTENTIAL_V, rel=2e-3
    )
    assert mean_inner_potential_v({"Au": 1}, 19.3) == pytest.approx(29.8, rel=5e-3)


def test_typed_peng_table_matches_gemmi_c4322():
    for element, (a, b) in PENG_1996.items():
        reference = gemmi.Element(element).c4322
        np.testing.assert_allclose(a, list(reference.a), atol=1e-4, err_msg=element)
        np.testing.assert_allclose(b, list(reference.b), atol=1e-4, err_msg=element)


def test_potential_is_centred_and_complex64():
    model = _model([[0.0, 0.0, 0.0]], ["S"])
    potential, info = atomic_potential(model, PotentialOptions(voxel_size_nm=0.5))
    assert potential.dtype == np.complex64
    n = potential.shape[0]
    assert n % 2 == 1 and info["shape"] == [n, n, n]
    assert np.unravel_index(np.argmax(potential.real), potential.shape) == (n // 2,) * 3


@pytest.mark.skipif(not cupy_available(), reason="needs cupy and a CUDA GPU")
def test_gpu_matches_cpu():
    rng = np.random.default_rng(3)
    model = _model(rng.normal(scale=0.8, size=(500, 3)), list(rng.choice(["C", "N", "O"], 500)))
    options = PotentialOptions(voxel_size_nm=0.5)
    cpu, _ = atomic_potential(model, options, device="cpu")
    gpu, _ = atomic_potential(model, options, device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=1e-4 * np.abs(cpu).max())


def test_gaussian_solvent_model_removes_displaced_volumes():
    model = _model([[0.01, 0.02, -0.03], [0.4, -0.2, 0.1]], ["C", "N"], np.array([2, 1]))
    base = dict(voxel_size_nm=0.1, oversampling=1, binning_method="average", absorption=False)
    gaussian, _ = atomic_potential(model, PotentialOptions(solvent_exclusion="gaussian", **base))
    plain, _ = atomic_potential(model, PotentialOptions(solvent_exclusion="none", **base))
    lost = (plain.real.astype(np.float64) - gaussian.real).sum() * 0.1**3
    displaced_a3 = (16.44 + 2 * 5.15) + (2.49 + 5.15)
    assert lost == pytest.approx(ICE_POTENTIAL_V * displaced_a3 * 1e-3, rel=1e-3)
