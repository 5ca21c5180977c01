"""Memory (MB) each workflow job asks a scheduler for: the Snakemake resource ``mem_mb``.

A request is a base (interpreter, numpy/scipy/torch, small arrays) plus bytes per voxel of the
arrays the job holds at its peak, from the run's sizes; a retry (profile: ``retries: 1``) asks
for the variable part twice (``attempt``). The coefficients cover the peak RSS measured on
config/test.yaml and config/config.yaml with a margin (``benchmarks/memory_requests.py`` prints
peak/request per rule). The sizes come from the package's own geometry: the scene's
:class:`~tomobench.simulation.scene.SceneGeometry`, the template-matching binning factor, the
potential box edge and the learning kinds' parameters. ``workflow/rules/cluster_functions.smk``
only hands each rule's job to these functions.

Every function takes the validated config (schema defaults filled in) and returns whole MB.
"""

from __future__ import annotations

import math

from tomobench.methods.template_matching.templates import integer_factor
from tomobench.simulation.scene import SceneGeometry
from tomobench.structures.potential import cube_size_voxels

#: Half edge (nm) of the largest SHREC protein potential box, margin included (5MRC: 81 voxels
#: of 0.5 nm in config/config.yaml's run).
PROTEIN_BOX_HALF_EDGE_NM = 20.5
#: Voxel size (nm) of Table 1's potentials (table1_structures).
TABLE1_VOXEL_NM = 0.5


def megabytes(base_mb: float, variable_bytes: float, attempt: int = 1) -> int:
    """``base_mb`` plus ``attempt`` times ``variable_bytes``, rounded up to whole MB."""
    return int(math.ceil(base_mb + variable_bytes * attempt / 1e6))


# --- geometry of the run --------------------------------------------------------------------


def geometry(config: dict) -> SceneGeometry:
    """The tomogram and simulation grids of the run (no checks: those run before any job)."""
    tomograms = config["tomograms"]
    return SceneGeometry(
        size_xy_voxels=int(tomograms["size_xy_voxels"]),
        size_z_voxels=int(tomograms["size_z_voxels"]),
        voxel_size_nm=float(tomograms["voxel_size_nm"]),
        binning=int(tomograms["binning"]),
        ice_thickness_nm=float(config["scene"]["ice_thickness_nm"]),
    )


def final_voxels(config: dict) -> int:
    """Voxels of one final tomogram."""
    g = geometry(config)
    return g.size_xy_voxels**2 * g.size_z_voxels


def simulation_voxels(config: dict) -> int:
    """Voxels of the simulated ice slab at the simulation voxel size."""
    return math.prod(geometry(config).simulation_shape)


def projection_pixels(config: dict) -> int:
    """Pixels of the unbinned tilt series (all tilts)."""
    g = geometry(config)
    return (g.binning * g.size_xy_voxels) ** 2 * config["tilt_series"]["tilt_count"]


def search_voxels(config: dict) -> int:
    """Voxels of the template-matching search grid (``search_voxel_size_nm``)."""
    factor = integer_factor(config["template_matching"]["search_voxel_size_nm"],
                            geometry(config).voxel_size_nm,
                            "template_matching.search_voxel_size_nm")
    return final_voxels(config) // factor**3


def _annotated_tomograms(config: dict) -> int:
    """Training plus validation tomograms (held in memory by calibration and training)."""
    return len(config["tomograms"]["training"]) + len(config["tomograms"]["validation"])


# --- structures and simulation --------------------------------------------------------------


def protein_potential_mb(config: dict, attempt: int = 1) -> int:
    """compute_potential: float64 fine grids of the largest class box (potential, excluded
    volume, FFT binning)."""
    fine = (2 * PROTEIN_BOX_HALF_EDGE_NM / geometry(config).simulation_voxel_nm
            * config["potential"]["oversampling"])
    return megabytes(300, 120 * fine**3, attempt)


def table1_mb(config: dict, attempt: int = 1) -> int:
    """table1_structures: one class potential at a time, at Table 1's 0.5 nm."""
    fine = 2 * PROTEIN_BOX_HALF_EDGE_NM / TABLE1_VOXEL_NM * config["potential"]["oversampling"]
    return megabytes(300, 120 * fine**3, attempt)


def gold_mb(config: dict, attempt: int = 1) -> int:
    """compute_gold_potential: float64 grids and coordinates of the largest bead's box (lumps
    included). The largest diameter goes in as ``cube_size_voxels``' radius, a box of twice
    the bead's edge: generous, kept so that the requests stay those measured."""
    n = cube_size_voxels(max(config["potential"]["gold_diameter_nm"]),
                         geometry(config).simulation_voxel_nm, 1.0)
    return megabytes(200, 160 * n**3, attempt)


def scene_mb(config: dict, attempt: int = 1) -> int:
    """simulate_scene: the complex ice slab (8 B/voxel), the occupancy (2 B), the binning
    intermediate (1 B) and one final float32 volume (vesicles are made in place, proteins
    rotated within their support: benchmarks/simulation.py --size paper)."""
    return megabytes(700, 11 * simulation_voxels(config) + 4 * final_voxels(config), attempt)


