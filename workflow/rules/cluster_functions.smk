# What jobs ask a scheduler for, and the SLURM preflight (kept apart from the rules, as the
# linter asks). Included by common.smk.
import math
import os

import yaml

from tomobench.slurm import check_schedulable, request_from_resources
from tomobench.structures.potential import cube_size_voxels

#: ``gpu`` resource of the GPU-capable rules (potentials, tilt series, template matching,
#: networks): one GPU each with ``device: cuda``, none otherwise. ``auto`` asks for none, so a
#: cluster without GPUs runs it on CPUs; set ``device: cuda`` to get a GPU per job.
GPU_REQUEST = 1 if DEVICE == "cuda" else 0


def _plugin_partition_names():
    """Partitions of the SLURM plugin's partition file (--slurm-partition-config), if any."""
    path = getattr(
        workflow.executor_settings, "partition_config", None
    ) or os.environ.get("SNAKEMAKE_SLURM_PARTITIONS")
    if not path:
        return []
    with open(path) as handle:
        return list((yaml.safe_load(handle) or {}).get("partitions") or {})


def check_slurm_jobs():
    """On a SLURM run, stop before the first submission when a job could never start.

    Groups the jobs to run by what they ask for and asks SLURM (``sbatch --test-only``, the
    partitions' time limits) about each request: tomobench.slurm.
    """
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    partitions = _plugin_partition_names()
    requests = {}
    for job in workflow.dag.needrun_jobs():
        if not job.is_local:
            request = request_from_resources(job.resources, job.threads, partitions)
            requests.setdefault(request, []).append(job.rule.name)
    check_schedulable(requests)


# --- Memory (MB) each rule asks for ------------------------------------------------------------
# A base (interpreter, numpy/scipy/torch, small arrays) plus bytes per voxel of the arrays a job
# holds at its peak, from the config's sizes; a retry (profile: retries: 1) asks for the
# variable part twice. The coefficients cover the peak RSS measured on config/test.yaml and
# config/config.yaml with a margin: benchmarks/memory_requests.py prints peak/request per rule.

#: Half edge (nm) of the largest SHREC protein potential box, margin included (5MRC: 81 voxels
#: of 0.5 nm in config/config.yaml's run).
PROTEIN_BOX_HALF_EDGE_NM = 20.5


def _megabytes(base_mb, variable_bytes, attempt=1):
    return int(math.ceil(base_mb + variable_bytes * attempt / 1e6))


def _final_voxels():
    t = config["tomograms"]
    return t["size_xy_voxels"] ** 2 * t["size_z_voxels"]


def _unbinned_ice_voxels():
    """Voxels of the simulated ice slab at the simulation voxel size."""
    t = config["tomograms"]
    ice = int(round(config["scene"]["ice_thickness_nm"] / t["voxel_size_nm"]))
    return t["binning"] ** 3 * t["size_xy_voxels"] ** 2 * ice


def _search_voxels():
    """Voxels of the template-matching search grid (search_voxel_size_nm)."""
    tm = config["template_matching"]
    binning = max(1, round(tm["search_voxel_size_nm"] / FINAL_VOXEL_NM))
    return _final_voxels() // binning**3


def protein_potential_mem_mb(wildcards, attempt):
    """compute_potential: float64 fine grids of the largest class box (potential, excluded
    volume, FFT binning)."""
    fine = (
        2
        * PROTEIN_BOX_HALF_EDGE_NM
        / SIMULATION_VOXEL_NM
        * config["potential"]["oversampling"]
    )
    return _megabytes(300, 120 * fine**3, attempt)


def table1_mem_mb(wildcards, attempt):
    """table1_structures: one class potential at a time, at Table 1's 0.5 nm."""
    fine = 2 * PROTEIN_BOX_HALF_EDGE_NM / 0.5 * config["potential"]["oversampling"]
    return _megabytes(300, 120 * fine**3, attempt)


def gold_mem_mb(wildcards, attempt):
    """compute_gold_potential: float64 grids and coordinates of the largest bead's box
    (lumps included)."""
    n = cube_size_voxels(
        max(config["potential"]["gold_diameter_nm"]), SIMULATION_VOXEL_NM, 1.0
    )
    return _megabytes(200, 160 * n**3, attempt)


def scene_mem_mb(wildcards, attempt):
    """simulate_scene: the complex ice slab (8 B/voxel), the occupancy (2 B), the binning
    intermediate (1 B) and one final float32 volume (vesicles are made in place, proteins
    rotated within their support: benchmarks/simulation.py --size paper)."""
    return _megabytes(700, 11 * _unbinned_ice_voxels() + 4 * _final_voxels(), attempt)


