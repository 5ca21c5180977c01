"""``tomobench pick``: Fourier resampling, the picking grid, refusals of bad input, and (slow)
reproduction of the workflow's picks on the tiny run, at its voxel size and resampled."""

from __future__ import annotations

import shutil
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import torch

from tests import synthetic as syn
from tomobench.classes import CLASS_ID
from tomobench.cli import main
from tomobench.fourier import fourier_bin
from tomobench.methods.apply import (
    Grid,
    fourier_resample,
    from_grid,
    parse_overrides,
    picking_grid,
)
from tomobench.methods.learning import load_tomogram, save_checkpoint, train
from tomobench.mrc import write_mrc

# --- resampling -----------------------------------------------------------------------------


def _band_limited(shape, keep_fraction, seed=0):
    """Random real volume whose spectrum is zero beyond ``keep_fraction`` of Nyquist."""
    volume = np.random.default_rng(seed).normal(size=shape)
    spectrum = np.fft.rfftn(volume)
    k = np.meshgrid(*[np.abs(np.fft.fftfreq(n)) for n in shape[:-1]],
                    np.fft.rfftfreq(shape[-1]), indexing="ij")
    spectrum[np.maximum.reduce(k) > 0.5 * keep_fraction] = 0
    return np.fft.irfftn(spectrum, s=shape, axes=(0, 1, 2)).astype(np.float32)


def test_fourier_resample_equals_fourier_binning_at_integer_factors():
    volume = np.random.default_rng(1).normal(size=(24, 36, 30)).astype(np.float32)
    for factor in (2, 3):
        shape = tuple(n // factor for n in volume.shape)
        np.testing.assert_allclose(fourier_resample(volume, shape),
                                   fourier_bin(volume, factor), atol=2e-6)


def test_fourier_resample_interpolates_a_band_limited_cosine_exactly():
    """cos(2π f x / L) sampled on n points, resampled to m: the same cosine at x = j n / m."""
    n, m, cycles = 40, 60, 7
    x = np.arange(n)
    signal = np.cos(2 * np.pi * cycles * x / n + 0.3)
    volume = np.broadcast_to(signal, (4, 6, n)).astype(np.float32)
    up = fourier_resample(volume, (4, 6, m))
    expected = np.cos(2 * np.pi * cycles * (np.arange(m) * n / m) / n + 0.3)
    np.testing.assert_allclose(up[2, 3], expected, atol=1e-5)
    np.testing.assert_allclose(fourier_resample(volume * 0 + 2.5, (3, 9, 27)), 2.5, atol=1e-5)


def test_fourier_resample_round_trip_of_a_band_limited_volume():
    volume = _band_limited((20, 32, 34), keep_fraction=0.6)
    down = fourier_resample(volume, (15, 24, 25))  # 4/3 coarser, still above the band limit
    back = fourier_resample(down, volume.shape)
    np.testing.assert_allclose(back, volume, atol=1e-4 * float(np.abs(volume).max()))


def test_picking_grid_and_mapping_back():
    same = picking_grid((40, 64, 64), 1.0, 1.0, multiple=2)
    assert same == Grid((40, 64, 64), (1.0, 1.0, 1.0), 1.0) and not same.resampled
    grid = picking_grid((27, 43, 43), 1.5, 1.0, multiple=2)
    assert grid.shape == (40, 64, 64) and grid.resampled
    assert grid.scale == (27 / 40, 43 / 64, 43 / 64)
    import pandas as pd

    picks = pd.DataFrame({"class_name": ["1BXN"], "x": [32.0], "y": [16.0], "z": [20.0],
                          "score": [1.0]})
    back = from_grid(picks, grid)
    assert (back.x[0], back.y[0], back.z[0]) == (32 * 43 / 64, 16 * 43 / 64, 20 * 27 / 40)


def test_overrides_parse_as_yaml():
    assert parse_overrides(["min_probability=0.5", "exclude_classes=[vesicle, fiducial]",
                            "top_n=300", "fixed_threshold=null"]) == {
        "min_probability": 0.5, "exclude_classes": ["vesicle", "fiducial"], "top_n": 300,
        "fixed_threshold": None}


# --- refusals -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A DeepFinder checkpoint trained for 2 steps on a toy tomogram, and that tomogram."""
    root = tmp_path_factory.mktemp("pick")
    syn.synthetic_tomogram(root / "model_0", (32, 48, 48), {"5MRC": 5.0, "3QM1": 3.0}, 10,
                           seed=5, noise=0.3)
    tomogram = load_tomogram(syn.tomogram_paths(root / "model_0"))
    training = {"widths": [4, 8], "patch_voxels": 24, "batch_size": 2, "steps": 2,
                "validation_interval": 2, "validation_patches": 2}
    checkpoint, _ = train("deepfinder", training, [tomogram], [], seed=1)
    path = root / "checkpoint.pt"
    save_checkpoint(path, checkpoint)
    return path, checkpoint, root / "model_0" / "reconstruction.mrc"


def _refused(capsys, argv, *fragments, out=None):
    status = main(argv)
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2, error
    last = error[-1]
    assert last.startswith("tomobench pick: error: ") and "Traceback" not in "\n".join(error)
    for fragment in fragments:
        assert fragment in last, last
    if out is not None:
        assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
    return last


def test_checkpoint_records_its_voxel_size(tiny_checkpoint):
    _, checkpoint, _ = tiny_checkpoint
    assert checkpoint["voxel_size_nm"] == pytest.approx(1.0)


def test_pick_runs_on_a_toy_tomogram_and_writes_every_format(tiny_checkpoint, tmp_path, capsys):
    path, _, mrc = tiny_checkpoint
    for suffix in (".txt", ".star"):
        out = tmp_path / f"picks{suffix}"
        assert main(["pick", "--checkpoint", str(path), "--tomogram", str(mrc),
                     "--out", str(out), "--device", "cpu"]) == 0
        assert out.is_file()
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "picks.star").read_text().count("rlnCenteredCoordinateXAngst") == 1