def tilt_series_mb(config: dict, attempt: int = 1) -> int:
    """simulate_tilt_series: the padded spline coefficients (8 B/voxel; the model is read in
    z-slabs; 4 B more for the float32 coefficients of the 3D beam-damage field), the noisy and
    noise-free projection stacks, per-tilt slab matrices and scratch."""
    damage = (config["tilt_series"].get("beam_damage") or {}).get("variant")
    per_voxel = 12.75 if damage in (None, "grand_model_3d") else 8.5
    return megabytes(1500, per_voxel * simulation_voxels(config)
                     + 8 * projection_pixels(config), attempt)


def reconstruction_mb(config: dict, attempt: int = 1) -> int:
    """reconstruct: the unbinned projection stack plus the volume and scratch."""
    return megabytes(500, 16 * (projection_pixels(config) + final_voxels(config)), attempt)


def snr_mb(config: dict, attempt: int = 1) -> int:
    """measure_snr: both projection stacks and their difference, the reconstruction, the
    noise volume, the occupancy and float64 copies of a region's voxels."""
    return megabytes(500, 16 * projection_pixels(config) + 40 * final_voxels(config), attempt)


# --- pickers and evaluation -----------------------------------------------------------------


def tomogram_mb(config: dict, attempt: int = 1) -> int:
    """Jobs that read a final-size tomogram or mask and filter it (DoG picks, evaluation,
    central slices): a few float32/float64 copies of the volume."""
    return megabytes(300, 48 * final_voxels(config), attempt)


def dog_calibration_mb(config: dict, attempt: int = 1) -> int:
    """calibrate_dog: the training and validation tomograms in memory, and the DoG scale space
    of one of them at a time."""
    return megabytes(300, (4 * _annotated_tomograms(config) + 48) * final_voxels(config),
                     attempt)


def template_matching_mb(config: dict, attempt: int = 1) -> int:
    """match_templates: the tomogram and its spectrum (~16 B/voxel) and ~14 float32 maps of
    the search grid, plus ~5 more per rotation worker beyond the first (counted for two:
    ``--set-threads match_templates=2``)."""
    return megabytes(500, 16 * final_voxels(config) + 76 * search_voxels(config), attempt)


def tm_picks_mb(config: dict, attempt: int = 1) -> int:
    """pick_template_matching: the tomogram, the merged score and angle maps of every class
    (8 B per search voxel) and the chunk being merged."""
    per_search_voxel = 8 * len(config["structures"]["classes"]) + 24
    return megabytes(300, 16 * final_voxels(config) + per_search_voxel * search_voxels(config),
                     attempt)


def _learning_params(method: dict, section: str) -> dict:
    """A learning method entry's ``training`` or ``inference`` parameters, its kind's
    defaults filled in."""
    from tomobench.methods.learning import get_kind  # imports torch: only when asked

    kind = get_kind(method["kind"])
    given = dict(method.get(section) or {})
    if section == "training":
        return kind.training_params(given)
    return kind.inference_params(given)


def _map_bytes_per_voxel(config: dict, method: dict) -> int:
    """Bytes per tomogram voxel of a kind's per-class float32 maps (targets in training, the
    network's output in inference): U-CLSTM regresses one heatmap per class."""
    if method["kind"] == "u_clstm":
        return 4 * len(config["structures"]["classes"]) + 8  # + vesicle and fiducial channels
    return 0


def _patch_voxels(patch: int | list[int]) -> int:
    from tomobench.methods.learning.data import patch_shape_of

    return math.prod(patch_shape_of(patch))


def _pyramid_channels(widths: list[int]) -> float:
    """Channels per patch voxel summed over the U-Net levels (level l has 8**-l voxels)."""
    return sum(width / 8**level for level, width in enumerate(widths))


def training_mb(config: dict, method: dict, attempt: int = 1) -> int:
    """train_learning of the learning method entry ``method``: every training and validation
    tomogram with its targets, and the activations of one batch (per patch voxel and channel
    of the network)."""
    p = _learning_params(method, "training")
    activations = p["batch_size"] * _patch_voxels(p["patch_voxels"]) * _pyramid_channels(
        p["widths"])
    per_voxel = 24 + _map_bytes_per_voxel(config, method)
    return megabytes(
        800,
        per_voxel * _annotated_tomograms(config) * final_voxels(config) + 64 * activations,
        attempt)


def inference_mb(config: dict, method: dict, attempt: int = 1) -> int:
    """pick_learning of the learning method entry ``method``: the tomogram, its label/score
    maps, the blending slab and the activations of one window batch."""
    p = _learning_params(method, "inference")
    widths = _learning_params(method, "training")["widths"]
    window = p["batch_size"] * _patch_voxels(p["patch_voxels"]) * _pyramid_channels(widths)
    per_voxel = 32 + 2 * _map_bytes_per_voxel(config, method)  # maps + the blending slab
    return megabytes(800, per_voxel * final_voxels(config) + 32 * window, attempt)