def tilt_series_mem_mb(wildcards, attempt):
    """simulate_tilt_series: the padded spline coefficients (8 B/voxel; the model is read in
    z-slabs; 4 B more for the float32 coefficients of the 3D beam-damage field), the noisy and
    noise-free projection stacks, per-tilt slab matrices and scratch."""
    t = config["tomograms"]
    pixels = (t["binning"] * t["size_xy_voxels"]) ** 2 * config["tilt_series"][
        "tilt_count"
    ]
    damage = (config["tilt_series"].get("beam_damage") or {}).get("variant")
    per_voxel = 12.75 if damage in (None, "grand_model_3d") else 8.5
    return _megabytes(1500, per_voxel * _unbinned_ice_voxels() + 8 * pixels, attempt)


def reconstruction_mem_mb(wildcards, attempt):
    """reconstruct: the unbinned projection stack plus the volume and scratch."""
    t = config["tomograms"]
    pixels = (t["binning"] * t["size_xy_voxels"]) ** 2 * config["tilt_series"][
        "tilt_count"
    ]
    return _megabytes(500, 16 * (pixels + _final_voxels()), attempt)


def snr_mem_mb(wildcards, attempt):
    """measure_snr: both projection stacks and their difference, the reconstruction, the
    noise volume, the occupancy and float64 copies of a region's voxels."""
    t = config["tomograms"]
    pixels = (t["binning"] * t["size_xy_voxels"]) ** 2 * config["tilt_series"][
        "tilt_count"
    ]
    return _megabytes(500, 16 * pixels + 40 * _final_voxels(), attempt)


def tomogram_mem_mb(wildcards, attempt):
    """Rules that read a final-size tomogram or mask and filter it (DoG picks, evaluation,
    central slices): a few float32/float64 copies of the volume."""
    return _megabytes(300, 48 * _final_voxels(), attempt)


def dog_calibration_mem_mb(wildcards, attempt):
    """calibrate_dog: the training and validation tomograms in memory, and the DoG scale space
    of one of them at a time."""
    tomograms = len(TRAINING_IDS) + len(VALIDATION_IDS)
    return _megabytes(300, (4 * tomograms + 48) * _final_voxels(), attempt)


def template_matching_mem_mb(wildcards, attempt):
    """match_templates: the tomogram and its spectrum (~16 B/voxel) and ~14 float32 maps of
    the search grid, plus ~5 more per rotation worker beyond the first (counted for two:
    ``--set-threads match_templates=2``)."""
    return _megabytes(500, 16 * _final_voxels() + 76 * _search_voxels(), attempt)


def tm_picks_mem_mb(wildcards, attempt):
    """pick_template_matching: the tomogram, the merged score and angle maps of every class
    (8 B per search voxel) and the chunk being merged."""
    per_search_voxel = 8 * len(PROTEIN_CLASSES) + 24
    return _megabytes(
        300, 16 * _final_voxels() + per_search_voxel * _search_voxels(), attempt
    )


def _learning_params(wildcards, section):
    """A learning method's training or inference parameters, its kind's defaults filled in."""
    from tomobench.methods.learning import get_kind  # imports torch: only when asked

    method = METHODS[wildcards.method]
    kind = get_kind(method["kind"])
    given = dict(method.get(section) or {})
    if section == "training":
        return kind.training_params(given)
    return kind.inference_params(given)


def _map_bytes_per_voxel(wildcards):
    """Bytes per tomogram voxel of a kind's per-class float32 maps (targets in training, the
    network's output in inference): U-CLSTM regresses one heatmap per class."""
    if METHODS[wildcards.method]["kind"] == "u_clstm":
        return 4 * len(PROTEIN_CLASSES) + 8  # + vesicle and fiducial channels
    return 0


def _patch_voxels(patch):
    return math.prod([patch] * 3 if isinstance(patch, int) else patch)


def _pyramid_channels(widths):
    """Channels per patch voxel summed over the U-Net levels (level l has 8**-l voxels)."""
    return sum(width / 8**level for level, width in enumerate(widths))


def training_mem_mb(wildcards, attempt):
    """train_learning: every training and validation tomogram with its targets, and the
    activations of one batch (per patch voxel and channel of the network)."""
    p = _learning_params(wildcards, "training")
    tomograms = len(TRAINING_IDS) + len(VALIDATION_IDS)
    activations = (
        p["batch_size"]
        * _patch_voxels(p["patch_voxels"])
        * _pyramid_channels(p["widths"])
    )
    per_voxel = 24 + _map_bytes_per_voxel(wildcards)
    return _megabytes(
        800, per_voxel * tomograms * _final_voxels() + 64 * activations, attempt
    )


def inference_mem_mb(wildcards, attempt):
    """pick_learning: the tomogram, its label/score maps, the blending slab and the
    activations of one window batch."""
    p = _learning_params(wildcards, "inference")
    widths = _learning_params(wildcards, "training")["widths"]
    window = (
        p["batch_size"] * _patch_voxels(p["patch_voxels"]) * _pyramid_channels(widths)
    )
    per_voxel = 32 + 2 * _map_bytes_per_voxel(wildcards)  # maps + the blending slab
    return _megabytes(800, per_voxel * _final_voxels() + 32 * window, attempt)
