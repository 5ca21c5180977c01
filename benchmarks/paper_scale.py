"""The whole paper-size benchmark (``config/shrec2021.yaml``): measured slices, projected.

Measures on this machine, one thread each, a bounded slice of every kind of job of the
config at its real size, and scales each slice by the job's full count. EVERY figure derived
from a slice is printed as "projected"; only the slices themselves are measured.

- simulation: one paper tomogram (scene, a subset of the tilts, WBP) through
  ``benchmarks/simulation.py --size paper --tilt-subset N`` (its own extrapolation to all tilts),
  times ``tomograms.count``;
- potentials and evaluation: the per-rule benchmark TSVs of a finished run (``--run``; the
  potentials are the same structures at the same simulation voxel size), else left out (said);
- template matching: ``--rotations`` rotations of one class's template over a full-size test
  tomogram at the configured search grid, times rotations (mirror doubles them) x classes x
  test tomograms; TM-F re-uses TM's searches (``match_templates``), only its picking differs;
- training: ``--train-steps`` optimiser steps of each network (fp32 and bf16 autocast,
  channels-last) at its paper patch size with batch 1 (U-CLSTM: on a smaller patch, scaled per
  voxel), times batch size x steps, plus its validation passes (a forward pass = 1/3 step);
- inference: the network over a few windows of a full-size tomogram, times the windows of the
  test tomograms (sliding-window kinds: by window count; YOPO/CFN: per voxel).

The DAG is the workflow's: potentials -> per tomogram scene -> tilt series -> WBP ->
(template matching chunks -> TM / TM-F picks) and (training, needing every training and
validation tomogram -> learned picks) -> evaluation. Wall time on P cores is a list schedule of
these jobs (each with the threads its rule asks, longest first), printed for this machine,
a 32-core node and a 10-node cluster of them.

Usage: ``.venv/bin/python benchmarks/paper_scale.py [--run results/default] [--rotations 2]
[--train-steps 2] [--tilt-subset 3] [--skip-simulation | --simulation-log FILE]``
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from learning import _noise_batch  # benchmarks/learning.py: the same synthetic batch

from tomobench.fourier import missing_wedge
from tomobench.methods.learning import KINDS
from tomobench.methods.learning.data import patch_shape_of
from tomobench.methods.learning.inference import _geometry
from tomobench.methods.learning.training import (
    CHANNELS_LAST,
    build_network,
    configure_threads,
    cpu_bf16_supported,
    predict_maps,
)
from tomobench.methods.template_matching.angles import rotation_count, uniform_rotations
from tomobench.methods.template_matching.correlation import LocalCorrelation
from tomobench.methods.template_matching.templates import spherical_mask

REPO = Path(__file__).resolve().parents[1]
N_CLASSES = 15  # background + 12 proteins + vesicle + fiducial
#: Largest voxel count of one measured training sample; larger patches are measured on a
#: cube of this size and scaled per voxel (U-CLSTM's 96^3 x 60 residual blocks needs ~10 GB).
MAX_MEASURED_VOXELS = 64**3
#: The paper's Table 7 (GPU): training time per learned method, template matching.
PAPER_TABLE7_H = {"URFinder": 300.0, "DeepFinder": 50.0, "U-CLSTM": 120.0, "CFN": 96.0}
PAPER_TM_H = 4 + 26 / 60


@dataclass
class Job:
    """One workflow job: CPU seconds on one thread, the threads its rule asks, dependencies."""

    name: str
    cpu_s: float
    threads: int = 1
    deps: list[str] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return self.cpu_s / self.threads  # the rule's threads assumed to scale ideally


def _median(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times)


def measure_simulation(tilt_subset: int, potentials: str | None, log: str | None = None
                       ) -> tuple[float, str]:
    """CPU seconds of one paper tomogram (scene + tilts + WBP), as simulation.py projects it
    (run here, or read from the saved output ``log`` of ``simulation.py --size paper``)."""
    if log:
        while "total per tomogram" not in Path(log).read_text():  # still being written
            time.sleep(10)
        output = Path(log).read_text()
    else:
        command = [sys.executable, str(REPO / "benchmarks" / "simulation.py"), "--size",
                   "paper", "--tilt-subset", str(tilt_subset), "--threads", "1"]
        if potentials:
            command += ["--potentials", potentials]
        output = subprocess.run(command, capture_output=True, text=True, check=True,
                                env={**os.environ}).stdout
    if "size paper" not in output:
        raise RuntimeError("the simulation output is not of simulation.py --size paper")
    match = re.search(r"total per tomogram \((.*?)\): (\d+) s wall .*?, (\d+) s CPU", output)
    if not match:
        raise RuntimeError(f"unexpected simulation.py output:\n{output}")
    return float(match.group(3)), f"simulation.py, {match.group(1)}" + (
        f", from {log}" if log else "")


def tsv_cpu_seconds(run: Path, rule: str) -> list[float]:
    """``cpu_time`` (s) of each job of ``rule`` in a run's benchmark TSVs."""
    return [float(pd.read_csv(p, sep="\t")["cpu_time"].iloc[0])
            for p in sorted((run / "benchmarks" / rule).glob("*.tsv"))]


