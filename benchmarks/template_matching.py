"""Template-matching throughput: time per rotation of the FLCF search beside the FFT floor.

For each search volume the script prints the median time per rotation of
``LocalCorrelation.search`` (rotation + wedge + mask normalisation of the template, pruned
forward FFT, spectrum product, inverse FFT, running max, score statistics) and the median time
of the FFTs a per-rotation FLCF cannot avoid — one full ``rfftn`` and one ``irfftn`` of the
search volume — and their ratio (goal ≤ 1.3). The forward transform of the zero-padded kernel is
pruned (rows that are all zeros are not transformed), so the ratio can drop below 1.

It also prints what the default configuration's TM costs: the search of every default class
(box sizes from the SHREC potentials' enclosing radii) at the default angular step on the
default search grid, from measured per-rotation times, plus the measured extraction time.

Usage::

    .venv/bin/python benchmarks/template_matching.py [--threads 2] [--large] [--device cpu|cuda]

``--large`` adds the paper's 512×512×200 volume (about 2 GB of memory on the CPU).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from tomobench.backend import array_module
from tomobench.fourier import missing_wedge
from tomobench.methods.template_matching.angles import rotation_count, uniform_rotations
from tomobench.methods.template_matching.correlation import (
    LocalCorrelation,
    _fft_module,
    keep_freed_memory_in_heap,
)
from tomobench.methods.template_matching.extraction import ClassSearch
from tomobench.methods.template_matching.pipeline import extract_picks
from tomobench.methods.template_matching.templates import spherical_mask

#: Template boxes (search voxels at 2 nm) of the twelve default classes, as ``make_template``
#: builds them from the potentials of tomobench.structures (0.5 nm, default options).
DEFAULT_CLASS_BOXES_2NM = {
    "1S3X": 11, "3QM1": 13, "3GL1": 13, "3H84": 15, "2CG9": 15, "3D2F": 15, "1U6G": 17,
    "3CF3": 17, "1BXN": 15, "1QVR": 21, "4CR2": 25, "5MRC": 27,
}


def _median_seconds(function, repeats: int, sync, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        sync()
        times.append(clock() - start)
    return float(np.median(times))


def _sync_for(xp):
    if xp is np:
        return lambda: None
    return lambda: xp.cuda.Device().synchronize()


def _fft_floor_function(shape, xp, threads: int):
    """A function doing one rfftn + one irfftn of a float32 volume of ``shape``."""
    fft = _fft_module(xp)
    volume = xp.asarray(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
    options = {"workers": threads} if xp is np else {}

    def both():
        spectrum = fft.rfftn(volume, **options)
        fft.irfftn(spectrum, s=shape, overwrite_x=True, **options)

    return both


def _search_function(shape, box: int, xp, threads: int, rotations: int, wedge: bool = True):
    """A function searching ``rotations`` rotations of a random template in a random volume."""
    rng = np.random.default_rng(1)
    volume = rng.standard_normal(shape, dtype=np.float32)
    template = rng.standard_normal((box,) * 3, dtype=np.float32)
    mask = spherical_mask(box, box // 2 - 3.0)
    engine = LocalCorrelation(volume, mask, xp=xp, workers=threads)
    rotation_set = uniform_rotations(30.0)[:rotations]
    weight = missing_wedge((box,) * 3, (-60.0, 60.0)) if wedge else None
    engine.search([template], rotation_set[:2], wedge=weight)  # warm-up (plans, caches)
    return lambda: engine.search([template], rotation_set, wedge=weight)


def interleaved_seconds(shape, box, xp, threads, rotations, repeats):
    """Median wall and CPU seconds per rotation and of the FFT floor, measured alternately so
    that load from other processes affects both alike.

    Returns ``((search_wall, floor_wall), (search_cpu, floor_cpu))``; CPU time (all threads of
    this process) is robust to the process being descheduled on a shared machine.
    """
    floor_function = _fft_floor_function(shape, xp, threads)
    search_function = _search_function(shape, box, xp, threads, rotations)
    sync = _sync_for(xp)
    floor_function()
    samples = {"floor": [], "search": [], "floor_cpu": [], "search_cpu": []}
    for _ in range(repeats):
        for name, function, count in (("floor", floor_function, 1),
                                      ("search", search_function, rotations)):
            samples[name].append(_median_seconds(function, 1, sync) / count)
            samples[name + "_cpu"].append(
                _median_seconds(function, 1, sync, clock=time.process_time) / count)
    median = {name: float(np.median(values)) for name, values in samples.items()}
    return (median["search"], median["floor"]), (median["search_cpu"], median["floor_cpu"])


def default_run_cost(xp, threads: int) -> None:
    """Estimated search cost of the default config and measured extraction time."""
    shape = (48, 96, 96)  # 96×192×192 tomogram at 1 nm, searched at 2 nm
    step = 20.0
    count = rotation_count(step)
    total = 0.0
    for box in sorted(set(DEFAULT_CLASS_BOXES_2NM.values())):
        search = _search_function(shape, box, xp, threads, rotations=24)
        per_rotation = _median_seconds(search, 3, _sync_for(xp)) / 24
        classes = [c for c, b in DEFAULT_CLASS_BOXES_2NM.items() if b == box]
        total += per_rotation * count * len(classes)
        print(f"  box {box:2d}³: {1e3 * per_rotation:6.2f} ms/rotation × {count} rotations "
              f"× {len(classes)} class(es) {', '.join(classes)}")
    print(f"  search, 12 classes, {step:g}° ({count} rotations), 2 nm grid {shape}: "
          f"{total:.0f} s on one worker ({total / 2:.0f} s with two classes side by side)")
    rng = np.random.default_rng(2)
    searches = [
        ClassSearch(name, rng.standard_normal(shape).astype(np.float32) * 0.05,
                    rng.integers(0, count, shape).astype(np.int32), 0.0, 0.05,
                    int(np.prod(shape)) * count, 2, 4.0 + 0.3 * k, 6.0 + 0.3 * k, 2.0)
        for k, name in enumerate(DEFAULT_CLASS_BOXES_2NM)
    ]
    tomogram = rng.standard_normal((96, 192, 192)).astype(np.float32)
    for kind in ("tm", "tm_f"):
        start = time.perf_counter()
        picks, _ = extract_picks(searches, tomogram, kind, {"top_n": 50})
        print(f"  extraction {kind}: {time.perf_counter() - start:.1f} s ({len(picks)} picks "
              f"from noise maps, LoG fiducials included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--large", action="store_true", help="also 512×512×200 (paper size)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator alone (match_templates tunes it)")
    args = parser.parse_args()
    if not args.default_malloc:
        print(f"freed memory kept in the heap: {keep_freed_memory_in_heap()}")
    xp = array_module(args.device)
    print(f"backend {xp.__name__}, {args.threads} FFT worker(s)")
    shapes = [(128, 128, 128), (256, 256, 256)] + ([(200, 512, 512)] if args.large else [])
    box = 21
    print(f"template box {box}³, missing wedge on; wall-clock and CPU-time (all threads) medians")
    print(f"{'volume (z,y,x)':>18} {'ms/rotation':>12} {'FFT floor ms':>13} {'ratio':>6}"
          f" {'CPU ms/rot':>11} {'CPU floor ms':>13} {'CPU ratio':>9}")
    for shape in shapes:
        voxels = math.prod(shape)
        small = voxels <= 128**3
        if xp is np:
            rotations, repeats = (16, 7) if small else ((8, 5) if voxels <= 256**3 else (3, 3))
        else:
            rotations, repeats = 64, 5
        (wall, wall_floor), (cpu, cpu_floor) = interleaved_seconds(
            shape, box, xp, args.threads, rotations, repeats)
        print(f"{str(shape):>18} {1e3 * wall:12.2f} {1e3 * wall_floor:13.2f} "
              f"{wall / wall_floor:6.2f} {1e3 * cpu:11.2f} {1e3 * cpu_floor:13.2f} "
              f"{cpu / cpu_floor:9.2f}")
    if not args.skip_default:
        print("default configuration (tomobench config/config.yaml):")
        default_run_cost(xp, 1 if xp is np else args.threads)


if __name__ == "__main__":
    main()