def test_pick_refuses_bad_checkpoints(tiny_checkpoint, tmp_path, capsys):
    path, checkpoint, mrc = tiny_checkpoint
    out = tmp_path / "picks.txt"
    base = ["pick", "--tomogram", str(mrc), "--out", str(out), "--device", "cpu"]
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:4000])
    _refused(capsys, [*base, "--checkpoint", str(corrupt)], str(corrupt),
             "not a weights-only tomobench checkpoint", out=out)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    _refused(capsys, [*base, "--checkpoint", str(foreign)], str(foreign),
             "not a tomobench learning checkpoint", out=out)
    unknown = tmp_path / "unknown.pt"
    save_checkpoint(unknown, {**checkpoint, "kind": "crystal_ball"})
    _refused(capsys, [*base, "--checkpoint", str(unknown)], str(unknown),
             "unknown kind 'crystal_ball'", out=out)
    renamed = tmp_path / "renamed.pt"
    names = list(checkpoint["class_names"])
    save_checkpoint(renamed, {**checkpoint, "class_names": [names[0], names[2], names[1]]})
    _refused(capsys, [*base, "--checkpoint", str(renamed)], str(renamed),
             "class list does not match", out=out)
    extra = tmp_path / "extra_class.pt"
    save_checkpoint(extra, {**checkpoint, "class_ids": [*checkpoint["class_ids"],
                                                        CLASS_ID["vesicle"]],
                            "class_names": [*names, "vesicle"]})
    _refused(capsys, [*base, "--checkpoint", str(extra)], str(extra),
             "the weights do not fit a deepfinder network", out=out)
    _refused(capsys, [*base, "--checkpoint", str(path), "--classes", "4V94"],
             "--classes ['4V94'] do not match", out=out)
    _refused(capsys, [*base, "--checkpoint", str(path), "--set", "nonsense=1"],
             "unknown keys ['nonsense']", out=out)
    _refused(capsys, [*base, "--checkpoint", str(path), "--set", "patch_voxels=31"],
             "must be a multiple of 2", out=out)
    _refused(capsys, [*base, "--checkpoint", str(path), "--set", "overlap_voxels=2",
                      "--set", "patch_voxels=16"], "overlap 2 must cover twice the margin",
             out=out)


def test_pick_refuses_bad_tomograms(tiny_checkpoint, tmp_path, capsys):
    path, _, mrc = tiny_checkpoint
    out = tmp_path / "picks.txt"
    base = ["pick", "--checkpoint", str(path), "--out", str(out), "--device", "cpu"]
    volume = mrcfile.read(mrc)
    nan = tmp_path / "nan.mrc"
    write_mrc(nan, np.where(np.arange(volume.size).reshape(volume.shape) == 7, np.nan,
                            volume).astype(np.float32), 1.0)
    _refused(capsys, [*base, "--tomogram", str(nan)], str(nan), "1 voxels are NaN", out=out)
    headerless = tmp_path / "headerless.mrc"
    with mrcfile.new(headerless) as handle:
        handle.set_data(volume.astype(np.float32))
    _refused(capsys, [*base, "--tomogram", str(headerless)], str(headerless),
             "no voxel size", "--voxel-size-nm", out=out)
    small = tmp_path / "small.mrc"
    write_mrc(small, volume[:16].astype(np.float32), 1.0)
    _refused(capsys, [*base, "--tomogram", str(small)], str(small),
             "smaller than the network's input, (24, 24, 24)", out=out)
    # 2 nm voxels: resampled to (32, 48, 48) at 1 nm it is big enough; 3 nm voxels need 48
    assert main([*base, "--tomogram", str(headerless), "--voxel-size-nm", "2"]) == 0
    out.unlink()
    _refused(capsys, [*base, "--tomogram", str(small), "--voxel-size-nm", "1.4"],
             "at the picker's 1 nm: smaller than", out=out)
    not_mrc = tmp_path / "garbage.mrc"
    not_mrc.write_bytes(b"\0" * 100)
    _refused(capsys, [*base, "--tomogram", str(not_mrc)], str(not_mrc), out=out)
    _refused(capsys, [*base, "--tomogram", str(mrc), "--out", str(tmp_path / "p.csv")],
             "cannot tell the format")