def run_voxel_scale(run: Path | None, config: dict) -> float:
    """Voxels of a paper tomogram per voxel of a tomogram of ``run`` (1 without a run)."""
    if run is None or not (run / "config.yaml").is_file():
        return 1.0
    t_run = yaml.safe_load((run / "config.yaml").read_text())["tomograms"]
    t = config["tomograms"]
    return (t["size_xy_voxels"] ** 2 * t["size_z_voxels"]
            / (t_run["size_xy_voxels"] ** 2 * t_run["size_z_voxels"]))


def measure_tm_rotation(config: dict, rotations: int) -> tuple[float, tuple[int, int, int]]:
    """CPU seconds per rotation of one class's search over a full-size tomogram."""
    t = config["tomograms"]
    factor = float(config["template_matching"]["search_voxel_size_nm"]) / t["voxel_size_nm"]
    shape = tuple(int(round(n / factor)) for n in (t["size_z_voxels"], t["size_xy_voxels"],
                                                   t["size_xy_voxels"]))
    # 5MRC's box at 2 nm is 27; the cost is the volume's FFTs, nearly box-independent
    box = min(27, (min(shape) - 1) // 2 * 2 + 1)
    rng = np.random.default_rng(1)
    volume = rng.standard_normal(shape, dtype=np.float32)
    template = rng.standard_normal((box,) * 3, dtype=np.float32)
    engine = LocalCorrelation(volume, spherical_mask(box, box // 2 - 3.0), xp=np, workers=1)
    del volume
    wedge = missing_wedge((box,) * 3, tuple(config["tilt_series"]["tilt_range_deg"]))
    rotation_set = uniform_rotations(float(config["template_matching"]["angular_step_deg"]))
    engine.search([template], rotation_set[:1], wedge=wedge)  # plans, caches
    seconds = _median(lambda: engine.search([template], rotation_set[:rotations], wedge=wedge),
                      1)
    return seconds / rotations, shape


def _measured_patch(kind, params: dict) -> tuple[int, int, int]:
    patch = patch_shape_of(params["patch_voxels"])
    if math.prod(patch) <= MAX_MEASURED_VOXELS:
        return patch
    alignment = kind.alignment(params)
    edge = max(alignment, int(MAX_MEASURED_VOXELS ** (1 / 3)) // alignment * alignment)
    return (edge,) * 3


def measure_training_step(kind_name: str, training: dict, steps: int) -> dict:
    """CPU seconds per training sample (batch 1) at the paper patch: fp32 and bf16 autocast."""
    kind = KINDS[kind_name]
    params = kind.training_params(training)
    patch = _measured_patch(kind, params)
    scale = math.prod(patch_shape_of(params["patch_voxels"])) / math.prod(patch)
    result = {"patch": patch, "voxel_scale": scale}
    paths = [("fp32", False)] + ([("bf16", True)] if cpu_bf16_supported() else [])
    setups = {}
    for name, bf16 in paths:
        network = build_network(kind, params, N_CLASSES, seed=0).to(memory_format=CHANNELS_LAST)
        setups[name] = (network, torch.optim.Adam(network.parameters(), lr=1e-4), bf16)
    batch = _noise_batch((1, 1, *patch), N_CLASSES, channels_last=True)
    times: dict[str, list[float]] = {name: [] for name in setups}
    for step in range(steps + 1):
        for name, (network, optimizer, bf16) in setups.items():  # interleaved
            start = time.process_time()
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
                outputs = network(batch["input"])
            loss, _ = kind.loss(outputs, batch, params)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step:
                times[name].append(time.process_time() - start)
    for name, values in times.items():
        result[name] = statistics.median(values) * scale
    return result


def measure_inference(kind_name: str, training: dict, inference: dict, shape: tuple
                      ) -> tuple[float, str]:
    """Projected CPU seconds of the network over one full ``shape`` tomogram (random weights,
    post-processing not included)."""
    kind = KINDS[kind_name]
    params = kind.training_params(training)
    network = build_network(kind, params, N_CLASSES, seed=0)
    checkpoint = {"kind": kind_name, "training": params, "class_ids": list(range(N_CLASSES)),
                  "class_stats": {}, "state_dict": network.state_dict(), "seed": 0}
    infer = kind.inference_params(inference)
    patch = patch_shape_of(infer["patch_voxels"])
    alignment = kind.alignment(params)
    if kind.predict is None:
        overlap, margin = int(infer["overlap_voxels"]), int(infer["margin_voxels"])
        stride = [p - overlap for p in patch]
        crop = tuple(min(s, p + s_) for s, p, s_ in zip(shape, patch, stride, strict=True))
        count = {}
        for name, size in (("crop", crop), ("full", shape)):
            _, starts, _ = _geometry(size, patch, overlap, margin, alignment)
            count[name] = math.prod(len(s) for s in starts)
        scale, how = count["full"] / count["crop"], (
            f"{count['crop']} of {count['full']} windows of {list(patch)}")
    else:
        crop = tuple(min(s, 96) for s in shape)
        scale, how = math.prod(shape) / math.prod(crop), f"crop {list(crop)}, per voxel"
    volume = np.random.default_rng(0).normal(size=crop).astype(np.float32)
    start = time.process_time()
    predict_maps(checkpoint, volume, inference)
    return (time.process_time() - start) * scale, how


def schedule(jobs: dict[str, Job], cores: int) -> float:
    """Wall seconds of a greedy list schedule (ready jobs longest first) on ``cores`` cores."""
    remaining = {name: set(job.deps) for name, job in jobs.items()}
    dependants: dict[str, list[str]] = {name: [] for name in jobs}
    for name, job in jobs.items():
        for dep in job.deps:
            dependants[dep].append(name)
    ready = [(-jobs[n].wall_s, n) for n, deps in remaining.items() if not deps]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now, free = 0.0, cores
    while ready or running:
        waiting = []
        while ready:
            priority, name = heapq.heappop(ready)
            threads = min(jobs[name].threads, cores)
            if threads <= free:
                free -= threads
                heapq.heappush(running, (now + jobs[name].cpu_s / threads, name))
            else:
                waiting.append((priority, name))
        for item in waiting:
            heapq.heappush(ready, item)
        now, name = heapq.heappop(running)
        free += min(jobs[name].threads, cores)
        for child in dependants[name]:
            remaining[child].discard(name)
            if not remaining[child]:
                heapq.heappush(ready, (-jobs[child].wall_s, child))
    return now


def critical_path(jobs: dict[str, Job]) -> tuple[float, list[str]]:
    """Longest chain of wall seconds through the DAG (unlimited cores)."""
    finish: dict[str, tuple[float, list[str]]] = {}

    def visit(name: str) -> tuple[float, list[str]]:
        if name not in finish:
            before = max((visit(d) for d in jobs[name].deps), default=(0.0, []))
            finish[name] = (before[0] + jobs[name].wall_s, before[1] + [name])
        return finish[name]

    return max(visit(name) for name in jobs)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "shrec2021.yaml"))
    parser.add_argument("--run", default=None, help="a finished run (its benchmark TSVs)")
    parser.add_argument("--rotations", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--tilt-subset", type=int, default=3)
    parser.add_argument("--skip-simulation", action="store_true")
    parser.add_argument("--simulation-log", default=None,
                        help="saved output of simulation.py --size paper (instead of a rerun)")
    parser.add_argument("--kinds", nargs="*", default=None, help="methods to measure (names)")
    args = parser.parse_args()
    configure_threads(torch.device("cpu"), 1)
    config = yaml.safe_load(Path(args.config).read_text())
    run = Path(args.run) if args.run else None
    t = config["tomograms"]
    n_tomograms, n_test = int(t["count"]), len(t["test"])
    n_classes = len(config["structures"]["classes"])
    print(f"config {args.config}: {n_tomograms} tomograms {t['size_xy_voxels']}^2 x "
          f"{t['size_z_voxels']} at {t['voxel_size_nm']} nm; torch {torch.__version__}, one "
          f"thread per measurement, native bf16 {cpu_bf16_supported()}")
    print("MEASURED slices (CPU seconds, one thread):")
    jobs: dict[str, Job] = {}

    potentials = tsv_cpu_seconds(run, "compute_potential") if run else []
    gold = tsv_cpu_seconds(run, "compute_gold_potential") if run else []
    if potentials:
        print(f"  potentials: {len(potentials)} proteins, {sum(potentials):.0f} s, gold "
              f"{len(gold)} x {statistics.mean(gold) if gold else 0:.0f} s (benchmark TSVs of "
              f"{run}: same structures and simulation voxel size)")
    else:
        print("  potentials: not measured (no --run with benchmark TSVs); left out")
    for k, seconds in enumerate(potentials):
        jobs[f"potential_{k}"] = Job(f"potential_{k}", seconds)
    for k, seconds in enumerate(gold):
        jobs[f"gold_{k}"] = Job(f"gold_{k}", seconds)
    pot_names = list(jobs)

    have_sim = not args.skip_simulation
    sim_names = {i: [f"simulate_{i}"] if have_sim else [] for i in range(n_tomograms)}

    tm = config["template_matching"]
    per_rotation, shape = measure_tm_rotation(config, args.rotations)
    rotations = rotation_count(float(tm["angular_step_deg"])) * (2 if tm.get("mirror") else 1)
    chunks = int(tm.get("rotation_chunks", 1))
    print(f"  template matching: {per_rotation:.1f} s per rotation over {list(shape)} "
          f"(median of {args.rotations} rotations after a warm-up)")
    print("PROJECTED per job (x full counts):")
    tm_class_s = per_rotation * rotations
    print(f"  TM search: {rotations} rotations ({tm['angular_step_deg']} deg"
          f"{', mirrored' if tm.get('mirror') else ''}) x {n_classes} classes x {n_test} test "
          f"tomogram(s) in {chunks} chunks: projected {hours(tm_class_s)} per class, "
          f"{hours(tm_class_s * n_classes * n_test)} CPU in all")
    voxel_scale = run_voxel_scale(run, config)
    tm_picks = tsv_cpu_seconds(run, "pick_template_matching") if run else []
    tm_pick_s = statistics.median(tm_picks) * voxel_scale if tm_picks else 0.0
    print(f"  TM / TM-F picking: projected {tm_pick_s:.0f} s per tomogram "
          + (f"({run}'s benchmark TSVs x{voxel_scale:.0f} voxels)" if tm_picks
             else "(not measured: no --run; left out)"))
    test_ids = [int(i) for i in t["test"]]
    data_ids = [int(i) for i in t["training"] + t["validation"]]
    for i in test_ids:
        sim_dep = sim_names[i] or pot_names
        for c in range(n_classes):
            for k in range(chunks):
                jobs[f"tm_{i}_{c}_{k}"] = Job(f"tm_{i}_{c}_{k}", tm_class_s / chunks,
                                              deps=sim_dep)
        for method in ("TM", "TM-F"):
            jobs[f"pick_{method}_{i}"] = Job(
                f"pick_{method}_{i}", tm_pick_s,
                deps=[f"tm_{i}_{c}_{k}" for c in range(n_classes) for k in range(chunks)])

    print("  training (per method; batch x steps x measured CPU s per sample; validation "
          "forward passes at 1/3 of a step per patch):")
    learned = {name: m for name, m in config["methods"].items() if m.get("kind") in KINDS}
    training_total, training_bf16 = {}, {}
    for name, method in learned.items():
        if args.kinds and name not in args.kinds:
            continue
        training = dict(method.get("training") or {})
        kind = KINDS[method["kind"]]
        params = kind.training_params(training)
        step = measure_training_step(method["kind"], training, args.train_steps)
        steps, batch = int(params["steps"]), int(params["batch_size"])
        validations = steps // int(params["validation_interval"])
        samples = steps * batch + validations * int(params["validation_patches"]) / 3
        fp32_s, bf16_s = samples * step["fp32"], samples * step.get("bf16", float("nan"))
        inference_s, how = measure_inference(method["kind"], training,
                                             dict(method.get("inference") or {}), shape)
        training_total[name] = fp32_s
        training_bf16[name] = bf16_s
        paper = PAPER_TABLE7_H.get(name)
        scaled = (f" (measured on {list(step['patch'])}, x{step['voxel_scale']:.2f} per voxel)"
                  if step["voxel_scale"] != 1 else "")
        print(f"    {name:10s} {steps} steps x batch {batch} x "
              f"{list(patch_shape_of(params['patch_voxels']))}{scaled}: fp32 "
              f"{step['fp32']:.2f} s/sample, bf16 {step.get('bf16', float('nan')):.2f} "
              f"s/sample (x{step['fp32'] / step.get('bf16', float('nan')):.2f}); projected "
              f"training {hours(fp32_s)} fp32, {hours(bf16_s)} bf16 on one core"
              f"{f'; paper Table 7: {paper:g} h on a GPU' if paper else ''}; inference of "
              f"one tomogram projected {inference_s / 60:.0f} min ({how}, network only)",
              flush=True)
        jobs[f"train_{name}"] = Job(f"train_{name}", fp32_s,
                                    deps=[n for i in data_ids for n in sim_names[i]]
                                    or pot_names)
        for i in test_ids:
            sim_dep = sim_names[i]
            jobs[f"pick_{name}_{i}"] = Job(f"pick_{name}_{i}", inference_s,
                                           deps=[f"train_{name}"] + sim_dep)

    # measured last: its --simulation-log may be written while the slices above run
    if have_sim:
        sim_s, how = measure_simulation(
            args.tilt_subset, str(run / "potentials") if run and (run / "potentials").is_dir()
            else None, args.simulation_log)
    else:
        sim_s, how = float("nan"), "skipped"
    print(f"  simulation of one tomogram (MEASURED slice, extrapolated to all tilts): "
          f"{sim_s:.0f} s CPU ({how}; scene + tilts + WBP); x{n_tomograms} tomograms: "
          f"projected {hours(sim_s * n_tomograms) if have_sim else 'n/a'} CPU")
    for i in range(n_tomograms):
        if have_sim:
            jobs[f"simulate_{i}"] = Job(f"simulate_{i}", sim_s, threads=2, deps=pot_names)

    evaluation = tsv_cpu_seconds(run, "evaluate_picks") if run else []
    eval_s = statistics.median(evaluation) if evaluation else 0.0
    print(f"  evaluation: {eval_s:.0f} s per picks file "
          + (f"({run}'s benchmark TSVs)" if evaluation else "(no --run; left out)"))
    picks = [name for name in jobs if name.startswith("pick_")]
    for name in picks:
        jobs[f"evaluate_{name[5:]}"] = Job(f"evaluate_{name[5:]}", eval_s, deps=[name])

    total = sum(job.cpu_s for job in jobs.values())
    length, path = critical_path(jobs)
    print(f"PROJECTED total CPU time: {hours(total)} ({len(jobs)} jobs; training "
          f"{hours(sum(training_total.values()))}, template matching "
          f"{hours(tm_class_s * n_classes * n_test)}, simulation "
          f"{hours(sim_s * n_tomograms) if sim_s == sim_s else 'n/a'})")
    print(f"PROJECTED critical path (unlimited cores, one thread per training job): "
          f"{hours(length)}: {' -> '.join(path)}")
    for label, cores in (("(a) this machine, 2 cores", 2), ("(b) one 32-core node", 32),
                         ("(c) SLURM, 10 x 32-core nodes", 320)):
        print(f"PROJECTED wall {label}: {hours(schedule(jobs, cores))}")
    variants = {
        "bf16 autocast training": {f"train_{n}": Job(f"train_{n}", s_, deps=jobs[f"train_{n}"].deps)
                                   for n, s_ in training_bf16.items() if s_ == s_},
        "each training on 32 threads at ideal scaling (ASSUMED, not measured)": {
            f"train_{n}": Job(f"train_{n}", jobs[f"train_{n}"].cpu_s, threads=32,
                              deps=jobs[f"train_{n}"].deps) for n in training_total},
    }
    for label, replaced in variants.items():
        varied = {**jobs, **replaced}
        print(f"PROJECTED with {label}: critical path {hours(critical_path(varied)[0])}; wall "
              f"32-core node {hours(schedule(varied, 32))}, 10 nodes "
              f"{hours(schedule(varied, 320))}")
    print("(d) one GPU: not measured (no GPU in this session)")
    night = schedule(jobs, 32) <= 12 * 3600
    longest = max(training_total, key=training_total.get) if training_total else "n/a"
    print(f"Fits one night (<= 12 h) on one 32-core node: {'yes' if night else 'NO'}; "
          f"dominated by training ({longest}: {hours(training_total.get(longest, 0))} on one "
          f"core, projected) - paper Table 7: URFinder 300 h, DeepFinder 50 h, U-CLSTM 120 h, "
          f"CFN 4 days on GPUs; TM {PAPER_TM_H:.1f} h on a GTX 1080 Ti vs projected "
          f"{hours(tm_class_s * n_classes * n_test)} CPU here")


if __name__ == "__main__":
    main()
