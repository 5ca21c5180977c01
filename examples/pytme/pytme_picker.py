#!/usr/bin/env python3
"""pyTME (https://github.com/KosinskiLab/pyTME, PyPI ``pytme``) as a tomobench external picker.

Runs in pyTME's own environment (requirements.txt: ``pytme`` brings numpy, scipy, mrcfile);
it does not import tomobench. What it converts (docs/EXTERNAL_PICKERS.md has the manifest):

- **templates**: each protein's potential from the manifest (complex MRC, real part = volts at
  the simulation voxel size) is Fourier-cropped to the search voxel size (the tomogram's times
  ``PYTME_BINNING``) and written as an MRC template (``<model_dir>/templates/<PDB>.mrc``);
  pyTME inverts the tomogram's contrast (proteins are dark in tomobench's reconstructions, the
  potential is positive);
- **acquisition**: the tilt range of the tomogram's ``acquisition_parameters.json`` (when the
  manifest names one) becomes pyTME's continuous missing wedge (``--tilt-angles``, wedge axes
  z and y: tomobench tilts about y);
- **peaks**: ``pytme postprocess --output-format orientations`` (x, y, z voxels, score) of every
  class are merged: highest score first, a peak closer than ``overlap`` × its class radius to
  a kept one is dropped, then each class's score threshold (learned by ``train``) applies;
  the result is written as SHREC text ``<class> <x> <y> <z> <score>``.

    python pytme_picker.py train MANIFEST   # templates + per-class thresholds (validation)
    python pytme_picker.py pick MANIFEST    # SHREC picks to the manifest's output

Settings (environment variables, defaults in brackets): ``PYTME_ANGULAR_STEP`` [30] degrees,
``PYTME_LOWPASS_A`` [40] Å, ``PYTME_PEAKS`` [200] peaks per class, ``PYTME_OVERLAP`` [0.8],
``PYTME_BINNING`` [1]: search the tomogram Fourier-binned by this factor (templates at the
binned voxel size, peaks mapped back to tomogram voxels), as tomobench's TM searches at 2 nm.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mrcfile
import numpy as np

MODEL_FILE = "pytme_model.json"
SETTINGS = {
    "angular_step_deg": float(os.environ.get("PYTME_ANGULAR_STEP", 30)),
    "lowpass_A": float(os.environ.get("PYTME_LOWPASS_A", 40)),
    "peaks": int(os.environ.get("PYTME_PEAKS", 200)),
    "overlap": float(os.environ.get("PYTME_OVERLAP", 0.8)),
    "binning": int(os.environ.get("PYTME_BINNING", 1)),
}
#: pyTME's command-line entry point, installed beside this interpreter.
PYTME = [str(Path(sys.executable).parent / "pytme")]


def fourier_crop(volume: np.ndarray, factor: float) -> np.ndarray:
    """``volume`` (z, y, x) resampled to voxels ``factor`` times larger by cropping its
    centred spectrum (no aliasing); sizes become ``round(n / factor)``."""
    if abs(factor - 1.0) < 1e-6:
        return volume.astype(np.float32)
    spectrum = np.fft.fftshift(np.fft.fftn(volume))
    shape = [max(1, int(round(n / factor))) for n in volume.shape]
    # the zero frequency sits at n // 2 of the shifted spectrum and must land at m // 2
    crop = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m)
                 for n, m in zip(volume.shape, shape, strict=True))
    scale = np.prod(shape) / np.prod(volume.shape)
    out = np.fft.ifftn(np.fft.ifftshift(spectrum[crop])).real * scale
    return out.astype(np.float32)


def write_template(entry: dict, voxel_nm: float, folder: Path) -> Path:
    """The class's template at the tomogram voxel size (MRC, Å in the header)."""
    with mrcfile.open(entry["potential"], permissive=True) as handle:
        potential = np.real(np.asarray(handle.data))
    template = fourier_crop(potential, voxel_nm / entry["potential_voxel_size_nm"])
    path = folder / f"{entry['name']}.mrc"
    with mrcfile.new(path, overwrite=True) as handle:
        handle.set_data(template)
        handle.voxel_size = voxel_nm * 10.0
    return path