def test_checkpoint_without_a_voxel_size_takes_it_from_the_flag_or_its_run(
        tiny_checkpoint, tmp_path, capsys):
    """Checkpoints written before they recorded ``voxel_size_nm``: the flag, or the run's
    ``tomograms.voxel_size_nm`` (with the run's inference keys) when it lies in its run."""
    import yaml

    _, checkpoint, mrc = tiny_checkpoint
    old = {k: v for k, v in checkpoint.items() if k != "voxel_size_nm"}
    loose = tmp_path / "old.pt"
    save_checkpoint(loose, old)
    out = tmp_path / "picks.txt"
    base = ["pick", "--tomogram", str(mrc), "--device", "cpu"]
    _refused(capsys, [*base, "--checkpoint", str(loose), "--out", str(out)], str(loose),
             "--trained-voxel-size-nm", out=out)
    assert main([*base, "--checkpoint", str(loose), "--out", str(out),
                 "--trained-voxel-size-nm", "1"]) == 0
    run = tmp_path / "results" / "mine"
    save_checkpoint(run / "models" / "DF" / "checkpoint.pt", old)
    config = {"tomograms": {"voxel_size_nm": 1.0},
              "methods": {"DF": {"kind": "deepfinder", "inference": {"patch_voxels": 31}}}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    # the run's inference keys apply: its (bad) patch size is refused
    _refused(capsys, [*base, "--run", str(run), "--method", "df", "--out", str(out)],
             "must be a multiple of 2")
    config["methods"]["DF"]["inference"] = {"patch_voxels": 32}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    in_run = tmp_path / "in_run.txt"
    assert main([*base, "--run", str(run), "--method", "df", "--out", str(in_run)]) == 0
    assert in_run.read_bytes() == out.read_bytes()
    config["methods"]["DF"]["kind"] = "mc_ds_net"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    _refused(capsys, [*base, "--checkpoint", str(run / "models" / "DF" / "checkpoint.pt"),
                      "--out", str(in_run)], "trained as 'deepfinder'", "is kind 'mc_ds_net'")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_pick_refuses_cuda_without_a_gpu(tiny_checkpoint, tmp_path, capsys):
    path, _, mrc = tiny_checkpoint
    out = tmp_path / "picks.txt"
    _refused(capsys, ["pick", "--checkpoint", str(path), "--tomogram", str(mrc), "--out",
                      str(out), "--device", "cuda"], "--device cuda", "no CUDA GPU", out=out)


def test_pick_refuses_a_missing_picker(tmp_path, capsys):
    _refused(capsys, ["pick", "--tomogram", "x.mrc", "--out", str(tmp_path / "p.txt")],
             "give --checkpoint FILE, or --run DIR with --method NAME")
    _refused(capsys, ["pick", "--run", str(tmp_path), "--method", "TM", "--tomogram", "x.mrc",
                      "--out", str(tmp_path / "p.txt")], "config.yaml: not found")


# --- reproduction on the tiny run (slow) ----------------------------------------------------


def _localisation_f1(truth_folder, picks_path, out, capsys) -> float:
    import json

    assert main(["evaluate", "--truth", str(truth_folder), "--picks", str(picks_path),
                 "--out", str(out), "--bootstrap-resamples", "0", "--no-plots"]) == 0
    capsys.readouterr()
    result = json.loads((out / f"{picks_path.stem}.json").read_text())
    return result["localization"]["F1"]


def _pick_resampled(run, method, folder, voxel_size_nm, tmp_path) -> Path:
    """Picks of ``method`` on the tomogram of ``folder`` Fourier-resampled to
    ``voxel_size_nm``, mapped back to its voxels (exact grid ratio per axis)."""
    from tomobench.particles import read_picks, write_picks

    volume = mrcfile.read(folder / "reconstruction.mrc")
    shape = tuple(round(n / voxel_size_nm) for n in volume.shape)  # the run has 1 nm voxels
    resampled = tmp_path / "resampled.mrc"
    write_mrc(resampled, fourier_resample(volume, shape), voxel_size_nm)
    out = tmp_path / "resampled_picks.txt"
    picker = (["--checkpoint", str(run / "models" / method / "checkpoint.pt")]
              if method.startswith(("Deep", "MC")) else ["--run", str(run), "--method", method])
    assert main(["pick", *picker, "--tomogram", str(resampled), "--out", str(out), "--device",
                 "cpu", "--acquisition", str(folder / "acquisition_parameters.json")]) == 0
    picks = read_picks(out)
    for axis, n, m in zip("zyx", volume.shape, shape, strict=True):
        picks[axis] = picks[axis] * n / m
    mapped = tmp_path / "mapped" / "resampled.txt"
    mapped.parent.mkdir()
    write_picks(mapped, picks)
    return mapped


@pytest.mark.slow
@pytest.mark.parametrize(("method", "voxel_size_nm"), [
    ("DeepFinder", 0.8), ("MC-DS-Net", 1.5), ("TM", 1.5), ("TM-F", 1.5)])
def test_pick_reproduces_the_workflow_and_survives_resampling(tiny_run, tmp_path, capsys,
                                                              method, voxel_size_nm):
    """The run's checkpoint (or TM recipe) on its test tomogram gives the workflow's picks byte
    for byte; on the tomogram Fourier-resampled to another voxel size, the picks mapped back
    score within 0.05 localisation F1 of the workflow's.

    MC-DS-Net (input_binning 2) and template matching (2 nm search) work at 2 nm, so 1.5 nm
    voxels lose nothing they see (as the default run's DeepFinder, binned to 2 nm). The test
    config's DeepFinder sees the 1 nm tomogram itself: it gets a finer one (0.8 nm), since a
    1.5 nm tomogram lacks the detail it was trained on (localisation F1 0.63 -> 0.53).
    """
    run = tiny_run / "results" / "test"
    folder = run / "data" / "model_2"
    reference = run / "picks" / method / "model_2.txt"
    out = tmp_path / "picks.txt"
    picker = (["--checkpoint", str(run / "models" / method / "checkpoint.pt")]
              if method.startswith(("Deep", "MC")) else ["--run", str(run), "--method", method])
    assert main(["pick", *picker, "--tomogram", str(folder / "reconstruction.mrc"), "--out",
                 str(out), "--device", "cpu"]) == 0
    assert out.read_bytes() == reference.read_bytes()
    if method.startswith("TM"):
        from tomobench.backend import cupy_available

        if not cupy_available():
            out.unlink()
            assert main(["pick", *picker, "--tomogram", str(folder / "reconstruction.mrc"),
                         "--out", str(out), "--device", "cuda"]) == 2 and not out.exists()

    mapped = _pick_resampled(run, method, folder, voxel_size_nm, tmp_path)
    original = _localisation_f1(folder, reference, tmp_path / "eval_original", capsys)
    resampled = _localisation_f1(folder, mapped, tmp_path / "eval_resampled", capsys)
    print(f"{method}: localisation F1 original {original:.4f}, {voxel_size_nm} nm "
          f"{resampled:.4f}")
    assert original > 0.2
    assert abs(resampled - original) <= 0.05, (original, resampled)


@pytest.mark.slow
def test_pick_reads_and_writes_copick(tiny_run, tmp_path, capsys):
    """A copick project exported from the tiny run: its tomogram picked by the run's
    checkpoint gives the workflow's picks (in Å at its voxel spacing) as copick points."""
    pytest.importorskip("copick")
    from tomobench.formats import copick_project
    from tomobench.particles import read_picks

    run = tiny_run / "results" / "test"
    project = tmp_path / "project"
    assert main(["export-copick", "--results", str(run), "--out", str(project),
                 "--tomograms", "model_2"]) == 0
    config = project / "copick_config.json"
    assert main(["pick", "--run", str(run), "--method", "DeepFinder", "--copick", str(config),
                 "--copick-run", "model_2", "--out", str(config), "--copick-user", "df-pick",
                 "--device", "cpu"]) == 2  # the export holds wbp and grandmodel: name one
    assert "--tomo-type" in capsys.readouterr().err
    assert main(["pick", "--run", str(run), "--method", "DeepFinder", "--copick", str(config),
                 "--copick-run", "model_2", "--tomo-type", "wbp", "--out", str(config),
                 "--copick-user", "df-pick", "--device", "cpu"]) == 0
    root = copick_project.open_project(config)
    ours = copick_project.load_picks(root, "model_2", "df-pick", None, 10.0)
    reference = read_picks(run / "picks" / "DeepFinder" / "model_2.txt")
    key = ["class_name", "x", "y", "z"]
    ours = ours.assign(**{a: ours[a].round() for a in "xyz"}).sort_values(key)
    assert ours[key].to_numpy().tolist() == reference.sort_values(key)[key].to_numpy().tolist()
    shutil.rmtree(project)
