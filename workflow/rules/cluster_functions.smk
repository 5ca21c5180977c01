# What jobs ask a scheduler for, and the SLURM preflight (kept apart from the rules, as the
# linter asks). Included by common.smk.
import os

import yaml

from tomobench import resources as job_memory
from tomobench.slurm import check_schedulable, request_from_resources

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


# --- Memory (MB) of each job, from tomobench.resources (the model and its measurements) ---


def _memory(model):
    """The mem_mb callable of a rule whose request depends on the run's sizes only."""
    return lambda wildcards, attempt: model(config, attempt)


def _method_memory(model):
    """The mem_mb callable of a rule whose request depends on the {method}'s entry too."""
    return lambda wildcards, attempt: model(config, METHODS[wildcards.method], attempt)


protein_potential_mem_mb = _memory(job_memory.protein_potential_mb)
table1_mem_mb = _memory(job_memory.table1_mb)
gold_mem_mb = _memory(job_memory.gold_mb)
scene_mem_mb = _memory(job_memory.scene_mb)
tilt_series_mem_mb = _memory(job_memory.tilt_series_mb)
reconstruction_mem_mb = _memory(job_memory.reconstruction_mb)
snr_mem_mb = _memory(job_memory.snr_mb)
tomogram_mem_mb = _memory(job_memory.tomogram_mb)
dog_calibration_mem_mb = _memory(job_memory.dog_calibration_mb)
template_matching_mem_mb = _memory(job_memory.template_matching_mb)
tm_picks_mem_mb = _memory(job_memory.tm_picks_mb)
training_mem_mb = _method_memory(job_memory.training_mb)
inference_mem_mb = _method_memory(job_memory.inference_mb)
