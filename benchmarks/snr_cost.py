"""Benchmark: what beam damage and the SNR measurement cost for one tomogram of a run.

Reads a kept unbinned grand model (``results/<name>/work/model_<i>/grandmodel_unbinned.mrc``:
run the workflow with ``--notemp``) and the run's config, and prints the CPU time (one thread,
``time.process_time``, so a loaded machine changes little) of:

- the tilt series with each ``tilt_series.beam_damage.variant``, without and with the
  noise-free series the SNR measurement needs (the difference is that measurement's share of
  ``simulate_tilt_series``);
- the WBP of the tilt series (rule ``reconstruct``) and the noise reconstruction plus the
  variances (rule ``measure_snr``);

and the measured SNR (whole tomogram) of every variant at the tomogram's drawn SNR.

    PYTHONPATH=src .venv/bin/python benchmarks/snr_cost.py --config config/config.yaml --model 4
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import yaml

from tomobench.config import microscope as microscope_of
from tomobench.config import scene_geometry, tilt_series_settings
from tomobench.mrc import MrcVolume, read_mrc
from tomobench.reconstruction.snr import noise_reconstruction, snr_by_region
from tomobench.reconstruction.wbp import ReconstructionGeometry, weighted_backprojection
from tomobench.simulation.tilt_series import draw_acquisition, simulate_tilt_series


class CpuTimer:
    """``with CpuTimer() as t:`` … ``t.seconds``: CPU time of the block (this process)."""

    def __enter__(self):
        self.start = time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.process_time() - self.start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--model", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None, help="default: the config's")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    run = Path("results") / config["name"]
    model = MrcVolume(run / "work" / f"model_{args.model}" / "grandmodel_unbinned.mrc")
    occupancy, _ = read_mrc(run / "data" / f"model_{args.model}" / "occupancy_mask.mrc")
    seed = config["seed"] if args.seed is None else args.seed
    geometry = scene_geometry(config)
    recon = ReconstructionGeometry(geometry.final_shape, geometry.binning, geometry.z_offset,
                                   geometry.simulation_shape[0])
    settings = tilt_series_settings(config)
    microscope = microscope_of(config["microscope"])
    ice = slice(geometry.z_offset, geometry.z_offset + geometry.ice_voxels)
    voxel = model.voxel_size_nm
    print(f"model_{args.model} of {args.config}: simulation grid {model.shape}, "
          f"{settings.tilt_count} tilts, one thread, CPU seconds")
    for variant in ("none", "intensity_2d", "grand_model_3d"):
        variant_settings = dataclasses.replace(settings, beam_damage=variant)
        acquisition = draw_acquisition(variant_settings, voxel, seed, args.model)
        with CpuTimer() as plain:
            simulate_tilt_series(model, voxel, acquisition, variant_settings, microscope)
        with CpuTimer() as both:
            projections, noise_free = simulate_tilt_series(
                model, voxel, acquisition, variant_settings, microscope, with_noise_free=True)
        shifts = [[v / voxel for v in shift] for shift in acquisition.shifts_nm]
        with CpuTimer() as wbp:
            volume = weighted_backprojection(projections, acquisition.tilt_angles_deg, shifts,
                                             recon)
        with CpuTimer() as measure:
            noise = noise_reconstruction(projections, noise_free, acquisition.tilt_angles_deg,
                                         shifts, recon)
            regions = snr_by_region(volume, noise, ice_planes=ice, occupancy=occupancy)
        drawn = acquisition.beam_damage_snr
        print(f"{variant:15s} drawn SNR {drawn if drawn is None else round(drawn, 3)}: tilt "
              f"series {plain.seconds:6.1f} s, with the noise-free series {both.seconds:6.1f} s "
              f"(+{both.seconds - plain.seconds:5.1f} s); reconstruct {wbp.seconds:5.1f} s; "
              f"measure_snr {measure.seconds:5.1f} s; measured SNR whole "
              f"{regions['whole_tomogram']['snr']:.3f}, ice slab {regions['ice_slab']['snr']:.3f}"
              f", particle voxels {regions['particle_voxels']['snr']:.3f}", flush=True)

if __name__ == "__main__":
    main()