def tilt_range(tomogram: dict) -> str | None:
    """pyTME's continuous wedge ``"a,b"`` from the acquisition record, or None."""
    path = tomogram.get("acquisition")
    if not path or not Path(path).is_file():
        return None
    angles = json.loads(Path(path).read_text()).get("tilt_angles_deg")
    if not angles:
        return None
    return f"{abs(min(angles)):g},{abs(max(angles)):g}"


def binned_target(tomogram: dict, work: Path) -> str:
    """The tomogram to search: itself, or Fourier-binned by ``PYTME_BINNING`` into ``work``."""
    binning = SETTINGS["binning"]
    if binning == 1:
        return tomogram["path"]
    path = work / "binned_target.mrc"
    if not path.is_file():
        with mrcfile.open(tomogram["path"], permissive=True) as handle:
            volume = np.asarray(handle.data, dtype=np.float32)
        with mrcfile.new(path, overwrite=True) as handle:
            handle.set_data(fourier_crop(volume, binning))
            handle.voxel_size = tomogram["voxel_size_nm"] * binning * 10.0
    return str(path)


def match_class(tomogram: dict, template: Path, radius_vox: float, work: Path,
                threads: int) -> list[tuple[float, float, float, float]]:
    """pyTME's peaks ``(x, y, z, score)`` (tomogram voxels) of one template in one tomogram;
    ``radius_vox`` in voxels of the searched (binned) grid."""
    scores = work / f"{template.stem}.pickle"
    target = binned_target(tomogram, work)
    command = [*PYTME, "match", "-m", target, "-i", str(template), "-o", str(scores),
               "-a", f"{SETTINGS['angular_step_deg']:g}", "-n", str(threads),
               "--invert-target-contrast", "--lowpass", f"{SETTINGS['lowpass_A']:g}"]
    wedge = tilt_range(tomogram)
    if wedge:
        command += ["--tilt-angles", wedge, "--wedge-axes", "2,1"]
    subprocess.run(command, check=True)
    prefix = work / template.stem
    distance = max(2, int(round(radius_vox)))
    subprocess.run([*PYTME, "postprocess", "--input-file", str(scores), "--output-format",
                    "orientations", "--num-peaks", str(SETTINGS["peaks"]), "--min-distance",
                    str(distance), "--min-boundary-distance", str(distance // 2),
                    "--output-prefix", str(prefix)], check=True)
    scores.unlink()
    b = SETTINGS["binning"]
    with open(f"{prefix}.tsv") as handle:
        return [(b * float(r["x"]), b * float(r["y"]), b * float(r["z"]), float(r["score"]))
                for r in csv.DictReader(handle, delimiter="\t")]


def proteins(manifest: dict) -> list[dict]:
    return [c for c in manifest["classes"] if c["kind"] == "protein" and c.get("potential")]


def candidates(manifest: dict, tomogram: dict, templates: Path, work: Path):
    """Merged peaks of every class: ``[(class, x, y, z, score)]``, best first."""
    work.mkdir(parents=True, exist_ok=True)
    voxel_nm = tomogram["voxel_size_nm"]
    radius = {c["name"]: c["radius_nm"] / voxel_nm for c in proteins(manifest)}
    peaks = []
    for entry in proteins(manifest):
        template = templates / f"{entry['name']}.mrc"
        for x, y, z, score in match_class(tomogram, template,
                                          radius[entry["name"]] / SETTINGS["binning"], work,
                                          manifest["threads"]):
            peaks.append((entry["name"], x, y, z, score))
    peaks.sort(key=lambda p: -p[4])
    kept = []
    for peak in peaks:
        point = np.array(peak[1:4])
        if all(np.linalg.norm(point - np.array(k[1:4])) >= SETTINGS["overlap"] * radius[peak[0]]
               for k in kept):
            kept.append(peak)
    return kept


def tomogram_of(folder: str, model: dict) -> dict:
    path = Path(folder, "reconstruction.mrc")
    with mrcfile.open(path, header_only=True, permissive=True) as handle:
        voxel_nm = float(handle.voxel_size.x) / 10.0
    acquisition = Path(folder, "acquisition_parameters.json")
    return {"name": model["name"], "path": str(path), "voxel_size_nm": voxel_nm,
            "acquisition": str(acquisition) if acquisition.is_file() else None}


def truth(folder: str, names: set[str]):
    rows = [line.split() for line in Path(folder, "particle_locations.txt").read_text()
            .splitlines()]
    rows = [r for r in rows if len(r) >= 4 and r[0] in names]
    return np.array([[float(v) for v in r[1:4]] for r in rows]).reshape(-1, 3), \
        [r[0] for r in rows]


def train(manifest: dict) -> None:
    """Templates, then each class's threshold maximising hits − false picks on the
    validation tomograms."""
    model_dir = Path(manifest["model_dir"])
    templates = model_dir / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    folders = manifest["validation"] or manifest["training"][:1]
    first = tomogram_of(folders[0]["folder"], folders[0])
    for entry in proteins(manifest):
        write_template(entry, first["voxel_size_nm"] * SETTINGS["binning"], templates)
    names = {c["name"] for c in proteins(manifest)}
    radius_nm = {c["name"]: c["radius_nm"] for c in proteins(manifest)}
    scored = {name: [] for name in names}
    for folder in folders:
        tomogram = tomogram_of(folder["folder"], folder)
        centres, classes = truth(folder["folder"], names)
        for name, x, y, z, score in candidates(manifest, tomogram, templates,
                                               model_dir / "work" / folder["name"]):
            distance = np.linalg.norm(centres - np.array([x, y, z]), axis=1)
            radii = np.array([radius_nm[c] for c in classes]) / tomogram["voxel_size_nm"]
            scored[name].append((score, bool(np.any(distance <= radii))))
    thresholds = {}
    for name, values in scored.items():
        values.sort()
        best, best_gain = float("inf"), 0
        for k, (score, _) in enumerate(values):
            gain = sum(1 if hit else -1 for _, hit in values[k:])
            if gain > best_gain:
                best, best_gain = score, gain
        thresholds[name] = best
    model = {"settings": SETTINGS, "thresholds": thresholds,
             "voxel_size_nm": first["voxel_size_nm"]}
    (model_dir / MODEL_FILE).write_text(json.dumps(model, indent=1) + "\n")
    shutil.rmtree(model_dir / "work")
    print("trained:", json.dumps(model))


def pick(manifest: dict) -> None:
    model_dir = Path(manifest["model_dir"])
    model = json.loads((model_dir / MODEL_FILE).read_text())
    SETTINGS.update(model["settings"])  # search as trained
    lines = []
    for tomogram in manifest["tomograms"]:
        if abs(tomogram["voxel_size_nm"] - model["voxel_size_nm"]) > 1e-6:
            raise SystemExit(f"{tomogram['path']}: voxel size {tomogram['voxel_size_nm']} nm, "
                             f"templates are {model['voxel_size_nm']} nm")
        work = Path(manifest["output"]).parent / f"pytme_{tomogram['name']}"
        for name, x, y, z, score in candidates(manifest, tomogram, model_dir / "templates",
                                               work):
            if score >= model["thresholds"][name]:
                lines.append(f"{name} {int(round(x))} {int(round(y))} {int(round(z))} "
                             f"{score:.5f}\n")
        shutil.rmtree(work)
    Path(manifest["output"]).write_text("".join(lines))
    print(f"{len(lines)} picks -> {manifest['output']}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("train", "pick"):
        raise SystemExit("usage: pytme_picker.py train|pick MANIFEST")
    job = json.loads(Path(sys.argv[2]).read_text())
    (train if sys.argv[1] == "train" else pick)(job)
