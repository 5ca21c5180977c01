"""The configuration read into the stages' typed settings: one parser per config section.

The schema (``workflow/schemas/config.schema.yaml``) holds the keys and their defaults and
Snakemake fills the defaults in, so these functions read a *validated* config (every key
present). They add the checks one value cannot make on its own (a range's minimum above its
maximum, the ice slab against the tomogram height) and raise ``InputError`` naming the key. The
settings classes' own field defaults equal the schema's (``tests/test_config.py`` fails when
they diverge), so code that builds them directly gets the benchmark's values.
"""

from __future__ import annotations

from tomobench.errors import InputError
from tomobench.simulation.beam_damage import VARIANTS as BEAM_DAMAGE_VARIANTS
from tomobench.simulation.ctf import Microscope
from tomobench.simulation.detector import DETECTORS
from tomobench.simulation.rotation import ORIENTATION_SAMPLINGS
from tomobench.simulation.scene import SceneGeometry, SceneParameters
from tomobench.simulation.tilt_series import TiltSeriesSettings
from tomobench.structures.membranes import Vesicle, draw_vesicle


def _check_ranges(ranges) -> None:
    """``InputError`` for the first ``(key, (low, high))`` whose minimum exceeds its maximum."""
    for key, (low, high) in ranges:
        if low > high:
            raise InputError(f"{key}: minimum {low} > maximum {high}")


def scene_geometry(config: dict) -> SceneGeometry:
    """Sizes of the simulated and final volumes (``tomograms``, ``scene.ice_thickness_nm``);
    an ice slab thinner than a voxel or higher than the tomogram names its key."""
    tomograms, scene = config["tomograms"], config["scene"]
    geometry = SceneGeometry(
        size_xy_voxels=int(tomograms["size_xy_voxels"]),
        size_z_voxels=int(tomograms["size_z_voxels"]),
        voxel_size_nm=float(tomograms["voxel_size_nm"]),
        binning=int(tomograms["binning"]),
        ice_thickness_nm=float(scene["ice_thickness_nm"]),
    )
    if geometry.ice_voxels < 1:
        raise InputError(f"scene.ice_thickness_nm: {geometry.ice_thickness_nm} nm is < 1 voxel")
    if geometry.ice_voxels > geometry.size_z_voxels:
        raise InputError(
            f"scene.ice_thickness_nm: {geometry.ice_thickness_nm} nm "
            f"({geometry.ice_voxels} voxels) "
            f"does not fit tomograms.size_z_voxels = {geometry.size_z_voxels}"
        )
    return geometry


def scene_parameters(config: dict) -> SceneParameters:
    """What a scene is made of (``scene``, ``microscope.voltage_kv``, ``faithful`` optional)."""
    scene, faithful = config["scene"], config.get("faithful") or {}
    _check_ranges((f"scene.{key}", scene[key]) for key in
                  ("proteins_per_tomogram", "fiducials_per_tomogram", "vesicles_per_tomogram"))
    if scene["orientation_sampling"] not in ORIENTATION_SAMPLINGS:
        raise InputError(f"scene.orientation_sampling: must be one of {ORIENTATION_SAMPLINGS}")
    sampling = scene["orientation_sampling"]
    if faithful.get("orientation_bias", False):
        sampling = "faithful"
    return SceneParameters(
        proteins_per_tomogram=tuple(scene["proteins_per_tomogram"]),
        fiducials_per_tomogram=tuple(scene["fiducials_per_tomogram"]),
        vesicles_per_tomogram=tuple(scene["vesicles_per_tomogram"]),
        orientation_sampling=sampling,
        max_placement_attempts=int(scene["max_placement_attempts"]),
        motion_blur_sigma_nm=float(scene["motion_blur_sigma_nm"]),
        voltage_kv=float(config["microscope"]["voltage_kv"]),
        threshold_rotated_potentials=bool(faithful.get("threshold_rotated_potentials", False)),
        ice_imaginary_only=bool(faithful.get("ice_imaginary_only", False)),
        oversampling=int(config["potential"]["oversampling"]),
        absorption=bool(config["potential"]["absorption"]),
    )


def vesicle_library(config: dict, seed: int) -> list[Vesicle]:
    """The run's vesicle library (``potential.vesicle_library_size`` shapes, seeded)."""
    potential = config["potential"]
    return [
        draw_vesicle(seed, k, tuple(potential["vesicle_diameter_nm"]),
                     float(potential["membrane_thickness_nm"]))
        for k in range(int(potential["vesicle_library_size"]))
    ]


def tilt_series_settings(config: dict) -> TiltSeriesSettings:
    """Acquisition settings (``tilt_series``, ``microscope``, ``faithful`` optional)."""
    series, microscope = config["tilt_series"], config["microscope"]
    faithful = config.get("faithful") or {}
    shift_sigma = series["shift_sigma_nm"]
    shift_sigma = shift_sigma if isinstance(shift_sigma, list) else [shift_sigma] * 2
    damage = series.get("beam_damage") or {}
    damage_variant = damage.get("variant", TiltSeriesSettings.beam_damage)
    damage_snr = damage.get("snr", list(TiltSeriesSettings.beam_damage_snr))
    _check_ranges((("tilt_series.dose_e_per_A2", series["dose_e_per_A2"]),
                   ("microscope.defocus_um", microscope["defocus_um"]),
                   ("tilt_series.shift_sigma_nm", shift_sigma),
                   ("tilt_series.beam_damage.snr", damage_snr)))
    if damage_variant not in BEAM_DAMAGE_VARIANTS:
        raise InputError(f"tilt_series.beam_damage.variant: must be one of "
                         f"{BEAM_DAMAGE_VARIANTS}")
    if damage_variant != "none" and min(damage_snr) <= 0:
        raise InputError("tilt_series.beam_damage.snr: must be > 0")
    if microscope["detector"] not in DETECTORS:
        raise InputError(f"microscope.detector: must be one of {DETECTORS}")
    return TiltSeriesSettings(
        tilt_range_deg=tuple(float(v) for v in series["tilt_range_deg"]),
        tilt_count=int(series["tilt_count"]),
        dose_e_per_A2=tuple(float(v) for v in series["dose_e_per_A2"]),
        defocus_um=tuple(float(v) for v in microscope["defocus_um"]),
        defocus_jitter_um=float(microscope["defocus_jitter_um"]),
        slice_thickness_nm=float(series["slice_thickness_nm"]),
        shift_sigma_nm=tuple(float(v) for v in shift_sigma),
        noise=bool(series["noise"]),
        detector=str(microscope["detector"]),
        amplitude_profile=series.get("amplitude_profile"),
        defocus_centring_sign=bool(faithful.get("defocus_centring_sign", False)),
        correlated_ranged_draws=bool(faithful.get("correlated_ranged_draws", False)),
        beam_damage=str(damage_variant),
        beam_damage_snr=tuple(float(v) for v in damage_snr),
        ice_imaginary_only=bool(faithful.get("ice_imaginary_only", False)),
    )


def microscope(section: dict) -> Microscope:
    """The microscope constants of the ``microscope`` section (other keys are ignored)."""
    return Microscope(**{k: float(section[k]) for k in Microscope.__dataclass_fields__
                         if k in section})
