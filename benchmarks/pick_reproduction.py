"""``tomobench pick`` against the workflow: byte identity, and the picks of a resampled tomogram.

For one method of a finished run and one of its tomograms, prints

1. whether ``tomobench pick`` on ``data/<tomogram>/reconstruction.mrc`` writes the workflow's
   ``picks/<method>/<tomogram>.txt`` byte for byte, and its wall time;
2. the localisation F1 (``tomobench evaluate``, corrected mode) of the workflow's picks and of
   the picks on the same tomogram Fourier-resampled to ``--voxel-size-nm`` (default 1.5 nm),
   mapped back to the original voxels (exact grid ratio per axis), and their difference.

Nothing is written into the run. Run:
``.venv/bin/python benchmarks/pick_reproduction.py --run results/default --method DeepFinder
--tomogram model_4 [--threads 2]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import mrcfile

from tomobench.cli import main
from tomobench.methods.apply import fourier_resample
from tomobench.mrc import write_mrc
from tomobench.particles import read_picks, write_picks


def localisation_f1(truth: Path, picks: Path, out: Path) -> float:
    if main(["evaluate", "--truth", str(truth), "--picks", str(picks), "--out", str(out),
             "--bootstrap-resamples", "0", "--no-plots"]):
        raise SystemExit(f"evaluate failed on {picks}")
    return json.loads((out / f"{picks.stem}.json").read_text())["localization"]["F1"]


def pick(arguments: list[str]) -> float:
    start = time.perf_counter()
    if main(["pick", *arguments]):
        raise SystemExit(f"tomobench pick {' '.join(arguments)} failed")
    return time.perf_counter() - start


def run(args) -> None:
    folder = args.run / "data" / args.tomogram
    reference = args.run / "picks" / args.method / f"{args.tomogram}.txt"
    picker = (["--checkpoint", str(args.run / "models" / args.method / "checkpoint.pt")]
              if (args.run / "models" / args.method).is_dir()
              else ["--run", str(args.run), "--method", args.method])
    common = ["--device", args.device, "--threads", str(args.threads)]
    with tempfile.TemporaryDirectory(prefix="pick-reproduction-") as work:
        work = Path(work)
        same = work / "same" / f"{args.tomogram}.txt"
        seconds = pick([*picker, "--tomogram", str(folder / "reconstruction.mrc"),
                        "--out", str(same), *common])
        identical = same.read_bytes() == reference.read_bytes()
        print(f"{args.method} {args.tomogram}: byte-identical to {reference}: {identical} "
              f"({len(read_picks(same))} picks, {seconds:.0f} s)")

        volume, voxel_nm = mrcfile.read(folder / "reconstruction.mrc"), None
        with mrcfile.open(folder / "reconstruction.mrc", header_only=True) as handle:
            voxel_nm = float(handle.voxel_size.x) / 10.0
        shape = tuple(round(n * voxel_nm / args.voxel_size_nm) for n in volume.shape)
        coarse = work / "coarse.mrc"
        write_mrc(coarse, fourier_resample(volume, shape, workers=args.threads),
                  args.voxel_size_nm)
        coarse_picks = work / "coarse_picks.txt"
        acquisition = folder / "acquisition_parameters.json"  # TM's template CTF and wedge
        seconds = pick([*picker, "--tomogram", str(coarse), "--out", str(coarse_picks),
                        "--acquisition", str(acquisition), *common])
        picks = read_picks(coarse_picks)
        for axis, n, m in zip("zyx", volume.shape, shape, strict=True):
            picks[axis] = picks[axis] * n / m
        mapped = work / "mapped" / "resampled.txt"
        write_picks(mapped, picks)
        original = localisation_f1(folder, reference, work / "eval_original")
        resampled = localisation_f1(folder, mapped, work / "eval_resampled")
        print(f"{args.method} {args.tomogram}: localisation F1 workflow {original:.4f}, "
              f"{shape} at {args.voxel_size_nm:g} nm mapped back {resampled:.4f} "
              f"(difference {resampled - original:+.4f}; {len(picks)} picks, {seconds:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--tomogram", default="model_4")
    parser.add_argument("--voxel-size-nm", type=float, default=1.5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    run(parser.parse_args())
