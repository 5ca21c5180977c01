"""Throughput of the learning pickers at their default (CPU) sizes, and on a GPU when present.

Prints, per kind: training throughput (voxels/s, median of timed optimiser steps at the
default patch/batch size) and the time of sliding-window inference + post-processing for a
512x512x200 tomogram (or a smaller one, extrapolated per voxel, when ``--size`` is given).

Usage: ``.venv/bin/python benchmarks/learning.py [--threads 2] [--size Z Y X] [--steps 5]``
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
    parser.add_argument("--kinds", nargs="*", default=["deepfinder", "mc_ds_net"])
    args = parser.parse_args()
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
