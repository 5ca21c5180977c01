"""Throughput of the learning pickers at their default (CPU) sizes, and on a GPU when present.

Prints, per kind: training throughput (voxels/s, median of timed optimiser steps at the
default patch/batch size) and the time of sliding-window inference + post-processing for a
512x512x200 tomogram (or a smaller one, extrapolated per voxel, when ``--size`` is given).

Usage: ``.venv/bin/python benchmarks/learning.py [--threads 2] [--size Z Y X] [--steps 5]``

``--precision`` compares CPU training paths instead: per kind of ``--config`` (its
training recipe: network, batch and patch size), fp32 / fp32 channels-last / bf16 autocast
(channels-last and not) optimiser steps, interleaved round-robin so that machine noise hits
every path alike; prints median CPU ms per step (one thread), steps/s, Mvox/s and the ratios
to fp32 and to fp32 channels-last (the training loop's fp32 path):
``.venv/bin/python benchmarks/learning.py --precision --threads 1 --steps 7 [--kinds ...]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from tomobench.methods.learning import KINDS
from tomobench.methods.learning.data import ClassTable, patch_shape_of
from tomobench.methods.learning.postprocess import to_picks
from tomobench.methods.learning.training import (
    CHANNELS_LAST,
    build_network,
    configure_threads,
    cpu_bf16_supported,
    predict_maps,
)

N_CLASSES = 15  # background + 12 proteins + vesicle + fiducial (the default benchmark)


def training_throughput(kind_name: str, device: torch.device, steps: int) -> float:
    """Median voxels/s of full optimiser steps (forward, loss, backward, Adam) on noise."""
    kind = KINDS[kind_name]
    params = kind.training_params({})
    network = build_network(kind, params, N_CLASSES, seed=0).to(device,
                                                                  memory_format=CHANNELS_LAST)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    shape = (int(params["batch_size"]), 1, *patch_shape_of(params["patch_voxels"]))
    generator = torch.Generator().manual_seed(0)
    batch = {
        "input": torch.randn(shape, generator=generator).to(device),
        "segmentation": torch.randint(0, N_CLASSES, (shape[0], *shape[2:]),
                                      generator=generator).to(device),
        "denoised": torch.randn(shape, generator=generator).to(device),
        "fiducial": (torch.rand(shape, generator=generator) < 0.01).float().to(device),
        "heatmap": torch.rand((shape[0], N_CLASSES - 1, *shape[2:]),
                              generator=generator).to(device),
    }
    batch = {k: v.contiguous(memory_format=CHANNELS_LAST) if v.dim() == 5 else v
             for k, v in batch.items()}
    autocast = device.type == "cuda"
    times = []
    for step in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            outputs = network(batch["input"])
        loss, _ = kind.loss(outputs, batch, params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:  # the first step allocates and picks kernels
            times.append(time.perf_counter() - start)
    return int(np.prod(shape)) / statistics.median(times)


#: CPU training paths compared by ``--precision``: (name, autocast bf16, channels-last 3D).
PATHS = (("fp32", False, False), ("fp32-cl", False, True), ("bf16", True, False),
         ("bf16-cl", True, True))


def config_recipes(config_path: str) -> dict[str, dict]:
    """``{kind: training keys}`` of the learned methods of a config file."""
    import yaml

    with open(config_path) as handle:
        methods = yaml.safe_load(handle)["methods"]
    return {m["kind"]: dict(m.get("training") or {}) for m in methods.values()
            if m.get("kind") in KINDS}


def _noise_batch(shape: tuple[int, ...], n_classes: int, channels_last: bool) -> dict:
    generator = torch.Generator().manual_seed(0)
    batch = {
        "input": torch.randn(shape, generator=generator),
        "segmentation": torch.randint(0, n_classes, (shape[0], *shape[2:]), generator=generator),
        "denoised": torch.randn(shape, generator=generator),
        "fiducial": (torch.rand(shape, generator=generator) < 0.01).float(),
        "heatmap": torch.rand((shape[0], n_classes - 1, *shape[2:]), generator=generator),
        # YOPO / CFN: centre markers (class channel at a particle centre, 0 elsewhere)
        "centres": torch.zeros((shape[0], *shape[2:]), dtype=torch.long),
    }
    batch["centres"][:, shape[2] // 2, shape[3] // 2, shape[4] // 2] = torch.randint(
        1, n_classes, (shape[0],), generator=generator)
    fmt = CHANNELS_LAST if channels_last else torch.contiguous_format
    return {k: v.contiguous(memory_format=fmt) if v.dim() == 5 else v for k, v in batch.items()}


def precision_comparison(kind_name: str, training: dict, steps: int) -> list[str]:
    """Median ms per optimiser step of each of ``PATHS`` (interleaved), as printed lines."""
    kind = KINDS[kind_name]
    params = kind.training_params(training)
    patch = patch_shape_of(params["patch_voxels"])
    shape = (int(params["batch_size"]), 1, *patch)
    setups = {}
    for name, bf16, channels_last in PATHS:
        network = build_network(kind, params, N_CLASSES, seed=0)
        if channels_last:
            network = network.to(memory_format=CHANNELS_LAST)
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
        setups[name] = (network, optimizer, _noise_batch(shape, N_CLASSES, channels_last), bf16)
    times: dict[str, list[float]] = {name: [] for name in setups}
    for step in range(steps + 1):
        for name, (network, optimizer, batch, bf16) in setups.items():
            # CPU time of this (one-threaded) process: robust to other processes' load
            start = time.process_time()
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
                outputs = network(batch["input"])
            loss, _ = kind.loss(outputs, batch, params)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step:  # the first step allocates and picks kernels
                times[name].append(time.process_time() - start)
    voxels = int(np.prod(shape))
    reference = statistics.median(times["fp32"])
    current = statistics.median(times["fp32-cl"])  # the training loop's fp32 path
    lines = []
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"{kind_name:11s} {name:8s} batch {shape[0]} x {list(patch)} "
                     f"(binning {params['input_binning']}): {median * 1e3:7.1f} ms/step "
                     f"{1 / median:6.2f} steps/s {voxels / median / 1e6:6.3f} Mvox/s "
                     f"x{reference / median:.2f} vs fp32, x{current / median:.2f} vs fp32-cl "
                     f"(median CPU time of {len(values)})")
    return lines


def inference_time(kind_name: str, device: torch.device, size: tuple[int, int, int]
                   ) -> tuple[float, float, int]:
    """Seconds for maps and for post-processing of a noise tomogram (random weights)."""
    kind = KINDS[kind_name]
    params = kind.training_params({})
    network = build_network(kind, params, N_CLASSES, seed=0)
    checkpoint = {
        "kind": kind_name, "training": params, "class_ids": list(range(N_CLASSES)),
        "class_stats": {}, "state_dict": network.state_dict(),
    }
    volume = np.random.default_rng(0).normal(size=size).astype(np.float32)
    start = time.perf_counter()
    maps = predict_maps(checkpoint, volume, {}, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    network_s = time.perf_counter() - start
    start = time.perf_counter()
    # Random weights give a meaningless label map; post-process a realistic one instead:
    # ~2 % of the voxels in ~radius-4 blobs, as in a segmented default tomogram.
    maps["segmentation_label"] = _blob_labels(size)
    frame = kind.postprocess(maps, ClassTable(tuple(range(N_CLASSES))), {},
                             kind.inference_params({}))
    post_s = time.perf_counter() - start
    return network_s, post_s, len(to_picks(frame))


def _blob_labels(size: tuple[int, int, int]) -> np.ndarray:
    generator = np.random.default_rng(1)
    labels = np.zeros(size, np.uint8)
    count = int(np.prod(size) * 0.02 / 268)  # 268 voxels in a radius-4 ball
    grid = np.indices((9, 9, 9)) - 4
    ball = (grid ** 2).sum(0) <= 16
    for _ in range(count):
        z, y, x = (int(generator.integers(4, s - 5)) for s in size)
        labels[z - 4:z + 5, y - 4:y + 5, x - 4:x + 5][ball] = generator.integers(1, 13)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, nargs=3, default=(200, 512, 512),
                        metavar=("Z", "Y", "X"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--kinds", nargs="*", default=None,
                        help="default: deepfinder mc_ds_net (all of --config's with --precision)")
    parser.add_argument("--precision", action="store_true",
                        help="compare fp32 / bf16 / channels-last CPU training steps")
    parser.add_argument("--config", default="config/config.yaml")
    args = parser.parse_args()
    if args.precision:
        configure_threads(torch.device("cpu"), args.threads)
        recipes = config_recipes(args.config)
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU "
              f"{torch.backends.cpu.get_cpu_capability()}, native bf16 {cpu_bf16_supported()}")
        for kind in args.kinds or list(recipes):
            for line in precision_comparison(kind, recipes.get(kind, {}), args.steps):
                print(line, flush=True)
        return
    args.kinds = args.kinds or ["deepfinder", "mc_ds_net"]
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    full = 200 * 512 * 512
    scale = full / float(np.prod(args.size))
    for device in devices:
        configure_threads(torch.device("cpu"), args.threads)
        for kind in args.kinds:
            rate = training_throughput(kind, device, args.steps)
            network_s, post_s, picks = inference_time(kind, device, tuple(args.size))
            note = "" if scale == 1 else f" (measured on {args.size}, x{scale:.2f} per voxel)"
            print(f"{kind:11s} {device.type:4s} threads={args.threads}: training "
                  f"{rate / 1e6:.3f} Mvoxel/s; inference 512x512x200: network "
                  f"{network_s * scale:.1f} s + post-processing {post_s * scale:.1f} s "
                  f"= {(network_s + post_s) * scale:.1f} s{note}; {picks} picks")


if __name__ == "__main__":
    main()
